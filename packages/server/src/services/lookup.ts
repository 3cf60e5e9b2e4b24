import type { AuthContext, Conversation, Message } from '../domain/types.js';
import { notFound } from '../errors.js';
import { parseId } from '../ids.js';
import type { WorkspaceReader } from '../store/types.js';
import { canReach } from './context.js';

// How every use case finds what a request names: a malformed id, another workspace's object and
// one a user-bound key cannot reach are all not found, exactly like a missing one.

/** A conversation id as the caller wrote it (either spelling), or 404. */
export function parseConversationId(raw: string): string {
  const id = parseId('conversation', raw);
  if (id === null) throw notFound();
  return id;
}

/** The conversation, if it exists in the reader's workspace and the caller may reach it (canReach). */
export async function loadConversation(r: WorkspaceReader, auth: AuthContext, rawId: string): Promise<Conversation> {
  const c = await r.conversations.get(parseConversationId(rawId));
  if (!c || !canReach(auth, c)) throw notFound();
  return c;
}

/**
 * A message by id with its conversation, as the caller may see it: a message of a conversation the
 * key cannot reach, or that fails `where` (a surface's partition), is not found like a missing one.
 */
export async function loadMessage(
  r: WorkspaceReader,
  auth: AuthContext,
  id: string,
  where?: (c: Conversation) => boolean,
): Promise<{ conversation: Conversation; message: Message }> {
  const message = await r.messages.find(id);
  if (!message) throw notFound('Message');
  const conversation = await loadConversation(r, auth, message.conversationId).catch(() => {
    throw notFound('Message');
  });
  if (where && !where(conversation)) throw notFound('Message');
  return { conversation, message };
}
