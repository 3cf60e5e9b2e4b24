import type { Kysely } from 'kysely';
import type { DirectExec, DirectRead } from '../query-template.js';
import type { Database } from '../schema.js';
import type {
  InstanceReader,
  InstanceWriter,
  MigrationReport,
  NewIdempotencyRecord,
  ReclaimReport,
  Store,
  WorkspaceReader,
  WorkspaceWriter,
} from '../types.js';
import type { Conn, EngineStatements } from './bound.js';
import { IdempotencyWriter } from './idempotency.js';
import { KyselyInstanceReader, KyselyInstanceWriter } from './instance.js';
import type { SearchIndex } from './search-index.js';
import { KyselyWorkspaceReader, KyselyWorkspaceWriter } from './workspace.js';

/**
 * What SQLite and PostgreSQL share: readers outside transactions (the engine's direct path for
 * hot reads), writers inside one. An engine supplies its transaction, migrations and probe, and
 * maps its own busy / unreachable errors to service_unavailable where its driver raises them.
 */
export abstract class KyselyStore implements Store {
  abstract readonly engine: 'sqlite' | 'postgres';
  readonly instance: InstanceReader;
  private readonly outside: Conn;
  /** Told the size of each group of writes committed together (group commit on). */
  protected groupObserver: ((size: number) => void) | undefined;
  /**
   * The engine's way to run one statement as a transaction of its own (PostgreSQL: on the pool,
   * autocommit), when a lone write may skip `transact`; undefined: it may not (see claimIdempotency).
   */
  protected autocommit: DirectExec | undefined;

  constructor(
    readonly kysely: Kysely<Database>,
    protected readonly search: SearchIndex,
    direct: DirectRead | undefined,
    protected readonly statements?: EngineStatements,
    /** The engine's direct path for writers' statements in its transactions (SQLite). */
    private readonly exec?: DirectExec,
  ) {
    this.outside = { db: kysely, search, lockRows: false, direct, statements };
    this.instance = new KyselyInstanceReader(this.outside);
  }

  /**
   * Runs fn in one transaction; `lockRows` says whether a loaded conversation is locked until
   * commit (PostgreSQL, whose writers do not queue on one file lock). `partition` is the
   * workspace (or '' for the instance): group commit never runs two groups of one partition at once.
   */
  protected abstract runTransaction<T>(
    fn: (db: Kysely<Database>, lockRows: boolean) => Promise<T>,
    partition: string,
  ): Promise<T>;

  read<T>(workspaceId: string, fn: (r: WorkspaceReader) => Promise<T>): Promise<T> {
    return fn(new KyselyWorkspaceReader({ ...this.outside, ws: workspaceId }));
  }

  transact<T>(workspaceId: string, fn: (w: WorkspaceWriter) => Promise<T>): Promise<T> {
    return this.runTransaction(
      (db, lockRows) =>
        fn(
          new KyselyWorkspaceWriter({
            db,
            search: this.search,
            lockRows,
            direct: undefined,
            exec: this.exec,
            statements: this.statements,
            ws: workspaceId,
          }),
        ),
      workspaceId,
    );
  }

  claimIdempotency(workspaceId: string, rec: NewIdempotencyRecord): Promise<boolean> {
    if (this.autocommit === undefined) return this.transact(workspaceId, (w) => w.idempotency.claim(rec));
    // the claim is one INSERT … ON CONFLICT DO NOTHING: atomic on its own, nothing else to commit with it
    return new IdempotencyWriter({ ...this.outside, direct: undefined, exec: this.autocommit, ws: workspaceId }).claim(
      rec,
    );
  }

  transactInstance<T>(fn: (w: InstanceWriter) => Promise<T>): Promise<T> {
    return this.runTransaction(
      (db, lockRows) =>
        fn(
          new KyselyInstanceWriter({
            db,
            search: this.search,
            lockRows,
            direct: undefined,
            exec: this.exec,
            statements: this.statements,
          }),
        ),
      '',
    );
  }

  observeGroups(fn: (size: number) => void): void {
    this.groupObserver = fn;
  }

  abstract reclaim(tables: readonly string[], mode: 'plain' | 'full'): Promise<ReclaimReport>;
  abstract migrate(): Promise<MigrationReport>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
