/**
 * The SQL the scale scenarios' peers run: the statements Parley's store issues for the same
 * request, written out once per engine. The raw peer calls these in a loop (no HTTP); the
 * node:http peer calls them behind bare routing and key auth. One implementation, so both peers
 * run the same SQL.
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { literalTerms } from '../../packages/server/src/store/search-terms.js';
import { fts5Query, workspaceTag } from '../../packages/server/src/store/sqlite/search.js';

export interface Db {
  engine: 'sqlite' | 'postgres';
  all(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params: unknown[]): Promise<number>;
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** SQLite: the workspace's search-index tag (its rowid in base 36, see store/sqlite/search.ts). */
  searchTag?(workspaceId: string): string;
}

function workspaceTagOf(db: Db, ws: string): string {
  if (!db.searchTag) throw new Error('searchTag is SQLite-only');
  return db.searchTag(ws);
}

export function openDb(databaseUrl: string): Db {
  if (databaseUrl.startsWith('sqlite:')) {
    const raw = new BetterSqlite3(databaseUrl.replace(/^sqlite:(\/\/)?/, ''));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
    const cache = new Map<string, BetterSqlite3.Statement>();
    const stmt = (s: string) => {
      let p = cache.get(s);
      if (!p) {
        p = raw.prepare(s);
        cache.set(s, p);
      }
      return p;
    };
    let lock: Promise<void> = Promise.resolve();
    const db: Db = {
      engine: 'sqlite',
      searchTag: (ws) => {
        const r = stmt('SELECT rowid AS r FROM workspaces WHERE id = ?').get(ws) as { r: number } | undefined;
        return workspaceTag(r?.r ?? 0);
      },
      all: async (s, p) => stmt(s).all(...p) as Record<string, unknown>[],
      run: async (s, p) => stmt(s).run(...p).changes,
      async tx(fn) {
        // ops await between statements, so concurrent callers queue for the one writer, as
        // Parley's SqliteStore does
        const run = lock.then(async () => {
          raw.exec('BEGIN IMMEDIATE');
          try {
            const r = await fn(db);
            raw.exec('COMMIT');
            return r;
          } catch (err) {
            raw.exec('ROLLBACK');
            throw err;
          }
        });
        lock = run.then(
          () => undefined,
          () => undefined,
        );
        return run;
      },
      close: async () => {
        raw.close();
      },
    };
    return db;
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // BIGINT and count(*) as numbers, as Parley's pool does
  pg.types.setTypeParser(20, (v) => Number(v));
  const numbered = (s: string) => {
    let i = 0;
    return s.replace(/\?/g, () => `$${++i}`);
  };
  const on = (c: pg.Pool | pg.PoolClient): Db => ({
    engine: 'postgres',
    all: async (s, p) => (await c.query({ text: numbered(s), values: p })).rows,
    run: async (s, p) => (await c.query({ text: numbered(s), values: p })).rowCount ?? 0,
    async tx(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const r = await fn(on(client));
        await client.query('COMMIT');
        return r;
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  });
  return on(pool);
}

const COLS = `c.workspace_id, c.id, c.user_id, c.bot_id, c.title, c.title_source, c.contact_id, c.deal_id,
  c.matter_id, c.context_extra, c.metadata, c.archived, c.message_count, c.tool_invocation_count,
  c.last_message_at, c.created_at, c.updated_at`;
const TOTAL_CAP = 10_000;

/** The search condition Parley's SearchIndex builds (see store/{sqlite,postgres}/search.ts). */
function searchCondition(db: Db, ws: string, text: string): { sql: string; params: unknown[] } {
  if (db.engine === 'sqlite') {
    // the workspace's tag is its rowid in base 36 (store/sqlite/search.ts); resolved per call by the caller's SQL
    const tag = workspaceTagOf(db, ws);
    const q = fts5Query(tag, text) ?? '""';
    return {
      sql: `(c.rowid IN (SELECT rowid FROM title_idx WHERE title_idx MATCH ?)
        OR c.id IN (SELECT m.conversation_id FROM message_idx f JOIN messages m ON m.rowid = f.rowid
                    WHERE message_idx MATCH ? AND m.workspace_id = ?))`,
      params: [q, q, ws],
    };
  }
  const terms = literalTerms(text);
  const tsq = terms.map(() => 'parley_term_query(?::text, ?::boolean)').join(' && ') || `''::tsquery`;
  const tp = terms.flatMap((t) => [t.words.join(' '), t.prefix]);
  return {
    sql: `(c.id IN (SELECT t.id FROM conversations t
        WHERE t.workspace_id = ? AND t.title IS NOT NULL AND parley_tsv(t.title) @@ (${tsq}))
      OR c.id IN (SELECT m.conversation_id FROM messages m
        WHERE m.workspace_id = ? AND parley_tsv(m.content) @@ (${tsq})))`,
    params: [ws, ...tp, ws, ...tp],
  };
}

async function counterTotal(db: Db, ws: string): Promise<number> {
  const rows = await db.all(`SELECT name, value FROM counters WHERE workspace_id = ? AND name IN (?, ?)`, [
    ws,
    'all',
    'archived',
  ]);
  const get = (n: string) => Number(rows.find((r) => r.name === n)?.value ?? 0);
  return get('all') - get('archived');
}

export interface ListArgs {
  ws: string;
  perPage: number;
  search?: string;
  after?: { v: number; i: string };
  offset?: number;
}

/** GET /v1/conversations: page by updated_at desc (keyset or OFFSET), search filter, meta.total. */
export async function listOp(db: Db, a: ListArgs): Promise<{ items: Record<string, unknown>[]; total: number }> {
  const where = ['c.workspace_id = ?', 'c.archived = 0'];
  const params: unknown[] = [a.ws];
  if (a.search !== undefined) {
    const s = searchCondition(db, a.ws, a.search);
    where.push(s.sql);
    params.push(...s.params);
  }
  const filterParams = [...params];
  if (a.after) {
    where.push('(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))');
    params.push(a.after.v, a.after.v, a.after.i);
  }
  let sqlText = `SELECT ${COLS} FROM conversations c WHERE ${where.join(' AND ')}
    ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`;
  params.push(a.perPage + 1);
  if (a.offset) {
    sqlText += ' OFFSET ?';
    params.push(a.offset);
  }
  const rows = await db.all(sqlText, params);
  let total: number;
  if (a.search === undefined) total = await counterTotal(db, a.ws);
  else {
    const filterWhere = where.slice(0, 3).join(' AND ');
    const r = await db.all(
      `SELECT count(*) AS n FROM (SELECT c.id FROM conversations c WHERE ${filterWhere} LIMIT ?) t`,
      [...filterParams, TOTAL_CAP + 1],
    );
    total = Math.min(TOTAL_CAP, Number(r[0]?.n ?? 0));
  }
  return { items: rows.slice(0, a.perPage), total };
}

export async function totalOp(db: Db, a: { ws: string }): Promise<{ total: number }> {
  return { total: await counterTotal(db, a.ws) };
}

const counterNames = (userId: unknown, botId: unknown, archived: boolean) => {
  const names = archived ? ['archived'] : ['all'];
  if (userId !== null) names.push(archived ? `user_archived:${userId}` : `user:${userId}`);
  if (botId !== null) names.push(archived ? `bot_archived:${botId}` : `bot:${botId}`);
  return names;
};

async function bump(db: Db, ws: string, names: string[], delta: number): Promise<void> {
  for (const name of names) {
    await db.run(
      `INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)
       ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`,
      [ws, name, delta],
    );
  }
}

/** DELETE /v1/conversations/{id}: derived rows first, then the rows, counters, an audit event. */
export async function deleteOp(db: Db, a: { ws: string; id: string; auditId: string }): Promise<{ deleted: number }> {
  return db.tx(async (t) => {
    const conv = (
      await t.all(
        `SELECT user_id, bot_id, archived, title FROM conversations ${t.engine === 'postgres' ? 'AS c' : ''}
         WHERE workspace_id = ? AND id = ?${t.engine === 'postgres' ? ' FOR UPDATE' : ''}`,
        [a.ws, a.id],
      )
    )[0];
    if (!conv) return { deleted: 0 };
    if (t.engine === 'sqlite') {
      await t.run(
        `INSERT INTO message_fts (message_fts, rowid, content) SELECT 'delete', rowid, content FROM messages
         WHERE workspace_id = ? AND conversation_id = ?`,
        [a.ws, a.id],
      );
      await t.run(
        `INSERT INTO title_fts (title_fts, rowid, title) SELECT 'delete', rowid, title FROM conversations
         WHERE workspace_id = ? AND id = ? AND title IS NOT NULL`,
        [a.ws, a.id],
      );
    }
    const tools = await t.run('DELETE FROM tool_invocations WHERE workspace_id = ? AND conversation_id = ?', [
      a.ws,
      a.id,
    ]);
    const msgs = await t.run('DELETE FROM messages WHERE workspace_id = ? AND conversation_id = ?', [a.ws, a.id]);
    await t.run('DELETE FROM conversation_events WHERE workspace_id = ? AND conversation_id = ?', [a.ws, a.id]);
    await t.run('DELETE FROM conversations WHERE workspace_id = ? AND id = ?', [a.ws, a.id]);
    const archived = Number(conv.archived) === 1;
    await bump(t, a.ws, counterNames(conv.user_id, conv.bot_id, false), -1);
    if (archived) await bump(t, a.ws, counterNames(conv.user_id, conv.bot_id, true), -1);
    await t.run(
      `INSERT INTO audit_events (workspace_id, id, actor_key_id, action, target_type, target_id, counts, created_at)
       VALUES (?, ?, NULL, 'conversation.delete', 'conversation', ?, ?, ?)`,
      [a.ws, a.auditId, a.id, JSON.stringify({ messages: msgs, tool_invocations: tools }), Date.now()],
    );
    return { deleted: msgs + tools };
  });
}

export interface AppendArgs {
  ws: string;
  conv: string;
  id: string;
  idemKey: string;
  role: string;
  content: string;
}

/** POST /v1/conversations/{id}/messages with an Idempotency-Key: claim, then one write transaction. */
export async function appendOp(db: Db, a: AppendArgs): Promise<Record<string, unknown>> {
  const now = Date.now();
  const claimed = await db.run(
    `INSERT INTO idempotency_records (workspace_id, idem_key, fingerprint, state, status_code, response_body,
       created_at, locked_until) VALUES (?, ?, ?, 'pending', NULL, NULL, ?, ?)
     ON CONFLICT (workspace_id, idem_key) DO NOTHING`,
    [a.ws, a.idemKey, 'fp', now, now + 60_000],
  );
  if (claimed === 0) throw new Error('idempotency key reused');
  return db.tx(async (t) => {
    const conv = await t.all(
      `SELECT ${COLS} FROM conversations c WHERE c.workspace_id = ? AND c.id = ?${t.engine === 'postgres' ? ' FOR UPDATE' : ''}`,
      [a.ws, a.conv],
    );
    if (!conv[0]) throw new Error('no conversation');
    await t.run(
      `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
       VALUES (?, ?, ?, ?, ?, '{}', ?)`,
      [a.ws, a.conv, a.id, a.role, a.content, now],
    );
    if (t.engine === 'sqlite') {
      await t.run(
        `INSERT INTO message_fts (rowid, content) SELECT rowid, content FROM messages WHERE workspace_id = ? AND id = ?`,
        [a.ws, a.id],
      );
    }
    await t.run(
      `UPDATE conversations SET message_count = message_count + 1, tool_invocation_count = tool_invocation_count + 0,
         updated_at = ?, last_message_at = ? WHERE workspace_id = ? AND id = ?`,
      [now, now, a.ws, a.conv],
    );
    const message = {
      id: a.id,
      conversation_id: a.conv,
      role: a.role,
      content: a.content,
      metadata: {},
      created_at: new Date(now).toISOString(),
    };
    await t.run('UPDATE conversations SET event_seq = event_seq + 1 WHERE workspace_id = ? AND id = ?', [a.ws, a.conv]);
    const seq = Number(
      (await t.all('SELECT event_seq FROM conversations WHERE workspace_id = ? AND id = ?', [a.ws, a.conv]))[0]
        ?.event_seq,
    );
    await t.run(
      `INSERT INTO conversation_events (workspace_id, conversation_id, seq, type, payload, created_at)
       VALUES (?, ?, ?, 'message.created', ?, ?)`,
      [a.ws, a.conv, seq, JSON.stringify(message), now],
    );
    const body = JSON.stringify({ data: message });
    await t.run(
      `UPDATE idempotency_records SET state = 'done', status_code = 201, response_body = ?
       WHERE workspace_id = ? AND idem_key = ?`,
      [body, a.ws, a.idemKey],
    );
    return message;
  });
}

export const OPS = { list: listOp, total: totalOp, delete: deleteOp, append: appendOp } as const;
export type OpName = keyof typeof OPS;
