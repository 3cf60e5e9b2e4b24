import type { AuthContext } from '../domain/types.js';
import type { Store, WorkspaceReader } from '../store/types.js';
import { type CursorCodec, isIdCursor, otherFilters } from './cursor.js';
import { loadConversation } from './lookup.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface IdPageRequest {
  cursor?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

/**
 * Keyset pages ordered by id (ids are time-ordered ULIDs). The cursor is bound to the workspace
 * and to `kindBase` (what is listed, with its filters) and carries its order and page size:
 * alone, it continues its list.
 */
export async function idPage<T extends { id: string }>(
  cursors: CursorCodec,
  workspaceId: string,
  kindBase: string,
  q: IdPageRequest,
  fetch: (p: { after?: string; order: 'asc' | 'desc'; limit: number }) => Promise<T[]>,
  defaultOrder: 'asc' | 'desc' = 'asc',
): Promise<Page<T>> {
  const c = q.cursor !== undefined ? cursors.decode(workspaceId, kindBase, q.cursor, isIdCursor) : undefined;
  if (c && q.order !== undefined && q.order !== c.o) throw otherFilters();
  const order = c?.o ?? q.order ?? defaultOrder;
  const limit = q.limit ?? c?.n ?? 50;
  const after = c?.i;
  const rows = await fetch({ ...(after !== undefined ? { after } : {}), order, limit: limit + 1 });
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    rows.length > limit && last ? cursors.encode(workspaceId, kindBase, { i: last.id, o: order, n: limit }) : null;
  return { items, nextCursor };
}

/**
 * A page of something a conversation holds (messages, tool steps), read outside a transaction:
 * the conversation is found as the caller may see it first, and the cursor is bound to it.
 */
export function conversationPage<T extends { id: string }>(
  store: Store,
  cursors: CursorCodec,
  auth: AuthContext,
  rawConversationId: string,
  kind: string,
  q: IdPageRequest,
  list: (
    r: WorkspaceReader,
    conversationId: string,
    p: { after?: string; order: 'asc' | 'desc'; limit: number },
  ) => Promise<T[]>,
): Promise<Page<T>> {
  return store.read(auth.workspaceId, async (r) => {
    const conversation = await loadConversation(r, auth, rawConversationId);
    return idPage(cursors, auth.workspaceId, `${kind}:${conversation.id}`, q, (p) => list(r, conversation.id, p));
  });
}
