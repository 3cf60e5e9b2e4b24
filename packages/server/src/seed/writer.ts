import type { SeedConversation } from './generator.js';

/** What `parley seed-data` needs from an engine's bulk writer. */
export interface SeedWriter {
  workspaces(ids: string[], createdAt: number): Promise<void>;
  /** Writes a batch in one transaction; returns messages written. */
  write(batch: SeedConversation[]): Promise<number>;
  /** After the last batch: restore load-time settings, refresh statistics. */
  finish(): Promise<void>;
}
