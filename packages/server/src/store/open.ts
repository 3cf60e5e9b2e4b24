import type { GroupCommitSettings } from './kysely/group-commit.js';
import { createPostgresStore, type PgSettings } from './postgres/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/** The database URL and, for PostgreSQL, pool settings (each unset one keeps its default). */
export interface StoreConfig {
  readonly databaseUrl: string;
  readonly pg?: Partial<PgSettings>;
  /** SQLite: `synchronous` of the connection (default normal). */
  readonly sqliteSynchronous?: 'normal' | 'full';
  /** SQLite: the least time between two full-text compaction runs (compaction.ts). */
  readonly ftsCompactionIntervalMs?: number;
  /** Group commit of concurrent writes; off when unset. */
  readonly groupCommit?: GroupCommitSettings | undefined;
}

/** Opens (and, unless told not to, migrates) the store named by the database URL. */
export async function openStore(config: StoreConfig, opts: { migrate?: boolean } = {}): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) {
    return createSqliteStore(config.databaseUrl, {
      ...opts,
      groupCommit: config.groupCommit,
      synchronous: config.sqliteSynchronous === 'full' ? 'FULL' : 'NORMAL',
      ftsCompactionIntervalMs: config.ftsCompactionIntervalMs,
    });
  }
  if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    return createPostgresStore(config.databaseUrl, {
      ...opts,
      settings: { ...config.pg },
      groupCommit: config.groupCommit,
    });
  }
  throw new Error('PARLEY_DATABASE_URL must start with sqlite: or postgres://');
}
