/**
 * The SQL the scale scenarios' peers run: the statements Parley's store issues for the same
 * request, written out once per engine. The raw peer calls these in a loop (no HTTP); the
 * node:http peer calls them behind bare routing and key auth. One implementation, so both peers
 * run the same SQL.
 *
 * Search is the exception: ranking (bm25 / ts_rank_cd), best hit per conversation and snippets
 * are most of its work, and writing that again here would measure a different program. The
 * search peers call Parley's own store (searchConversations + totalConversations, the analyzer's
 * snippet): they measure Parley minus HTTP, auth and the service layer.
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SEARCH_TOTAL_CAP } from '../../packages/server/src/services/conversations.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { tsvLiteral } from '../../packages/server/src/store/postgres/search.js';
import { literalTerms, makeSnippet } from '../../packages/server/src/store/search-terms.js';
import { taggedBody, workspaceTag } from '../../packages/server/src/store/sqlite/search.js';
import type { Store } from '../../packages/server/src/store/types.js';

export interface Db {
  engine: 'sqlite' | 'postgres';
  all(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params: unknown[]): Promise<number>;
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** SQLite: the workspace's search-index tag (its rowid in base 36, see store/sqlite/search.ts). */
  searchTag?(workspaceId: string): string;
  /** Parley's store on the same database (the search peers use it, see above). */
  store(): Promise<Store>;
}

function lazyStore(databaseUrl: string): () => Promise<Store> {
  let opened: Promise<Store> | null = null;
  return () => {
    opened ??= openStore({ databaseUrl });
    return opened;
  };
}

export function openDb(databaseUrl: string): Db {
  if (databaseUrl.startsWith('sqlite:')) {
    const raw = new BetterSqlite3(databaseUrl.replace(/^sqlite:(\/\/)?/, ''));
    raw.pragma('journal_mode = WAL');
    // the same durability as the Parley it is compared with (PARLEY_SQLITE_SYNCHRONOUS given to the run)
    raw.pragma(`synchronous = ${process.env.PARLEY_SQLITE_SYNCHRONOUS === 'full' ? 'FULL' : 'NORMAL'}`);
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
    const cache = new Map<string, BetterSqlite3.Statement>();
    const tags = new Map<string, string>();
    const store = lazyStore(databaseUrl);
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
      store,
      searchTag: (ws) => {
        let tag = tags.get(ws);
        if (tag === undefined) {
          const r = stmt('SELECT rowid AS r FROM workspaces WHERE id = ?').get(ws) as { r: number } | undefined;
          tag = workspaceTag(r?.r ?? 0);
          tags.set(ws, tag);
        }
        return tag;
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
        await (await store()).close();
      },
    };
    return db;
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const store = lazyStore(databaseUrl);
  // BIGINT and count(*) as numbers, as Parley's pool does
  pg.types.setTypeParser(20, (v) => Number(v));
  const numbered = (s: string) => {
    let i = 0;
    return s.replace(/\?/g, () => `$${++i}`);
  };
  const on = (c: pg.Pool | pg.PoolClient): Db => ({
    engine: 'postgres',
    store,
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
    close: async () => {
      await pool.end();
      await (await store()).close();
    },
  });
  return on(pool);
}

const COLS = `c.workspace_id, c.id, c.user_id, c.bot_id, c.title, c.title_source, c.contact_id, c.deal_id,
  c.matter_id, c.context_extra, c.metadata, c.archived, c.message_count, c.tool_invocation_count,
  c.last_message_at, c.created_at, c.updated_at`;

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

/**
 * GET /v1/conversations?search=…: top `perPage` by relevance with a snippet each, and the
 * bounded total, through Parley's store (what ConversationsService.list does, minus HTTP).
 */
export async function searchOp(
  db: Db,
  a: ListArgs & { search: string },
): Promise<{ items: Record<string, unknown>[]; total: number }> {
  const store = await db.store();
  const filter = { archived: 'exclude' as const, search: a.search };
  // the page and its total as the service asks for them (the service's cap for a search's total)
  const { total, rows } = await store.read(a.ws, (r) =>
    r.conversations.searchPage(
      { ...filter, orderBy: 'relevance', order: 'asc', limit: a.perPage + 1 },
      SEARCH_TOTAL_CAP,
    ),
  );
  const terms = literalTerms(a.search);
  const items = rows.slice(0, a.perPage).map((r) => ({
    ...r.conversation,
    match: { message_id: r.hit.messageId, field: r.hit.field, ...makeSnippet(r.hit.text, terms) },
  }));
  return { items, total: total.total };
}

/** GET /v1/conversations: page by updated_at desc (keyset or OFFSET), meta.total; with `search`, searchOp. */
export async function listOp(db: Db, a: ListArgs): Promise<{ items: Record<string, unknown>[]; total: number }> {
  if (a.search !== undefined) return searchOp(db, { ...a, search: a.search });
  const where = ['c.workspace_id = ?', 'c.archived = 0'];
  const params: unknown[] = [a.ws];
  if (a.after) {
    // the same row-value keyset as Parley's store (store/kysely/conversation-lists.ts listQueryOn)
    where.push('(c.updated_at, c.id) < (?, ?)');
    params.push(a.after.v, a.after.i);
  }
  let sqlText = `SELECT ${COLS} FROM conversations c WHERE ${where.join(' AND ')}
    ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`;
  params.push(a.perPage + 1);
  if (a.offset) {
    sqlText += ' OFFSET ?';
    params.push(a.offset);
  }
  const rows = await db.all(sqlText, params);
  return { items: rows.slice(0, a.perPage), total: await counterTotal(db, a.ws) };
}

export async function totalOp(db: Db, a: { ws: string }): Promise<{ total: number }> {
  return { total: await counterTotal(db, a.ws) };
}

export const counterNames = (userId: unknown, botId: unknown, archived: boolean) => {
  const names = archived ? ['archived'] : ['all'];
  if (userId !== null) names.push(archived ? `user_archived:${userId}` : `user:${userId}`);
  if (botId !== null) names.push(archived ? `bot_archived:${botId}` : `bot:${botId}`);
  return names;
};

export async function bump(db: Db, ws: string, names: string[], delta: number): Promise<void> {
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
    // SQLite: the contentless index rows go by rowid; PostgreSQL: search_tsv goes with its row
    if (t.engine === 'sqlite') {
      await t.run(
        `DELETE FROM message_idx WHERE rowid IN (SELECT rowid FROM messages WHERE workspace_id = ? AND conversation_id = ?)`,
        [a.ws, a.id],
      );
      await t.run(
        `DELETE FROM title_idx WHERE rowid IN (SELECT rowid FROM conversations
         WHERE workspace_id = ? AND id = ? AND title IS NOT NULL)`,
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
      `SELECT ${t.engine === 'sqlite' ? 'c.rowid AS r, ' : ''}${COLS} FROM conversations c
       WHERE c.workspace_id = ? AND c.id = ?${t.engine === 'postgres' ? ' FOR UPDATE' : ''}`,
      [a.ws, a.conv],
    );
    const row = conv[0];
    if (!row) throw new Error('no conversation');
    const message = {
      id: a.id,
      conversation_id: a.conv,
      role: a.role,
      content: a.content,
      metadata: {},
      created_at: new Date(now).toISOString(),
    };
    if (t.engine === 'sqlite') {
      // (RETURNING, not last_insert_rowid(): other callers' idempotency claims share the connection)
      const inserted = await t.all(
        `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
         VALUES (?, ?, ?, ?, ?, '{}', ?) RETURNING rowid AS r`,
        [a.ws, a.conv, a.id, a.role, a.content, now],
      );
      // the index row: the workspace-tagged tokens, keyed by the message's rowid (store/sqlite/search.ts)
      await t.run('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)', [
        inserted[0]?.r,
        row.r,
        taggedBody(t.searchTag?.(a.ws) ?? '', a.content),
      ]);
    } else {
      await t.run(
        `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at, search_tsv)
         VALUES (?, ?, ?, ?, ?, '{}', ?, ?::tsvector)`,
        [a.ws, a.conv, a.id, a.role, a.content, now, tsvLiteral(a.content)],
      );
    }
    // counters, timestamps and the event seq in one UPDATE
    const seq = Number(
      (
        await t.all(
          `UPDATE conversations SET message_count = message_count + 1, updated_at = ?, last_message_at = ?,
             event_seq = event_seq + 1 WHERE workspace_id = ? AND id = ? RETURNING event_seq`,
          [now, now, a.ws, a.conv],
        )
      )[0]?.event_seq,
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

export const OPS = { list: listOp, search: searchOp, total: totalOp, delete: deleteOp, append: appendOp } as const;
export type OpName = keyof typeof OPS;
