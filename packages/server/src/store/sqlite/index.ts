import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';
import { type GroupCommitSettings, GroupCommitter, groupCommitOn } from '../kysely/group-commit.js';
import { KyselyStore } from '../kysely/store.js';
import type { DirectExec, DirectRead } from '../query-template.js';
import type { Database } from '../schema.js';
import type { MigrationReport, ReclaimReport } from '../types.js';
import { COMPACTION_DEFAULTS, FullTextCompaction } from './compaction.js';
import { mapSqliteError } from './errors.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { createSqliteSearch } from './search.js';

export type { MigrationReport } from '../types.js';

/** Opens the database file with the settings Parley relies on. */
export function openSqlite(file: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): BetterSqlite3.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  raw.pragma('journal_mode = WAL');
  // NORMAL under WAL keeps every commit atomic and durable across a process crash (kill -9);
  // only an OS crash or power loss can lose the last commits. FULL fsyncs every commit.
  raw.pragma(`synchronous = ${synchronous}`);
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  // a delete zeroes the content it frees (cells and whole pages) instead of leaving it readable in
  // free space; the full-text tables do the same for their index segments (migration 4)
  raw.pragma('secure_delete = ON');
  return raw;
}

export function migrateSqlite(raw: BetterSqlite3.Database): MigrationReport {
  raw.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const done = new Set(
    (raw.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const applied: MigrationReport['applied'] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (done.has(m.version)) continue;
    raw
      .transaction(() => {
        raw.exec(m.sql);
        m.run?.(raw);
        raw
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      })
      .immediate();
    applied.push({ version: m.version, name: m.name });
  }
  const current = Math.max(0, ...SQLITE_MIGRATIONS.map((m) => m.version));
  return { applied, current };
}

export function sqlitePath(databaseUrl: string): string {
  return databaseUrl.replace(/^sqlite:(\/\/)?/, '');
}

/**
 * Kysely prepares every query afresh, and SQLite's compile step was ~15% of a read request's CPU.
 * The same SQL text gets the same prepared statement back (bounded, oldest dropped first). Safe
 * because nothing here streams: a statement is never re-entered while another run iterates it.
 * Every run maps SQLite's busy / locked errors to service_unavailable (mapSqliteError).
 */
export function withStatementCache(raw: BetterSqlite3.Database, max = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => raw.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt === undefined) {
        stmt = mapped(raw.prepare(text));
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

/** A prepared statement whose runs throw mapped errors. */
function mapped(stmt: BetterSqlite3.Statement): SqliteStatement {
  return {
    reader: stmt.reader,
    all(parameters) {
      try {
        return stmt.all(parameters);
      } catch (err) {
        throw mapSqliteError(err);
      }
    },
    run(parameters) {
      try {
        return stmt.run(parameters);
      } catch (err) {
        throw mapSqliteError(err);
      }
    },
    iterate(parameters) {
      try {
        return stmt.iterate(parameters);
      } catch (err) {
        throw mapSqliteError(err);
      }
    },
  };
}

/**
 * How often the WAL is checkpointed and truncated. Until then the WAL keeps the page images a
 * delete replaced, content included; the checkpoint copies the (zeroed) current pages into the main
 * file and truncates the WAL, so deleted content leaves the disk within this bound (and on close).
 */
export const CHECKPOINT_INTERVAL_MS = 30_000;

export class SqliteStore extends KyselyStore {
  readonly engine = 'sqlite' as const;
  readonly raw: BetterSqlite3.Database;
  private readonly checkpointTimer: NodeJS.Timeout;
  /** Merges deleted rows' postings out of the full-text index after erasures (compaction.ts); started by the server. */
  readonly compaction: FullTextCompaction;
  private readonly groups: GroupCommitter<Kysely<Database>> | null;
  /** Runs a transaction-control statement (BEGIN, COMMIT, SAVEPOINT…) on the connection. */
  private readonly control: (text: string) => void;

  constructor(
    raw: BetterSqlite3.Database,
    opts: {
      checkpointIntervalMs?: number;
      groupCommit?: GroupCommitSettings | undefined;
      ftsCompactionIntervalMs?: number | undefined;
    } = {},
  ) {
    const { db, direct, exec, statements } = sqliteKysely(raw);
    // every removal from the full-text index wakes the compaction (created just below)
    let compaction: FullTextCompaction | undefined;
    super(
      db,
      createSqliteSearch(() => compaction?.noteRemoval(), exec),
      direct,
      undefined,
      exec,
    );
    this.raw = raw;
    // the transaction's own statements, run at once on the connection Kysely lent (cached, errors mapped)
    this.control = (text) => {
      statements.prepare(text).run([]);
    };
    compaction = new FullTextCompaction((fn) => this.runTransaction((conn) => fn(conn)), {
      ...COMPACTION_DEFAULTS,
      ...(opts.ftsCompactionIntervalMs !== undefined ? { intervalMs: opts.ftsCompactionIntervalMs } : {}),
    });
    this.compaction = compaction;
    this.checkpointTimer = setInterval(() => {
      try {
        this.checkpoint();
      } catch {
        // busy (a long reader, or another process holds the lock): the next tick tries again
      }
    }, opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS);
    this.checkpointTimer.unref();
    this.groups = groupCommitOn(opts.groupCommit)
      ? new GroupCommitter(
          opts.groupCommit,
          {
            run: (body) => this.transaction((conn) => body(conn)),
            savepoint: async () => this.control('SAVEPOINT w'),
            release: async () => this.control('RELEASE w'),
            rollbackTo: async () => {
              // some failures (disk full, I/O) end the whole transaction, savepoints and all
              if (!this.raw.inTransaction) throw new Error('the transaction was rolled back');
              this.control('ROLLBACK TO w');
              this.control('RELEASE w');
            },
          },
          1,
          (size) => this.groupObserver?.(size),
        )
      : null;
  }

  /**
   * Copies every committed page into the main file and truncates the WAL to zero bytes. Runs
   * between transactions only (the connection is shared; a checkpoint inside one would be refused).
   */
  checkpoint(): { busy: boolean } {
    if (this.raw.inTransaction) return { busy: true };
    const [r] = this.raw.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return { busy: (r?.busy ?? 0) !== 0 };
  }

  protected runTransaction<T>(fn: (db: Kysely<Database>, lockRows: boolean) => Promise<T>): Promise<T> {
    // one writer: every write joins the one queue, whatever its workspace
    if (this.groups !== null) return this.groups.run('', (conn) => fn(conn, false));
    return this.transaction((conn) => fn(conn, false));
  }

  /** One transaction on the connection (the group commit's, or one write's when it is off). */
  private transaction<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    // BEGIN IMMEDIATE takes the write lock up front, so a second process (the CLI) waits on
    // busy_timeout instead of failing mid-transaction on a lock upgrade.
    // (the connection is held, so its other users wait; the control statements run on it at once)
    return this.kysely.connection().execute(async (conn) => {
      this.control('BEGIN IMMEDIATE');
      try {
        const result = await fn(conn);
        this.control('COMMIT');
        return result;
      } catch (err) {
        if (this.raw.inTransaction) this.control('ROLLBACK');
        throw err;
      }
    });
  }

  /**
   * Deleted content is zeroed in place (secure_delete, FTS5 secure-delete); what remains is the
   * WAL's copies of the pages before the delete: checkpointed into the main file and truncated.
   */
  async reclaim(_tables: readonly string[], _mode: 'plain' | 'full'): Promise<ReclaimReport> {
    const { busy } = this.checkpoint();
    // busy: a reader holds WAL frames; the periodic checkpoint truncates it later
    return { method: busy ? 'checkpoint_busy' : 'checkpoint', tables: [], deadRowsKept: 0 };
  }

  async migrate(): Promise<MigrationReport> {
    return migrateSqlite(this.raw);
  }

  async ping(): Promise<void> {
    pingSqlite(this.raw);
  }

  async close(): Promise<void> {
    clearInterval(this.checkpointTimer);
    // a slice under way commits first; what is left is found again at the next start
    await this.compaction.close();
    if (this.raw.open) {
      try {
        this.checkpoint();
      } catch {
        // closing anyway: SQLite checkpoints on the last connection's close too
      }
    }
    await this.kysely.destroy();
  }
}

/**
 * Kysely over one better-sqlite3 connection (its statement cache), and the direct path of the hot
 * reads: outside a transaction they run the cached statement at once. Inside one (BEGIN .. COMMIT
 * on the single connection) they go through Kysely and wait for it like any query, so a read never
 * sees another request's uncommitted writes. The server's store and a read-only one share it.
 */
export function sqliteKysely(raw: BetterSqlite3.Database): {
  db: Kysely<Database>;
  direct: DirectRead;
  exec: DirectExec;
  statements: SqliteDatabase;
} {
  const statements = withStatementCache(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  const direct: DirectRead = (text, parameters) => {
    if (raw.inTransaction) return undefined;
    const stmt = statements.prepare(text);
    return stmt.reader ? stmt.all(parameters) : undefined;
  };
  // A writer's statements: only writers of a running transaction hold this, and the transaction
  // holds the one connection (Kysely's connection().execute), so nothing else runs on it meanwhile.
  // The result is what Kysely's SQLite driver makes of the same run.
  const exec: DirectExec = (text, parameters) => {
    if (!raw.inTransaction) return undefined;
    const stmt = statements.prepare(text);
    if (stmt.reader) return { rows: stmt.all(parameters) };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  };
  return { db, direct, exec, statements };
}

/** Readiness of a SQLite connection: a trivial statement, its failure mapped like any store error. */
export function pingSqlite(raw: BetterSqlite3.Database): void {
  try {
    raw.prepare('SELECT 1').get();
  } catch (err) {
    throw mapSqliteError(err);
  }
}

export function createSqliteStore(
  databaseUrl: string,
  opts: {
    migrate?: boolean;
    groupCommit?: GroupCommitSettings | undefined;
    synchronous?: 'NORMAL' | 'FULL';
    ftsCompactionIntervalMs?: number | undefined;
  } = {},
): SqliteStore {
  const raw = openSqlite(sqlitePath(databaseUrl), opts.synchronous);
  if (opts.migrate !== false) migrateSqlite(raw);
  return new SqliteStore(raw, { groupCommit: opts.groupCommit, ftsCompactionIntervalMs: opts.ftsCompactionIntervalMs });
}
