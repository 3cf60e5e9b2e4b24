import type { AuthContext, Conversation, JsonObject, Message, Role } from '../domain/types.js';
import { notFound } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { WorkspaceWriter } from '../store/types.js';
import { conversationRef } from '../webhooks/events.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { loadConversation, loadMessage } from './lookup.js';
import { conversationPage, type IdPageRequest, type Page } from './pages.js';
import type { Emit, UnitOfWork, Work } from './unit-of-work.js';

const AUTO_TITLE_LENGTH = 80;

export interface NewMessageInput {
  role: Role;
  content: string;
  metadata?: JsonObject | undefined;
}

/** The title a conversation gets from its first user message until a person sets one. */
export function autoTitle(content: string): string | null {
  const flat = content.replace(/\s+/g, ' ').trim();
  if (flat.length === 0) return null;
  const chars = Array.from(flat);
  if (chars.length <= AUTO_TITLE_LENGTH) return flat;
  const cut = chars.slice(0, AUTO_TITLE_LENGTH).join('');
  const space = cut.lastIndexOf(' ');
  return `${(space > AUTO_TITLE_LENGTH / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * Inserts messages into a conversation in the running transaction, in the order given, each with
 * its `message.created` event, then bumps the conversation's counters and times once.
 */
export async function insertMessages(
  w: WorkspaceWriter,
  emit: Emit,
  conversationId: string,
  inputs: readonly NewMessageInput[],
  now: number,
): Promise<Message[]> {
  const messages: Message[] = [];
  for (const input of inputs) {
    const message: Message = {
      id: newId('message', now),
      conversationId,
      role: input.role,
      content: input.content,
      metadata: input.metadata ?? {},
      createdAt: now,
    };
    await w.messages.insert(message);
    await emit(conversationId, { type: 'message.created', data: message }, now);
    messages.push(message);
  }
  if (messages.length > 0) {
    await w.conversations.touch(conversationId, { messages: messages.length, lastMessageAt: now, updatedAt: now });
  }
  return messages;
}

/**
 * A conversation still without a title takes one from the first user message among `inputs`
 * (logged as `conversation.updated`), as it does from the first messages of a create.
 */
export async function titleFromFirstUser(
  { w, emit, notify }: Pick<Work, 'w' | 'emit' | 'notify'>,
  conversation: Conversation,
  inputs: readonly NewMessageInput[],
  now: number,
): Promise<void> {
  if (conversation.titleSource !== null) return;
  const firstUser = inputs.find((m) => m.role === 'user');
  const title = firstUser ? autoTitle(firstUser.content) : null;
  if (title === null) return;
  const retitled = await w.conversations.update(conversation.id, { title, titleSource: 'auto', updatedAt: now });
  if (retitled) {
    await emit(conversation.id, { type: 'conversation.updated', data: retitled }, now);
    await notify('conversation.updated', { conversation: conversationRef(retitled), changes: ['title'] });
  }
}

/** A conversation's messages: append, read, page, rewrite, remove. */
export class MessagesService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
  ) {}

  async append(
    auth: AuthContext,
    rawConversationId: string,
    input: NewMessageInput,
    inTx?: InTransaction<Message>,
  ): Promise<Message> {
    requireScope(auth, 'write:ai');
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit, notify }) => {
        const conversation = await loadConversation(w, auth, rawConversationId);
        const now = this.deps.clock.now();
        const [message] = await insertMessages(w, emit, conversation.id, [input], now);
        if (!message) throw new Error('insertMessages returned no message');
        await titleFromFirstUser({ w, emit, notify }, conversation, [input], now);
        return message;
      },
      inTx,
    );
  }

  async list(auth: AuthContext, rawConversationId: string, q: IdPageRequest): Promise<Page<Message>> {
    requireScope(auth, 'read:ai');
    return conversationPage(this.deps.store, this.cursors, auth, rawConversationId, 'messages', q, (r, id, p) =>
      r.messages.list(id, p),
    );
  }

  /** One message of a conversation; another conversation's message is not found, like a missing one. */
  async get(auth: AuthContext, rawConversationId: string, rawMessageId: string): Promise<Message> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversation = await loadConversation(r, auth, rawConversationId);
      const id = parseId('message', rawMessageId);
      const m = id ? await r.messages.get(conversation.id, id) : null;
      if (!m) throw notFound('Message');
      return m;
    });
  }

  /** A message found by its id alone, with its conversation (paths that name no conversation). */
  async find(auth: AuthContext, rawId: string): Promise<{ conversation: Conversation; message: Message }> {
    requireScope(auth, 'read:ai');
    const id = parseId('message', rawId);
    if (id === null) throw notFound('Message');
    return this.deps.store.read(auth.workspaceId, (r) => loadMessage(r, auth, id));
  }

  /**
   * Rewrites one message in one transaction: `change` computes the new content and metadata from
   * the stored message (so concurrent updates compose); the full-text entry follows the content,
   * the conversation's updated_at moves and a `message.updated` event is logged. `where` is a
   * condition the conversation must meet, as for delete.
   */
  async update(
    auth: AuthContext,
    rawId: string,
    change: (current: Message) => { content: string; metadata: JsonObject },
    inTx?: InTransaction<{ conversation: Conversation; message: Message }>,
    opts: { where?: (c: Conversation) => boolean } = {},
  ): Promise<{ conversation: Conversation; message: Message }> {
    return this.messageWrite(
      auth,
      rawId,
      opts.where,
      async ({ w, emit }, { message: current, conversation }, now) => {
        const message = await w.messages.update(conversation.id, current.id, change(current));
        if (!message) throw notFound('Message');
        await w.conversations.touch(conversation.id, { updatedAt: now });
        await emit(conversation.id, { type: 'message.updated', data: message }, now);
        return { conversation: { ...conversation, updatedAt: now }, message };
      },
      inTx,
    );
  }

  /**
   * Removes one message in one transaction: its row and full-text entry, one off the
   * conversation's message_count, a `message.deleted` event in its log and an audit event.
   * Tool invocations that named it stay, detached. `where` is a condition the conversation must
   * meet (a surface's partition, such as Botpress's bot): otherwise the message is not found.
   */
  async delete(
    auth: AuthContext,
    rawId: string,
    inTx?: InTransaction<Message>,
    opts: { where?: (c: Conversation) => boolean } = {},
  ): Promise<Message> {
    return this.messageWrite(
      auth,
      rawId,
      opts.where,
      async ({ w, emit }, { message, conversation }, now) => {
        const id = message.id;
        const removed = await w.messages.delete(conversation.id, id, now);
        if (!removed) throw notFound('Message');
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'message.deleted',
          targetType: 'message',
          targetId: id,
          counts: { messages: 1, search_entries: removed.search_entries },
          at: now,
        });
        await emit(conversation.id, { type: 'message.deleted', data: { id, conversationId: conversation.id } }, now);
        return message;
      },
      inTx,
    );
  }

  /** A write to one message found by its id alone, as the caller may see it (see loadMessage). */
  private messageWrite<T>(
    auth: AuthContext,
    rawId: string,
    where: ((c: Conversation) => boolean) | undefined,
    body: (work: Work, found: { conversation: Conversation; message: Message }, now: number) => Promise<T>,
    inTx: InTransaction<T> | undefined,
  ): Promise<T> {
    requireScope(auth, 'write:ai');
    const id = parseId('message', rawId);
    if (id === null) throw notFound('Message');
    return this.uow.write(
      auth.workspaceId,
      async (work) => body(work, await loadMessage(work.w, auth, id, where), this.deps.clock.now()),
      inTx,
    );
  }
}
