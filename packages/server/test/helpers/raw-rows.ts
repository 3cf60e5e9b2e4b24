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
  close: () => Promise<void> = async () => {},
): RawInspector {
  return {
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
  return kyselyInspector(
    db,
    async (word) => ({ messages: count('message_idx', word), titles: count('title_idx', word) }),
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
  return kyselyInspector(db, async (word) => {
    const q = `'${word.toLowerCase().replace(/'/g, "''")}'`;
    const m = await sql<{ n: string }>`SELECT count(*) AS n FROM messages
      WHERE search_tsv @@ ${q}::tsquery`.execute(db);
    const t = await sql<{ n: string }>`SELECT count(*) AS n FROM conversations
      WHERE search_tsv @@ ${q}::tsquery`.execute(db);
    return { messages: Number(m.rows[0]?.n ?? 0), titles: Number(t.rows[0]?.n ?? 0) };
  });
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
