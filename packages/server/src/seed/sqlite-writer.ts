import type BetterSqlite3 from 'better-sqlite3';
import { counterIncrements } from '../store/counters.js';
import { indexTokens } from '../store/search-terms.js';
import { workspaceTag } from '../store/sqlite/search.js';
import type { SeedConversation } from './generator.js';
import type { SeedWriter } from './writer.js';

/** Prefixes each space-separated token with the workspace tag (the layout of store/sqlite/search.ts). */
function tagged(tag: string, tokens: string): string {
  return tokens.length === 0 ? '' : `${tag}_${tokens.replaceAll(' ', ` ${tag}_`)}`;
}

/**
 * Bulk writer for SQLite: prepared statements, one transaction per batch, the full-text index
 * filled from the batch's rows, counters added once per batch. Same rows as the API would write.
 */
export class SqliteSeedWriter implements SeedWriter {
  private readonly ins: {
    ws: BetterSqlite3.Statement;
    conv: BetterSqlite3.Statement;
    msg: BetterSqlite3.Statement;
    tool: BetterSqlite3.Statement;
    msgFts: BetterSqlite3.Statement;
    titleFts: BetterSqlite3.Statement;
    counter: BetterSqlite3.Statement;
  };

  private readonly previousSync: number;
  private readonly tags = new Map<string, string>();

  private tagOf(workspaceId: string): string {
    let tag = this.tags.get(workspaceId);
    if (tag === undefined) {
      const r = this.db.prepare('SELECT rowid AS r FROM workspaces WHERE id = ?').get(workspaceId) as
        | { r: number }
        | undefined;
      if (!r) throw new Error(`seed: workspace ${workspaceId} was not written`);
      tag = workspaceTag(r.r);
      this.tags.set(workspaceId, tag);
    }
    return tag;
  }

  constructor(private readonly db: BetterSqlite3.Database) {
    // bulk-load settings for this connection only; the server's own connections keep theirs
    this.previousSync = Number(db.pragma('synchronous', { simple: true }));
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    this.ins = {
      ws: db.prepare('INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?, ?, ?)'),
      conv: db.prepare(`INSERT INTO conversations (workspace_id, id, user_id, bot_id, title, title_source, contact_id,
        deal_id, matter_id, context_extra, metadata, archived, message_count, tool_invocation_count, last_message_at,
        created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'auto', ?, ?, ?, '{}', '{}', ?, ?, ?, ?, ?, ?)`),
      msg: db.prepare(`INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
        VALUES (?, ?, ?, ?, ?, '{}', ?)`),
      tool: db.prepare(`INSERT INTO tool_invocations (workspace_id, conversation_id, id, message_id, tool_name, input,
        output, status, started_at, finished_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'succeeded', ?, ?, ?, ?)`),
      msgFts: db.prepare('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)'),
      titleFts: db.prepare('INSERT INTO title_idx (rowid, body) VALUES (?, ?)'),
      counter: db.prepare(`INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)
        ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`),
    };
  }

  async workspaces(ids: string[], createdAt: number): Promise<void> {
    this.db.transaction(() => {
      ids.forEach((id, i) => {
        this.ins.ws.run(id, `seed workspace ${i + 1}`, createdAt);
      });
    })();
  }

  /** Writes a batch in one transaction; returns messages written. */
  async write(batch: SeedConversation[]): Promise<number> {
    let messages = 0;
    this.db.transaction(() => {
      for (const c of batch) {
        const r = this.ins.conv.run(
          c.workspaceId,
          c.id,
          c.userId,
          c.botId,
          c.title,
          c.contactId,
          c.dealId,
          c.matterId,
          c.archived ? 1 : 0,
          c.messages.length,
          c.tools.length,
          c.lastMessageAt,
          c.createdAt,
          c.updatedAt,
        );
        const tag = this.tagOf(c.workspaceId);
        this.ins.titleFts.run(r.lastInsertRowid, tagged(tag, c.titleTokens ?? indexTokens(c.title).join(' ')));
        for (const m of c.messages) {
          const mr = this.ins.msg.run(c.workspaceId, c.id, m.id, m.role, m.content, m.createdAt);
          this.ins.msgFts.run(
            mr.lastInsertRowid,
            r.lastInsertRowid,
            tagged(tag, m.tokens ?? indexTokens(m.content).join(' ')),
          );
        }
        for (const t of c.tools) {
          this.ins.tool.run(
            c.workspaceId,
            c.id,
            t.id,
            t.messageId,
            t.toolName,
            t.input,
            t.output,
            t.startedAt,
            t.finishedAt,
            t.startedAt,
            t.finishedAt,
          );
        }
        messages += c.messages.length;
      }
      for (const k of counterIncrements(batch)) this.ins.counter.run(k.workspaceId, k.name, k.value);
    })();
    return messages;
  }

  async finish(): Promise<void> {
    this.db.pragma(`synchronous = ${this.previousSync}`);
  }
}
