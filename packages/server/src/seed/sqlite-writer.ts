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
  messageRows,
  TOOL_COLUMNS,
  toolRows,
  type Value,
} from './rows.js';

/** Prefixes each space-separated token with the workspace tag (the layout of store/sqlite/search.ts). */
function tagged(tag: string, tokens: string): string {
  return tokens.length === 0 ? '' : `${tag}_${tokens.replaceAll(' ', ` ${tag}_`)}`;
}

/** Bound parameters per multi-row statement (SQLite allows 32,766; a few thousand is where the gain flattens). */
const PARAMS_PER_STATEMENT = 4000;

/**
 * A multi-row INSERT for a table: `rows` rows per statement, the remainder through a one-row
 * statement. Returns the rowids of the rows it wrote, in order (a rowid table without
 * AUTOINCREMENT gives each new row max(rowid)+1, so one statement's rows are consecutive).
 */
class MultiInsert<R> {
  private readonly many: BetterSqlite3.Statement;
  private readonly one: BetterSqlite3.Statement;
  private readonly perStatement: number;

  constructor(
    db: BetterSqlite3.Database,
    head: string,
    private readonly columns: ReadonlyArray<Column<R>>,
  ) {
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    this.perStatement = Math.max(1, Math.floor(PARAMS_PER_STATEMENT / columns.length));
    this.many = db.prepare(`${head} VALUES ${Array(this.perStatement).fill(tuple).join(', ')}`);
    this.one = db.prepare(`${head} VALUES ${tuple}`);
  }

  /** Writes the rows; `firstRowid` receives the rowid of each row (when asked). */
  run(rows: readonly R[], rowids?: number[]): void {
    const n = this.columns.length;
    const params: Value[] = new Array(this.perStatement * n);
    let i = 0;
    for (; i + this.perStatement <= rows.length; i += this.perStatement) {
      let k = 0;
      for (let j = i; j < i + this.perStatement; j++) {
        const row = rows[j] as R;
        for (const col of this.columns) params[k++] = col.of(row);
      }
      const r = this.many.run(params);
      if (rowids) {
        const last = Number(r.lastInsertRowid);
        for (let j = this.perStatement - 1; j >= 0; j--) rowids.push(last - j);
      }
    }
    for (; i < rows.length; i++) {
      const row = rows[i] as R;
      const r = this.one.run(this.columns.map((c) => c.of(row)));
      rowids?.push(Number(r.lastInsertRowid));
    }
  }
}

/** A multi-row INSERT of plain value tuples (the full-text rows). */
class TupleInsert {
  private readonly many: BetterSqlite3.Statement;
  private readonly one: BetterSqlite3.Statement;
  private readonly perStatement: number;

  constructor(
    db: BetterSqlite3.Database,
    head: string,
    private readonly width: number,
  ) {
    const tuple = `(${Array(width).fill('?').join(', ')})`;
    this.perStatement = Math.max(1, Math.floor(PARAMS_PER_STATEMENT / width));
    this.many = db.prepare(`${head} VALUES ${Array(this.perStatement).fill(tuple).join(', ')}`);
    this.one = db.prepare(`${head} VALUES ${tuple}`);
  }

  /** `values` holds `width` values per row, flat. */
  run(values: Value[]): void {
    const step = this.perStatement * this.width;
    let i = 0;
    for (; i + step <= values.length; i += step) this.many.run(values.slice(i, i + step));
    for (; i < values.length; i += this.width) this.one.run(values.slice(i, i + this.width));
  }
}

const head = <R>(table: string, columns: ReadonlyArray<Column<R>>) =>
  `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')})`;

/** The tables a load writes; their secondary indexes are the ones set aside into empty tables. */
const LOADED_TABLES = ['conversations', 'messages', 'tool_invocations'];
const FTS_TABLES = ['message_idx', 'title_idx'];
/** FTS5 options changed for a load into empty tables: [name, FTS5's default, value while loading]. */
const FTS_LOAD_SETTINGS: ReadonlyArray<[string, number, number]> = [
  ['automerge', 4, 0],
  ['hashsize', 1048576, 64 * 1048576],
];

/**
 * Bulk loader for SQLite: multi-row prepared INSERTs, one transaction per batch, full-text rows
 * written in bulk from tokens analyzed off this thread, counters added once per batch. Into
 * empty tables the secondary indexes are dropped and rebuilt by finish() (from their own
 * definitions, read back from the schema), and the full-text tables buffer far more before
 * writing a segment and merge nothing until the end.
 */
export class SqliteBulkLoader implements BulkLoader {
  private readonly ins: {
    ws: BetterSqlite3.Statement;
    conv: MultiInsert<BulkConversation>;
    msg: MultiInsert<ReturnType<typeof messageRows>[number]>;
    tool: MultiInsert<ReturnType<typeof toolRows>[number]>;
    msgFts: TupleInsert;
    titleFts: TupleInsert;
    counter: BetterSqlite3.Statement;
  };
  private readonly tags = new Map<string, string>();
  private readonly previous: { synchronous: number; cacheSize: number };
  /** Index definitions dropped for the load, recreated by finish(). */
  private deferred: string[] = [];
  /** Full-text settings changed for the load, restored by finish(). */
  private ftsRestore: Array<[string, string, number]> = [];

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
      conv: new MultiInsert(db, head('conversations', CONVERSATION_COLUMNS), CONVERSATION_COLUMNS),
      msg: new MultiInsert(db, head('messages', MESSAGE_COLUMNS), MESSAGE_COLUMNS),
      tool: new MultiInsert(db, head('tool_invocations', TOOL_COLUMNS), TOOL_COLUMNS),
      msgFts: new TupleInsert(db, 'INSERT INTO message_idx (rowid, conv, body)', 3),
      titleFts: new TupleInsert(db, 'INSERT INTO title_idx (rowid, body)', 2),
      counter: db.prepare(`INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)
        ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`),
    };
  }

  /** Drops the loaded tables' secondary indexes and makes the full-text tables merge at the end only. */
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
      for (const t of FTS_TABLES) {
        // a segment per ~64 MB of pending terms instead of per ~1 MB, and no merging while loading
        for (const [name, fallback, value] of FTS_LOAD_SETTINGS) {
          const now = this.db.prepare(`SELECT v FROM ${t}_config WHERE k = ?`).get(name) as { v: number } | undefined;
          this.ftsRestore.push([t, name, now === undefined ? fallback : Number(now.v)]);
          this.ftsOption(t, name, value);
        }
      }
    })();
  }

  /** FTS5 takes an option's value as an integer only (a bound JavaScript number is a REAL to SQLite). */
  private ftsOption(table: string, name: string, value: number): void {
    this.db.prepare(`INSERT INTO ${table} (${table}, rank) VALUES (?, ?)`).run(name, BigInt(Math.trunc(value)));
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
    const messages = messageRows(batch);
    const tools = toolRows(batch);
    this.db.transaction(() => {
      const convRowids: number[] = [];
      this.ins.conv.run(batch, convRowids);
      const msgRowids: number[] = [];
      this.ins.msg.run(messages, msgRowids);
      if (tools.length > 0) this.ins.tool.run(tools);

      const titles: Value[] = [];
      const convRowid = new Map<BulkConversation, number>();
      batch.forEach((c, i) => {
        const rowid = convRowids[i] as number;
        convRowid.set(c, rowid);
        if (c.title !== null) {
          titles.push(rowid, tagged(this.tagOf(c.workspaceId), c.titleTokens ?? indexTokens(c.title).join(' ')));
        }
      });
      this.ins.titleFts.run(titles);
      const bodies: Value[] = [];
      messages.forEach((r, i) => {
        bodies.push(
          msgRowids[i] as number,
          convRowid.get(r.c) as number,
          tagged(this.tagOf(r.c.workspaceId), r.m.tokens ?? indexTokens(r.m.content).join(' ')),
        );
      });
      this.ins.msgFts.run(bodies);
      for (const k of counterIncrements(batch)) this.ins.counter.run(k.workspaceId, k.name, k.value);
    })();
    return messages.length;
  }

  async finish(): Promise<void> {
    try {
      this.db.transaction(() => {
        for (const sql of this.deferred) this.db.exec(sql);
        this.deferred = [];
        for (const [t, name, value] of this.ftsRestore) {
          this.ftsOption(t, name, value);
        }
        this.ftsRestore = [];
      })();
      this.db.exec('ANALYZE');
    } finally {
      this.db.pragma(`synchronous = ${this.previous.synchronous}`);
      this.db.pragma(`cache_size = ${this.previous.cacheSize}`);
    }
  }
}
