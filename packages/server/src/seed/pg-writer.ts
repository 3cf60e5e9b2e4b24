import type pg from 'pg';
import { counterIncrements } from '../store/counters.js';
import { tsvFromTokens } from '../store/postgres/search.js';
import { indexTokens } from '../store/search-terms.js';
import type { SeedConversation } from './generator.js';
import type { SeedWriter } from './writer.js';

/**
 * Bulk writer for PostgreSQL: one INSERT … SELECT FROM unnest($1::text[], …) per table per batch
 * (one parameter per column, whatever the row count), one transaction per batch, counters added
 * once per batch. Each row's `search_tsv` is the tsvector the store writes for the same text
 * (store/postgres/search.ts, from the generator thread's tokens). Same rows as the SQLite writer.
 */
export class PgSeedWriter implements SeedWriter {
  /** Full-text indexes set aside for a load into empty tables, rebuilt by finish(). */
  private deferred: Array<{ name: string; def: string }> = [];

  constructor(private readonly pool: pg.Pool) {}

  async workspaces(ids: string[], createdAt: number): Promise<void> {
    // Into empty tables, building the GIN indexes once at the end is cheaper than maintaining
    // them row by row. The exact definitions are read back from the catalog, so the rebuilt
    // indexes are the migration's own.
    const empty = await this.pool.query('SELECT NOT EXISTS (SELECT 1 FROM messages) AS empty');
    if (empty.rows[0]?.empty === true) {
      const r = await this.pool.query<{ indexname: string; indexdef: string }>(
        `SELECT indexname, indexdef FROM pg_indexes
         WHERE schemaname = current_schema() AND indexname IN ('messages_search_tsv', 'conversations_search_tsv')`,
      );
      for (const row of r.rows) {
        await this.pool.query(`DROP INDEX ${quoteIdent(row.indexname)}`);
        this.deferred.push({ name: row.indexname, def: row.indexdef });
      }
    }
    await this.pool.query(
      `INSERT INTO workspaces (id, name, created_at)
       SELECT id, 'seed workspace ' || n, $2::bigint FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n)
       ON CONFLICT (id) DO NOTHING`,
      [ids, createdAt],
    );
  }

  async write(batch: SeedConversation[]): Promise<number> {
    const conv = columns(15);
    const msg = columns(7);
    const tool = columns(9);
    let messages = 0;
    for (const c of batch) {
      push(conv, [
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
        tsvFromTokens(tokensOf(c.titleTokens, c.title)),
      ]);
      for (const m of c.messages) {
        push(msg, [
          c.workspaceId,
          c.id,
          m.id,
          m.role,
          m.content,
          m.createdAt,
          tsvFromTokens(tokensOf(m.tokens, m.content)),
        ]);
      }
      for (const t of c.tools) {
        push(tool, [c.workspaceId, c.id, t.id, t.messageId, t.toolName, t.input, t.output, t.startedAt, t.finishedAt]);
      }
      messages += c.messages.length;
    }
    const increments = counterIncrements(batch);
    const cws = increments.map((k) => k.workspaceId);
    const cname = increments.map((k) => k.name);
    const cval = increments.map((k) => k.value);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // a crash mid-load loses at most the batches not yet flushed; the data is regenerable
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query(
        long({
          text: `INSERT INTO conversations (workspace_id, id, user_id, bot_id, title, title_source, contact_id, deal_id,
           matter_id, context_extra, metadata, archived, message_count, tool_invocation_count, last_message_at,
           created_at, updated_at, search_tsv)
         SELECT w, i, u, b, t, 'auto', ct, d, mt, '{}', '{}', a, mc, tc, lm, ca, ua, sv::tsvector
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::int[], $10::int[], $11::int[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[])
           AS x(w, i, u, b, t, ct, d, mt, a, mc, tc, lm, ca, ua, sv)`,
          values: conv,
        }),
      );
      await client.query(
        long({
          text: `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at, search_tsv)
         SELECT w, c, i, r, t, '{}', ca, sv::tsvector
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
           AS x(w, c, i, r, t, ca, sv)`,
          values: msg,
        }),
      );
      if ((tool[0] as unknown[]).length > 0) {
        await client.query(
          `INSERT INTO tool_invocations (workspace_id, conversation_id, id, message_id, tool_name, input, output, status,
             started_at, finished_at, created_at, updated_at)
           SELECT w, c, i, m, n, inp, out, 'succeeded', s, f, s, f
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::bigint[], $9::bigint[]) AS x(w, c, i, m, n, inp, out, s, f)`,
          tool,
        );
      }
      await client.query(
        `INSERT INTO counters (workspace_id, name, value)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`,
        [cws, cname, cval],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    return messages;
  }

  async finish(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // an index over a million rows takes longer than the pool's per-statement limit
      await client.query('SET statement_timeout = 0');
      await client.query(`SET maintenance_work_mem = '512MB'`);
      await client.query('SET max_parallel_maintenance_workers = 2');
      // also after a failed load: the schema the server relies on comes back either way
      // (and past the pool's client-side read timeout, hence the per-query one)
      for (const ix of this.deferred) await client.query(long({ text: ix.def }));
      this.deferred = [];
      // fresh statistics, so the first queries after a load plan with the real row counts
      await client.query(long({ text: 'ANALYZE' }));
    } finally {
      client.release();
    }
  }
}

/** Client-side read timeout for the load's long statements (the pool's is the request-sized one). */
const LONG_MS = 3_600_000;

/** pg honours a per-query query_timeout at run time; its types only know the pool-wide one. */
function long(q: pg.QueryConfig): pg.QueryConfig {
  return { ...q, query_timeout: LONG_MS } as pg.QueryConfig;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The generator thread's tokens (space-separated), or the text analyzed here. */
function tokensOf(joined: string | undefined, text: string): string[] {
  if (joined === undefined) return indexTokens(text);
  return joined.length === 0 ? [] : joined.split(' ');
}

function columns(n: number): unknown[][] {
  return Array.from({ length: n }, () => []);
}

function push(cols: unknown[][], values: unknown[]): void {
  values.forEach((v, i) => {
    (cols[i] as unknown[]).push(v);
  });
}
