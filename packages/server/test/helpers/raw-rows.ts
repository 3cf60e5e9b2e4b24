import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Database } from '../../src/store/schema.js';
import { workspaceTag } from '../../src/store/sqlite/search.js';
import type { Engine, TestServer } from './harness.js';

/**
 * Looks at the stored rows underneath the API, for tests that must prove something is gone
 * (not just hidden by the API). One implementation per engine; a new engine adds its entry to
 * RAW_INSPECTORS.
 */
export interface RawInspector {
  /** Rows of a table that belong to one conversation (`conversations` matches by id). */
  conversationRows(
    table: 'conversations' | 'messages' | 'tool_invocations' | 'conversation_events',
    workspaceId: string,
    conversationId: string,
  ): Promise<number>;
  /** Full-text index entries holding a word: message content and titles, counted apart. */
  searchEntries(word: string): Promise<{ messages: number; titles: number }>;
  /** The workspace's counters, zero values dropped (a counter back at 0 equals one never made). */
  counters(workspaceId: string): Promise<Record<string, number>>;
  /** Every audit row of the workspace, every column, as stored. */
  auditRows(workspaceId: string): Promise<Array<Record<string, unknown>>>;
  /**
   * Every stored row, of every table of the database (SQLite: the full-text index's own shadow
   * tables included; PostgreSQL: tsvector columns included), whose bytes contain `text`, counted
   * per table; tables without one are left out. Proves content gone wherever it could be kept.
   */
  rowsMentioning(text: string): Promise<Record<string, number>>;
  /** A job's stored cursor (as stored) and how many items (job_items) it holds. */
  jobRow(workspaceId: string, jobId: string): Promise<{ cursor: string | null; items: number }>;
  /** Stored idempotent answers (idempotency_records.response_body) of the workspace that contain `text`. */
  storedAnswersMentioning(workspaceId: string, text: string): Promise<number>;
  close(): Promise<void>;
}

function nonZero(rows: Array<{ name: string; value: number | string | bigint }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) if (Number(r.value) !== 0) out[r.name] = Number(r.value);
  return out;
}

/** Table counts, counters and audit rows through Kysely: the same SQL on every engine. */
export function kyselyInspector(
  db: Kysely<Database>,
  searchEntries: RawInspector['searchEntries'],
  rowsMentioning: RawInspector['rowsMentioning'],
  close: () => Promise<void> = async () => {},
): RawInspector {
  return {
    rowsMentioning,
    async storedAnswersMentioning(workspaceId, text) {
      const rows = await db
        .selectFrom('idempotency_records')
        .select('response_body')
        .where('workspace_id', '=', workspaceId)
        .execute();
      return rows.filter((r) => (r.response_body ?? '').includes(text)).length;
    },
    async conversationRows(table, workspaceId, conversationId) {
      const col = table === 'conversations' ? 'id' : 'conversation_id';
      const r = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(table)}
        WHERE workspace_id = ${workspaceId} AND ${sql.ref(col)} = ${conversationId}`.execute(db);
      return Number(r.rows[0]?.n ?? 0);
    },
    searchEntries,
    async counters(workspaceId) {
      const rows = await db
        .selectFrom('counters')
        .select(['name', 'value'])
        .where('workspace_id', '=', workspaceId)
        .execute();
      return nonZero(rows);
    },
    async jobRow(workspaceId, jobId) {
      const job = await db
        .selectFrom('jobs')
        .select('cursor')
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', jobId)
        .executeTakeFirstOrThrow();
      const items = await db
        .selectFrom('job_items')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('workspace_id', '=', workspaceId)
        .where('job_id', '=', jobId)
        .executeTakeFirstOrThrow();
      return { cursor: job.cursor, items: Number(items.n) };
    },
    async auditRows(workspaceId) {
      const r = await sql<
        Record<string, unknown>
      >`SELECT * FROM audit_events WHERE workspace_id = ${workspaceId}`.execute(db);
      return r.rows;
    },
    close,
  };
}

/** SQLite: the database file itself, opened read-only beside the running server. */
function sqliteInspector(server: TestServer): RawInspector {
  const raw = new BetterSqlite3(path.join(server.dataDir, 'parley.db'), { readonly: true, fileMustExist: true });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  // index tokens carry their workspace's tag (store/sqlite/search.ts): count under every tag
  const count = (table: 'message_idx' | 'title_idx', word: string) => {
    let n = 0;
    for (const w of raw.prepare('SELECT rowid AS r FROM workspaces').all() as Array<{ r: number }>) {
      const term = `"${workspaceTag(w.r)}_${word.toLowerCase().replace(/"/g, '""')}"`;
      n += Number(
        (raw.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${table} MATCH ?`).get(term) as { n: number }).n,
      );
    }
    return n;
  };
  const rowsMentioning = async (text: string) => {
    const out: Record<string, number> = {};
    // virtual tables hold nothing themselves; their shadow tables (message_idx_data, ...) are listed
    const tables = raw
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'`)
      .all() as Array<{ name: string }>;
    for (const { name } of tables) {
      const cols = raw.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>;
      if (cols.length === 0) continue;
      const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
      // compared as bytes, so BLOB columns (the FTS5 segments) are searched too
      const where = cols.map((c) => `instr(CAST(${q(c.name)} AS BLOB), CAST(? AS BLOB)) > 0`).join(' OR ');
      const n = Number(
        (
          raw.prepare(`SELECT count(*) AS n FROM ${q(name)} WHERE ${where}`).get(...cols.map(() => text)) as {
            n: number;
          }
        ).n,
      );
      if (n > 0) out[name] = n;
    }
    return out;
  };
  return kyselyInspector(
    db,
    async (word) => ({ messages: count('message_idx', word), titles: count('title_idx', word) }),
    rowsMentioning,
    async () => {
      await db.destroy();
    },
  );
}

/**
 * PostgreSQL: through the store's own Kysely instance. Full text is a tsvector column of the
 * rows themselves (search_tsv), so an entry exists exactly while a row holding the term does.
 */
function postgresInspector(server: TestServer): RawInspector {
  const db = (server.parley.store as unknown as { kysely?: Kysely<Database> }).kysely;
  if (!db) {
    throw new Error(
      'raw-rows: the postgres store exposes no `kysely` instance, so stored rows cannot be inspected; ' +
        'add `readonly kysely` to the PostgreSQL store and its entry in test/helpers/raw-rows.ts',
    );
  }
  const searchEntries = async (word: string) => {
    const q = `'${word.toLowerCase().replace(/'/g, "''")}'`;
    const m = await sql<{ n: string }>`SELECT count(*) AS n FROM messages
      WHERE search_tsv @@ ${q}::tsquery`.execute(db);
    const t = await sql<{ n: string }>`SELECT count(*) AS n FROM conversations
      WHERE search_tsv @@ ${q}::tsquery`.execute(db);
    return { messages: Number(m.rows[0]?.n ?? 0), titles: Number(t.rows[0]?.n ?? 0) };
  };
  const rowsMentioning = async (text: string) => {
    const out: Record<string, number> = {};
    const tables = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(db);
    for (const { name } of tables.rows) {
      // a row cast to text shows every column, tsvector lexemes included
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(name)} t
        WHERE strpos(t::text, ${text}) > 0`.execute(db);
      const n = Number(r.rows[0]?.n ?? 0);
      if (n > 0) out[name] = n;
    }
    return out;
  };
  return kyselyInspector(db, searchEntries, rowsMentioning);
}

export const RAW_INSPECTORS: Record<Engine, (server: TestServer) => RawInspector> = {
  sqlite: sqliteInspector,
  postgres: postgresInspector,
};

export function rawInspector(engine: Engine, server: TestServer): RawInspector {
  const make = RAW_INSPECTORS[engine];
  if (!make) throw new Error(`raw-rows: no inspector for engine ${engine}`);
  return make(server);
}
