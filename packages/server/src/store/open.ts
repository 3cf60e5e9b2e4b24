import type { Config } from '../config.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/** Opens (and migrates) the store named by the database URL. */
export async function openStore(config: Pick<Config, 'databaseUrl'>): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) return createSqliteStore(config.databaseUrl);
  throw new Error('PostgreSQL support arrives with the scale-out work; use a sqlite: URL');
}
