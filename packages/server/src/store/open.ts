import type { Config } from '../config.js';
import { createPostgresStore } from './postgres/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export type StoreConfig = Pick<Config, 'databaseUrl'> &
  Partial<Pick<Config, 'pgPoolSize' | 'pgStatementTimeoutMs' | 'pgConnectTimeoutMs'>>;

/** Opens (and migrates) the store named by the database URL. */
export async function openStore(config: StoreConfig, opts: { migrate?: boolean } = {}): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) return createSqliteStore(config.databaseUrl, opts);
  if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    const settings: Record<string, number> = {};
    if (config.pgPoolSize !== undefined) settings.poolSize = config.pgPoolSize;
    if (config.pgStatementTimeoutMs !== undefined) settings.statementTimeoutMs = config.pgStatementTimeoutMs;
    if (config.pgConnectTimeoutMs !== undefined) settings.connectTimeoutMs = config.pgConnectTimeoutMs;
    return createPostgresStore(config.databaseUrl, { ...opts, settings });
  }
  throw new Error('PARLEY_DATABASE_URL must start with sqlite: or postgres://');
}
