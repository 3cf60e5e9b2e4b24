import type BetterSqlite3 from 'better-sqlite3';
import { counterIncrements } from '../store/counters.js';
import { indexTokens } from '../store/search-terms.js';
import { workspaceTag } from '../store/sqlite/search.js';
import type { BulkLoader, BulkLoadOptions, BulkWorkspace } from './bulk-load.js';
import {
  type BulkConversation,
  CONVERSATION_COLUMNS,
  type Column,
  MESSAGE_COLUMNS,
  type MessageRow,
  TOOL_COLUMNS,
  type ToolRow,
  type Value,
} from './rows.js';

/** Prefixes each space-separated token with the workspace tag (the layout of store/sqlite/search.ts). */
function tagged(tag: string, tokens: string): string {
  return tokens.length === 0 ? '' : `${tag}_${tokens.replaceAll(' ', ` ${tag}_`)}`;
}

/**
 * A prepared one-row INSERT bound from the caller's objects through one reused parameter array.
 * Measured against multi-row statements of 64 and 256 rows on the seed data: one row per
 * statement took the least CPU per message (27.5 µs against 32-34), so the load uses it.
 */
class RowInsert<R> {
  private readonly stmt: BetterSqlite3.Statement;
  private readonly params: Value[];

  constructor(
    db: BetterSqlite3.Database,
    table: string,
    private readonly columns: ReadonlyArray<Column<R>>,
  ) {
    this.stmt = db.prepare(
      `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    );
    this.params = new Array(columns.length);
  }

  /** Writes the row; returns its rowid. */
  run(row: R): number {
    const cols = this.columns;
    for (let k = 0; k < cols.length; k++) this.params[k] = (cols[k] as Column<R>).of(row);
    return Number(this.stmt.run(this.params).lastInsertRowid);
  }
}

/** A full-text row: rowid, the conversation's rowid (messages only), the tagged tokens. */
type FtsRow = [number, number, string];
const MESSAGE_FTS: ReadonlyArray<Column<FtsRow>> = [
  { name: 'rowid', pg: 'bigint', of: (r) => r[0] },
  { name: 'conv', pg: 'bigint', of: (r) => r[1] },
  { name: 'body', pg: 'text', of: (r) => r[2] },
];
const TITLE_FTS: ReadonlyArray<Column<FtsRow>> = [MESSAGE_FTS[0] as Column<FtsRow>, MESSAGE_FTS[2] as Column<FtsRow>];

/** The tables a load writes; their secondary indexes are the ones set aside into empty tables. */
const LOADED_TABLES = ['conversations', 'messages', 'tool_invocations'];
/**
 * Bulk loader for SQLite: prepared statements bound without per-row allocation, one transaction
 * per batch, each row's full-text entry written with it from tokens analyzed off this thread (the
 * generator's), counters added once per batch. Into empty tables the secondary indexes are
 * dropped and rebuilt by finish() from their own definitions, read back from the schema. FTS5
 * keeps its own settings: a larger pending-terms hash with merging held off until the end
 * measured no less CPU, and would leave the index unmerged for the searches after the load.
 */
export class SqliteBulkLoader implements BulkLoader {
  private readonly ins: {
    ws: BetterSqlite3.Statement;
    conv: RowInsert<BulkConversation>;
    msg: RowInsert<MessageRow>;
    tool: RowInsert<ToolRow>;
    msgFts: RowInsert<FtsRow>;
    titleFts: RowInsert<FtsRow>;
    counter: BetterSqlite3.Statement;
  };
  private readonly tags = new Map<string, string>();
  private readonly previous: { synchronous: number; cacheSize: number };
  /** Index definitions dropped for the load, recreated by finish(). */
  private deferred: string[] = [];

  static async open(db: BetterSqlite3.Database, opts: BulkLoadOptions): Promise<SqliteBulkLoader> {
    const empty = db.prepare('SELECT NOT EXISTS (SELECT 1 FROM messages) AS e').get() as { e: number };
    return new SqliteBulkLoader(db, opts.deferIndexes ?? empty.e === 1);
  }

  private constructor(
    private readonly db: BetterSqlite3.Database,
    defer: boolean,
  ) {
    // load-time settings for this connection only; the server's other connections keep theirs
    this.previous = {
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      cacheSize: Number(db.pragma('cache_size', { simple: true })),
    };
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    if (defer) this.setAside();
    this.ins = {
      ws: db.prepare('INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?, ?, ?)'),
      conv: new RowInsert(db, 'conversations', CONVERSATION_COLUMNS),
      msg: new RowInsert(db, 'messages', MESSAGE_COLUMNS),
      tool: new RowInsert(db, 'tool_invocations', TOOL_COLUMNS),
      msgFts: new RowInsert(db, 'message_idx', MESSAGE_FTS),
      titleFts: new RowInsert(db, 'title_idx', TITLE_FTS),
      counter: db.prepare(`INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)
        ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`),
    };
  }

  /** Drops the loaded tables' secondary indexes (not the ones behind their keys). */
  private setAside(): void {
    const rows = this.db
      .prepare(
        `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
         AND tbl_name IN (${LOADED_TABLES.map(() => '?').join(', ')})`,
      )
      .all(...LOADED_TABLES) as Array<{ name: string; sql: string }>;
    this.db.transaction(() => {
      for (const r of rows) {
        this.db.exec(`DROP INDEX "${r.name.replaceAll('"', '""')}"`);
        this.deferred.push(r.sql);
      }
    })();
  }

  private tagOf(workspaceId: string): string {
    let tag = this.tags.get(workspaceId);
    if (tag === undefined) {
      const r = this.db.prepare('SELECT rowid AS r FROM workspaces WHERE id = ?').get(workspaceId) as
        | { r: number }
        | undefined;
      if (!r) throw new Error(`bulk load: workspace ${workspaceId} was not written`);
      tag = workspaceTag(r.r);
      this.tags.set(workspaceId, tag);
    }
    return tag;
  }

  async workspaces(rows: readonly BulkWorkspace[]): Promise<void> {
    this.db.transaction(() => {
      for (const w of rows) this.ins.ws.run(w.id, w.name, w.createdAt);
    })();
  }

  async write(batch: readonly BulkConversation[]): Promise<number> {
    let messages = 0;
    const fts: FtsRow = [0, 0, ''];
    this.db.transaction(() => {
      for (const c of batch) {
        const tag = this.tagOf(c.workspaceId);
        const conv = this.ins.conv.run(c);
        if (c.title !== null) {
          fts[0] = conv;
          fts[2] = tagged(tag, c.titleTokens ?? indexTokens(c.title).join(' '));
          this.ins.titleFts.run(fts);
        }
        fts[1] = conv;
        for (const m of c.messages) {
          fts[0] = this.ins.msg.run({ c, m });
          fts[2] = tagged(tag, m.tokens ?? indexTokens(m.content).join(' '));
          this.ins.msgFts.run(fts);
        }
        for (const t of c.tools) this.ins.tool.run({ c, t });
        messages += c.messages.length;
      }
      for (const k of counterIncrements(batch)) this.ins.counter.run(k.workspaceId, k.name, k.value);
    })();
    return messages;
  }

  async finish(): Promise<void> {
    try {
      this.db.transaction(() => {
        for (const sql of this.deferred) this.db.exec(sql);
        this.deferred = [];
      })();
      this.db.exec('ANALYZE');
    } finally {
      this.db.pragma(`synchronous = ${this.previous.synchronous}`);
      this.db.pragma(`cache_size = ${this.previous.cacheSize}`);
    }
  }
}
