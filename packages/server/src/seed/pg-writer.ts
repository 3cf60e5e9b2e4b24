import type pg from 'pg';
import { counterIncrements } from '../store/counters.js';
import { tsvFromTokens } from '../store/postgres/search.js';
import { indexTokens } from '../store/search-terms.js';
import type { BulkLoader, BulkLoadOptions, BulkWorkspace } from './bulk-load.js';
import { copyRows } from './pg-copy.js';
import {
  type BulkConversation,
  CONVERSATION_COLUMNS,
  type Column,
  MESSAGE_COLUMNS,
  type MessageRow,
  messageRows,
  TOOL_COLUMNS,
  toolRows,
} from './rows.js';

/** The analyzer's tokens (space-separated, from the generator's thread), or the text analyzed here. */
function tokensOf(joined: string | undefined, text: string): string[] {
  if (joined === undefined) return indexTokens(text);
  return joined.length === 0 ? [] : joined.split(' ');
}

/** Each row's `search_tsv` is the tsvector the store writes for the same text (store/postgres/search.ts). */
const CONVERSATION_COPY: ReadonlyArray<Column<BulkConversation>> = [
  ...CONVERSATION_COLUMNS,
  {
    name: 'search_tsv',
    pg: 'text',
    of: (c) => (c.title === null ? null : tsvFromTokens(tokensOf(c.titleTokens, c.title))),
  },
];
const MESSAGE_COPY: ReadonlyArray<Column<MessageRow>> = [
  ...MESSAGE_COLUMNS,
  { name: 'search_tsv', pg: 'text', of: (r) => tsvFromTokens(tokensOf(r.m.tokens, r.m.content)) },
];

const LOADED_TABLES = ['conversations', 'messages', 'tool_invocations'];

/** Client-side read timeout for the load's long statements (the pool's is the request-sized one). */
const LONG_MS = 3_600_000;

/** pg honours a per-query query_timeout at run time; its types only know the pool-wide one. */
function long(q: pg.QueryConfig): pg.QueryConfig {
  return { ...q, query_timeout: LONG_MS } as pg.QueryConfig;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Bulk loader for PostgreSQL: per batch one transaction of `COPY … FROM STDIN` per table
 * (pg-copy.ts), counters added once per batch. Into empty tables the secondary and full-text
 * indexes (those that back no constraint) are dropped and rebuilt by finish() from their own
 * definitions, read back from the catalog.
 */
export class PgBulkLoader implements BulkLoader {
  /** Indexes set aside for a load into empty tables, rebuilt by finish(). */
  private deferred: Array<{ name: string; def: string }> = [];

  static async open(pool: pg.Pool, opts: BulkLoadOptions): Promise<PgBulkLoader> {
    const loader = new PgBulkLoader(pool);
    const empty = await pool.query('SELECT NOT EXISTS (SELECT 1 FROM messages) AS empty');
    if (opts.deferIndexes ?? empty.rows[0]?.empty === true) await loader.setAside();
    return loader;
  }

  private constructor(private readonly pool: pg.Pool) {}

  private async setAside(): Promise<void> {
    const r = await this.pool.query<{ name: string; def: string }>(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1::text[])
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
      [LOADED_TABLES],
    );
    for (const row of r.rows) {
      await this.pool.query(`DROP INDEX ${quoteIdent(row.name)}`);
      this.deferred.push(row);
    }
  }

  async workspaces(rows: readonly BulkWorkspace[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO workspaces (id, name, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT (id) DO NOTHING`,
      [rows.map((w) => w.id), rows.map((w) => w.name), rows.map((w) => w.createdAt)],
    );
  }

  async write(batch: readonly BulkConversation[]): Promise<number> {
    const messages = messageRows(batch);
    const tools = toolRows(batch);
    const increments = counterIncrements(batch);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // a crash mid-load loses at most the batches not yet flushed; the caller can load them again
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query('SET LOCAL statement_timeout = 0');
      await copyRows(client, 'conversations', CONVERSATION_COPY, batch, LONG_MS);
      await copyRows(client, 'messages', MESSAGE_COPY, messages, LONG_MS);
      await copyRows(client, 'tool_invocations', TOOL_COLUMNS, tools, LONG_MS);
      await client.query(
        `INSERT INTO counters (workspace_id, name, value)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`,
        [increments.map((k) => k.workspaceId), increments.map((k) => k.name), increments.map((k) => k.value)],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    return messages.length;
  }

  async finish(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // an index over a million rows takes longer than the pool's per-statement limit
      await client.query('SET statement_timeout = 0');
      await client.query(`SET maintenance_work_mem = '512MB'`);
      await client.query('SET max_parallel_maintenance_workers = 2');
      // also after a failed load: the schema the server relies on comes back either way
      for (const ix of this.deferred) await client.query(long({ text: ix.def }));
      this.deferred = [];
      // Fresh statistics, so the first queries after a load plan with the real row counts; and a
      // VACUUM, so the loaded pages are marked all-visible with their hint bits set: otherwise
      // every read of a page nobody has vacuumed yet re-checks its rows' transactions and dirties
      // it (the first searches after a 1 M load wrote back ~1 page per 25 read), and index-only
      // scans fetch every heap row. Autovacuum would do it later, where it is on at all.
      await client.query(long({ text: 'VACUUM (ANALYZE)' }));
    } finally {
      await client.query('RESET statement_timeout').catch(() => undefined);
      await client.query('RESET maintenance_work_mem').catch(() => undefined);
      await client.query('RESET max_parallel_maintenance_workers').catch(() => undefined);
      client.release();
    }
  }
}
