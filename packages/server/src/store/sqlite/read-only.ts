import BetterSqlite3 from 'better-sqlite3';
import { KyselyStore } from '../kysely/store.js';
import type { MigrationReport, ReclaimReport } from '../types.js';
import { pingSqlite, sqliteKysely } from './index.js';
import { createSqliteSearch } from './search.js';

/**
 * A read-only connection of its own to a Parley SQLite file (an export worker's, in another
 * thread): the store's reads (the same queries, statement cache and direct path), no writes, no
 * migrations, no checkpoints. Under WAL each read statement sees the last commit when it starts.
 */
export class SqliteReadStore extends KyselyStore {
  readonly engine = 'sqlite' as const;

  constructor(readonly raw: BetterSqlite3.Database) {
    // never in a transaction: every read takes the direct path
    const { db, direct } = sqliteKysely(raw);
    super(db, createSqliteSearch(), direct);
  }

  protected runTransaction<T>(): Promise<T> {
    return Promise.reject(new Error('a read-only SQLite store does not write'));
  }

  async reclaim(): Promise<ReclaimReport> {
    throw new Error('a read-only SQLite store does not reclaim');
  }

  async migrate(): Promise<MigrationReport> {
    throw new Error('a read-only SQLite store does not migrate');
  }

  async ping(): Promise<void> {
    pingSqlite(this.raw);
  }

  async close(): Promise<void> {
    await this.kysely.destroy();
  }
}

/** Opens `file` (an existing database, WAL mode set by the server's connection) read-only. */
export function openSqliteReadOnly(file: string): SqliteReadStore {
  const raw = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  raw.pragma('busy_timeout = 5000');
  return new SqliteReadStore(raw);
}
