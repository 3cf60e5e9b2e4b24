import type { Kysely, QueryResult } from 'kysely';
import type { DirectExec, DirectRead, QueryTemplate } from '../query-template.js';
import type { Database } from '../schema.js';
import type { ErasedMany, ErasedRows } from '../types.js';
import type { SearchIndex } from './search-index.js';

/** A connection as the shared queries use it: outside a transaction, or inside one. */
export interface Conn {
  readonly db: Kysely<Database>;
  readonly search: SearchIndex;
  /** Inside a PostgreSQL transaction: a loaded conversation is locked (FOR UPDATE) until commit. */
  readonly lockRows: boolean;
  /** The engine's direct path for hot reads; only outside transactions (see DirectRead). */
  readonly direct: DirectRead | undefined;
  /** The engine's direct path for a writer's statements inside its transaction (see DirectExec). */
  readonly exec?: DirectExec | undefined;
  /** Statements the engine runs its own way instead of the shared queries (see EngineStatements). */
  readonly statements?: EngineStatements | undefined;
}

/**
 * Writes an engine does in fewer round trips than the shared Kysely queries; each is optional and
 * must mean exactly what the shared path does.
 */
export interface EngineStatements {
  /**
   * Erases one conversation whole, whatever its deleted_state (tool invocations, messages and their
   * index entries, events, the row; stored answers to tombstones; off the counters when in view);
   * null when it does not exist. ConversationsWriter.delete's contract.
   */
  eraseConversation?(db: Kysely<Database>, workspaceId: string, id: string): Promise<ErasedRows | null>;
  /** ConversationsWriter.deleteMany's contract, in one statement. */
  eraseConversations?(db: Kysely<Database>, workspaceId: string, ids: readonly string[]): Promise<ErasedMany>;
}

/** A connection bound to one workspace: every query of a reader or writer filters on `ws`. */
export interface Bound extends Conn {
  readonly ws: string;
}

/** A hot-read template, on the engine's direct path when it has one. */
export function hot<P extends Record<string, unknown>, O>(c: Conn, t: QueryTemplate<P, O>, params: P): Promise<O[]> {
  if (c.exec !== undefined) return t.run(c.db, params, c.exec).then((r) => r.rows);
  return t.execute(c.db, params, c.direct);
}

/** A template run by a writer in its transaction, on the engine's direct path when it has one. */
export function stmt<P extends Record<string, unknown>, O>(
  c: Conn,
  t: QueryTemplate<P, O>,
  params: P,
): Promise<QueryResult<O>> {
  return t.run(c.db, params, c.exec);
}

/** A writer is handed an object of its own workspace only; anything else is a bug in the caller. */
export function sameWorkspace(b: Bound, workspaceId: string, what: string): void {
  if (workspaceId !== b.ws) throw new Error(`${what} of workspace ${workspaceId} given to a writer of ${b.ws}`);
}
