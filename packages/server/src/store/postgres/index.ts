import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { notFound, ParleyError } from '../../errors.js';
import { type GroupCommitSettings, GroupCommitter, groupCommitOn } from '../kysely/group-commit.js';
import { KyselyStore } from '../kysely/store.js';
import { type DirectRead, templateSql } from '../query-template.js';
import type { Database } from '../schema.js';
import type { MigrationReport, ReclaimReport } from '../types.js';
import { pgStatements } from './erase.js';
import { PG_MIGRATIONS } from './migrations.js';
import { createPgSearch, type PgSearch } from './search.js';

export interface PgSettings {
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

export const PG_DEFAULTS: PgSettings = { poolSize: 10, statementTimeoutMs: 5000, connectTimeoutMs: 3000 };

export type { MigrationReport } from '../types.js';

/** SQLSTATEs that mean "the server is going away, starting, or full", not "your request is wrong". */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / recovering)
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const RETRYABLE_STATES = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for errors pg raises when the connection is gone or never came (they carry no SQLSTATE). */
function isConnectionError(err: unknown): boolean {
  const code = pgCode(err);
  if (code !== undefined && (UNAVAILABLE_STATES.has(code) || NETWORK_CODES.has(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  const msg = (err as { message?: unknown } | null)?.message;
  return (
    typeof msg === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable|Connection ended/i.test(
      msg,
    )
  );
}

export const unavailable = (cause: unknown): ParleyError =>
  new ParleyError('service_unavailable', 'The database is unavailable; retry shortly', { retryAfter: 1, cause });

/**
 * Maps a pg error onto what it means for the caller: gone or restarting -> 503 with Retry-After;
 * a foreign key violated because the parent was deleted concurrently -> 404, exactly like a
 * missing one. Other errors pass through (serialization failures are retried by transaction()).
 */
export function mapPgError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  const code = pgCode(err);
  if (code === '23503') return notFound();
  if (isConnectionError(err)) return unavailable(err);
  return err;
}

function poolConfig(url: string, s: PgSettings): pg.PoolConfig {
  return {
    connectionString: url,
    max: s.poolSize,
    connectionTimeoutMillis: s.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: s.statementTimeoutMs,
    // a stalled server (no RST, no answer) must not hold a request past the statement timeout
    query_timeout: s.statementTimeoutMs + 1000,
    idle_in_transaction_session_timeout: Math.max(10_000, s.statementTimeoutMs * 2),
    // Every statement here is request-sized; JIT compiles whenever a plan's *estimated* cost passes
    // jit_above_cost, e.g. a search total whose fallback branch is costed but never run, and the
    // compile took 90-150 ms on such queries (EXPLAIN ANALYZE, 1 M messages), more than the query.
    options: '-c jit=off',
    keepAlive: true,
    // BIGINT epoch-ms timestamps and count(*) come back as JS numbers, for this pool only
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 && format !== 'binary'
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  };
}

/**
 * A pg Pool whose errors arrive already mapped (503 / 404), and whose clients can never crash the
 * process with an unhandled 'error' event when the server goes away between queries.
 */
function createPool(url: string, s: PgSettings, onError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool(poolConfig(url, s));
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

/**
 * A template's SQL (query-template.ts) as a named prepared statement: parsed once per connection
 * (pg keeps the names each connection has parsed), then only bound and run; any other SQL as is.
 */
function named(text: unknown, values: unknown): pg.QueryConfig | undefined {
  if (typeof text !== 'string') return undefined;
  const name = templateSql.get(text);
  return name === undefined ? undefined : { name, text, values: values as unknown[] };
}

/** What Kysely sees: the pool with connect() and query() errors mapped, templates run as named statements. */
function mappedPool(pool: pg.Pool) {
  return {
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapPgError(err);
      }
      // a client that lost its server (or timed out mid-query) is destroyed, never reused
      let broken: Error | undefined;
      return {
        query(...args: unknown[]) {
          const config = named(args[0], args[1]);
          const run =
            config !== undefined
              ? client.query(config)
              : (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
          return run.catch((err: unknown) => {
            const mapped = mapPgError(err);
            if (mapped instanceof ParleyError && mapped.code === 'service_unavailable') broken = err as Error;
            throw mapped;
          });
        },
        release() {
          client.release(broken);
        },
      };
    },
    end: () => pool.end(),
  };
}

const MIGRATION_LOCK = 7_041_946_214; // any constant: serialises concurrent `parley migrate` / starts

export async function migratePostgres(pool: pg.Pool): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      const applied: MigrationReport['applied'] = [];
      for (const m of PG_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          if (m.run) await m.run(client);
          if (m.sqlAfter) await client.query(m.sqlAfter);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        applied.push({ version: m.version, name: m.name });
      }
      return { applied, current: Math.max(0, ...PG_MIGRATIONS.map((m) => m.version)) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** A one-line reason why the database cannot be used at boot: unreachable, refused, missing. */
export function describeConnectError(url: string, err: unknown): string {
  let where = 'PostgreSQL';
  try {
    const u = new URL(url);
    where = `PostgreSQL at ${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    // keep the generic name; the URL itself may hold a password
  }
  const first = err instanceof AggregateError ? (err.errors[0] ?? err) : err;
  const e = first as { code?: string; message?: string };
  const reason = e.message && e.message.length > 0 ? e.message : String(e.code ?? err);
  return `cannot use ${where}: ${reason}${e.code && !reason.includes(e.code) ? ` (${e.code})` : ''}`;
}

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export class PostgresStore extends KyselyStore {
  readonly engine = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly groups: GroupCommitter<Kysely<Database>> | null;
  /** The store's full-text side; tests force its total plan (PgSearch.totalPlan). */
  readonly searchIndex: PgSearch;

  constructor(pool: pg.Pool, opts: { groupCommit?: GroupCommitSettings | undefined } = {}) {
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: mappedPool(pool) as unknown as pg.Pool }),
    });
    // A statement on its own on the pool (checkout, query, release; a client whose query failed is
    // discarded) with the same error mapping, minus Kysely's executor and our wrapper: the hot reads
    // outside transactions, and a lone write that is its own transaction (autocommit, below).
    const onPool = (text: string, parameters: readonly unknown[]) =>
      pool.query(named(text, parameters) ?? { text, values: parameters as unknown[] }).catch((err: unknown) => {
        throw mapPgError(err);
      });
    const direct: DirectRead = (text, parameters) => onPool(text, parameters).then((r) => r.rows);
    const search = createPgSearch();
    super(db, search, direct, pgStatements);
    this.pool = pool;
    const sp = (text: string) => (conn: Kysely<Database>) =>
      sql
        .raw(text)
        .execute(conn)
        .then(() => undefined);
    // one group per workspace at a time (its writes lock the same counter rows), several
    // workspaces' groups at once, always leaving connections for reads
    this.groups = groupCommitOn(opts.groupCommit)
      ? new GroupCommitter(
          opts.groupCommit,
          {
            run: (body) =>
              this.kysely.connection().execute(async (conn) => {
                await sql`BEGIN`.execute(conn);
                try {
                  await body(conn);
                  await sql`COMMIT`.execute(conn);
                } catch (err) {
                  await sql`ROLLBACK`.execute(conn).catch(() => undefined);
                  throw err;
                }
              }),
            savepoint: sp('SAVEPOINT w'),
            release: sp('RELEASE SAVEPOINT w'),
            rollbackTo: sp('ROLLBACK TO SAVEPOINT w'),
            retryable: (err) => RETRYABLE_STATES.has(pgCode(err) ?? ''),
          },
          Math.max(1, Math.floor(pool.options.max / 2)),
          (size) => this.groupObserver?.(size),
        )
      : null;
    this.searchIndex = search;
    // with group commit the claim joins a group like any write; without it, one autocommit
    // statement on the pool
    if (this.groups === null)
      this.autocommit = (text, parameters) =>
        onPool(text, parameters).then((r) => ({ rows: r.rows, numAffectedRows: BigInt(r.rowCount ?? 0) }));
  }

  protected async runTransaction<T>(
    fn: (db: Kysely<Database>, lockRows: boolean) => Promise<T>,
    partition: string,
  ): Promise<T> {
    if (this.groups !== null) {
      try {
        return await this.groups.run(partition, (conn) => fn(conn, true));
      } catch (err) {
        // a write still deadlocked or serialization-failed after its retries: 503, like below
        if (RETRYABLE_STATES.has(pgCode(err) ?? '')) throw unavailable(err);
        throw mapPgError(err);
      }
    }
    // READ COMMITTED plus a row lock on the conversation a write loads (lockRows), so concurrent
    // writers of one conversation queue up as they do on SQLite; a deadlock or serialization
    // failure is retried a few times, then reported as 503 with Retry-After.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.kysely.transaction().execute((trx) => fn(trx, true));
      } catch (err) {
        const code = pgCode(err);
        if (code !== undefined && RETRYABLE_STATES.has(code)) {
          if (attempt < 3) continue;
          throw unavailable(err);
        }
        throw mapPgError(err);
      }
    }
  }

  /**
   * VACUUM of the named tables on a connection of its own, outside any transaction and without
   * the statement timeout (a big table takes longer than a request may). Plain VACUUM marks the
   * deleted rows' space reusable without blocking anyone, but leaves their bytes in the table and
   * index files until reused; FULL rewrites each table and its indexes into new files (none of
   * the deleted bytes are copied) under an ACCESS EXCLUSIVE lock of that table while it runs.
   */
  async reclaim(tables: readonly string[], mode: 'plain' | 'full'): Promise<ReclaimReport> {
    for (const t of tables) if (!/^[a-z_]+$/.test(t)) throw new Error(`not a table name: ${t}`);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
    // VACUUM VERBOSE says how many dead rows it had to keep: ones an open transaction (of this
    // database, or one that holds back every database's horizon) may still see
    let kept = 0;
    const onNotice = (n: { message?: string; detail?: string }) => {
      const m = /(\d+) dead row versions cannot be removed yet/.exec(`${n.message ?? ''} ${n.detail ?? ''}`);
      if (m) kept += Number(m[1]);
    };
    client.on('notice', onNotice);
    let broken: Error | undefined;
    try {
      await client.query('SET statement_timeout = 0');
      for (const t of tables) {
        // the pool's client-side query timeout would cut a long VACUUM short: a day instead
        await client.query({
          text: `VACUUM (${mode === 'full' ? 'FULL, ' : ''}VERBOSE) ${t}`,
          query_timeout: 86_400_000,
        } as pg.QueryConfig);
      }
      await client.query('RESET statement_timeout');
    } catch (err) {
      broken = err as Error;
      throw mapPgError(err);
    } finally {
      client.off('notice', onNotice);
      client.release(broken);
    }
    return { method: mode === 'full' ? 'vacuum_full' : 'vacuum', tables: [...tables], deadRowsKept: kept };
  }

  migrate(): Promise<MigrationReport> {
    return migratePostgres(this.pool);
  }

  async ping(): Promise<void> {
    const client = await mappedPool(this.pool).connect();
    try {
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.kysely.destroy();
    // Kysely ends the pool only if it ever took a connection from it; a store used only through
    // the pool itself (`parley migrate`, the hot reads) would keep its idle connection, and the
    // process with it, for the pool's idle timeout (30 s)
    if (!this.pool.ending) await this.pool.end();
  }
}

export async function createPostgresStore(
  url: string,
  opts: {
    migrate?: boolean;
    settings?: Partial<PgSettings>;
    onPoolError?: (err: Error) => void;
    groupCommit?: GroupCommitSettings | undefined;
  } = {},
): Promise<PostgresStore> {
  const settings = { ...PG_DEFAULTS, ...opts.settings };
  const pool = createPool(url, settings, opts.onPoolError ?? (() => undefined));
  try {
    // one round trip first, so that a wrong URL reads as such rather than as a migration error
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new StartupError(describeConnectError(url, err));
  }
  if (opts.migrate !== false) {
    try {
      await migratePostgres(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }
  return new PostgresStore(pool, { groupCommit: opts.groupCommit });
}
