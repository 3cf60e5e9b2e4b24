import type { Store } from '../store/types.js';
import { PgBulkLoader } from './pg-writer.js';
import type { BulkConversation } from './rows.js';
import { SqliteBulkLoader } from './sqlite-writer.js';

export type { BulkConversation, BulkMessage, BulkToolInvocation } from './rows.js';

export interface BulkWorkspace {
  id: string;
  name: string;
  createdAt: number;
}

/**
 * The bulk load path shared by `parley seed-data` and importers: rows in, as the API would have
 * written them (counters, full-text entries, tool rows), at disk speed. Each `write` is one
 * transaction: a batch is all or nothing. Call `finish` once after the last batch, also after a
 * failure: it puts back what the load set aside (indexes built after the load, load-time settings).
 *
 * The loader does not check what the API checks (ids unique across workspaces, conversations in
 * their workspace, tool rows pointing at messages of their conversation): the caller hands it
 * rows that are right, and a key conflict fails the batch.
 */
export interface BulkLoader {
  /** Writes the workspaces that are not there yet. */
  workspaces(rows: readonly BulkWorkspace[]): Promise<void>;
  /** Writes a batch of new conversations with their messages and tool invocations; returns messages written. */
  write(batch: readonly BulkConversation[]): Promise<number>;
  /** After the last batch: rebuild what was deferred, restore settings, refresh statistics. */
  finish(): Promise<void>;
}

export interface BulkLoadOptions {
  /**
   * Into empty tables, build secondary and full-text indexes once at the end instead of row by
   * row (default: when the messages table is empty at the start).
   */
  deferIndexes?: boolean;
}

/** The engine's bulk loader for a store. */
export async function openBulkLoader(store: Store, opts: BulkLoadOptions = {}): Promise<BulkLoader> {
  if (store.engine === 'sqlite') {
    return SqliteBulkLoader.open((store as unknown as { raw: import('better-sqlite3').Database }).raw, opts);
  }
  return PgBulkLoader.open((store as unknown as { pool: import('pg').Pool }).pool, opts);
}
