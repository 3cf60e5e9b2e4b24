import type { AuthContext, Conversation, Hold, Message } from '../domain/types.js';
import { ParleyError, validation } from '../errors.js';
import { parseId } from '../ids.js';
import type { DeleteCounts } from '../store/types.js';
import { conversationRef } from '../webhooks/events.js';
import { actingUser, canReach, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import { type CreateConversationInput, deleteConversationIn, newConversation } from './conversations.js';
import { holdCandidate, legalHoldError } from './erase.js';
import { loadConversation } from './lookup.js';
import { insertMessages, type NewMessageInput, titleFromFirstUser } from './messages.js';
import type { UnitOfWork } from './unit-of-work.js';

// Use cases only a compatible surface needs: each is shaped by one product's API, and the
// comment on each names that product. The native API and every other surface share the
// services of conversations, messages and tool invocations.

/** How far find-or-create looks for a match, newest first. */
export const FIND_OR_CREATE_SCAN = 1000;

/** A keyset window anchored on a conversation (compat surfaces whose cursor is an id). */
export interface ListFromInput {
  anchor?: string | undefined;
  orderBy: 'updated_at' | 'created_at';
  order: 'asc' | 'desc';
  limit: number;
  botId?: string | undefined;
  userId?: string | undefined;
  updatedAfter?: number | undefined;
  updatedBefore?: number | undefined;
  archived?: 'exclude' | 'include' | 'only' | undefined;
}

export class CompatService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
  ) {}

  /**
   * Botpress (routes partitioned by bot) and OpenAI (item deletes scoped to a conversation): the
   * conversation itself under the scope of the write or read about to follow, which a surface
   * checks first when it partitions further (Botpress's bot) and then calls a write that does not.
   */
  async conversationFor(auth: AuthContext, rawId: string, scope: 'read:ai' | 'write:ai'): Promise<Conversation> {
    requireScope(auth, scope);
    return this.deps.store.read(auth.workspaceId, (r) => loadConversation(r, auth, rawId));
  }

  /**
   * Botpress (getOrCreateConversation): the newest conversation of the bot that `matches` accepts
   * (among the FIND_OR_CREATE_SCAN most recently updated), else a new one. One transaction, so
   * that, on SQLite, two concurrent calls cannot both create.
   */
  async findOrCreate(
    auth: AuthContext,
    match: { botId: string | null; matches: (c: Conversation) => boolean },
    input: CreateConversationInput,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    requireScope(auth, 'write:ai');
    requireScope(auth, 'read:ai');
    actingUser(auth, input.userId, '/body/user_id');
    return this.uow.write(auth.workspaceId, async ({ w, notify }) => {
      const rows = await w.conversations.list({
        archived: 'include',
        botId: match.botId ?? undefined,
        // a user-bound key finds (and makes) only its user's conversations
        userId: auth.userId ?? undefined,
        orderBy: 'updated_at',
        order: 'desc',
        limit: FIND_OR_CREATE_SCAN,
      });
      const found = rows.find(match.matches);
      if (found) return { conversation: found, created: false };
      const conversation = newConversation(auth, input, this.deps.clock.now());
      await w.conversations.insert(conversation);
      await notify('conversation.created', { conversation: conversationRef(conversation) });
      return { conversation, created: true };
    });
  }

  /** Fini (cursor = a conversation id): up to `limit` conversations strictly after the anchor, in the given order. */
  async listFrom(auth: AuthContext, q: ListFromInput): Promise<Conversation[]> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      let after: { value: number; id: string } | undefined;
      if (q.anchor !== undefined) {
        const id = parseId('conversation', q.anchor);
        const anchor = id === null ? null : await r.conversations.get(id);
        if (!anchor || !canReach(auth, anchor))
          throw validation('/query/cursor', 'cursor does not name a conversation of this workspace');
        after = { value: q.orderBy === 'created_at' ? anchor.createdAt : anchor.updatedAt, id: anchor.id };
      }
      return r.conversations.list({
        archived: q.archived ?? 'include',
        botId: q.botId,
        userId: actingUser(auth, q.userId, '/query/user_id') ?? undefined,
        updatedAfter: q.updatedAfter,
        updatedBefore: q.updatedBefore,
        orderBy: q.orderBy,
        order: q.order,
        after,
        limit: q.limit,
      });
    });
  }

  /**
   * Fini (bulk delete): every listed conversation in one transaction, or none; when any id is
   * missing (or another workspace's) nothing is deleted and not_found names the missing ids; when
   * any is held, nothing is deleted and legal_hold names the held ids. With the trash on they go
   * to the trash.
   */
  async deleteMany(
    auth: AuthContext,
    rawIds: readonly string[],
    inTx?: InTransaction<DeleteCounts[]>,
  ): Promise<DeleteCounts[]> {
    requireScope(auth, 'write:ai');
    const ids = rawIds.map((raw) => ({ raw, id: parseId('conversation', raw) }));
    return this.uow.write(
      auth.workspaceId,
      async (work) => {
        const out: DeleteCounts[] = [];
        const missing: string[] = [];
        const held: Array<{ id: string; hold: Hold; index: number }> = [];
        for (const [index, { raw, id }] of ids.entries()) {
          let removed: Awaited<ReturnType<typeof deleteConversationIn>> = null;
          try {
            removed = id === null ? null : await deleteConversationIn(work, auth, id, this.deps.clock.now());
          } catch (err) {
            // a held conversation is refused before anything of it changes: note it, go on
            const hold =
              err instanceof ParleyError && err.code === 'legal_hold' && id !== null
                ? (
                    await work.w.holds.heldAmong([holdCandidate((await work.w.conversations.get(id)) as Conversation)])
                  ).get(id)
                : undefined;
            if (!hold) throw err;
            held.push({ id: raw, hold, index });
            continue;
          }
          if (!removed) {
            missing.push(raw);
            continue;
          }
          out.push(removed.counts);
          work.announce(removed.event);
        }
        // throwing rolls back the deletions already made: all or nothing
        if (missing.length > 0) {
          throw new ParleyError('not_found', `${missing.length} of ${rawIds.length} conversations were not found`, {
            extra: { missing },
          });
        }
        if (held.length > 0) throw legalHoldError(held);
        return out;
      },
      inTx,
    );
  }

  /** Lexicon (offset-paginated messages with a total): one offset page and the conversation's message count. */
  async listMessagesAt(
    auth: AuthContext,
    rawConversationId: string,
    q: { offset: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<{ conversation: Conversation; items: Message[]; total: number }> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversation = await loadConversation(r, auth, rawConversationId);
      const items = await r.messages.list(conversation.id, { order: q.order, limit: q.limit, offset: q.offset });
      return { conversation, items, total: conversation.messageCount };
    });
  }

  /**
   * OpenAI (items.create): several messages in one transaction, all or none. Titles follow the
   * first user message as a single append does; events are logged with the write.
   */
  async appendMessages(
    auth: AuthContext,
    rawConversationId: string,
    inputs: readonly NewMessageInput[],
    inTx?: InTransaction<{ conversation: Conversation; messages: Message[] }>,
  ): Promise<{ conversation: Conversation; messages: Message[] }> {
    requireScope(auth, 'write:ai');
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit, notify }) => {
        let conversation = await loadConversation(w, auth, rawConversationId);
        const now = this.deps.clock.now();
        const messages = await insertMessages(w, emit, conversation.id, inputs, now);
        await titleFromFirstUser({ w, emit, notify }, conversation, inputs, now);
        conversation = (await w.conversations.get(conversation.id)) ?? conversation;
        return { conversation, messages };
      },
      inTx,
    );
  }

  /**
   * OpenAI (items.list, whose cursor is the last item id it was given): a page of messages after
   * a message id in id order, with whether more follow.
   */
  async listMessagesAfter(
    auth: AuthContext,
    rawConversationId: string,
    q: { after?: string | undefined; order: 'asc' | 'desc'; limit: number },
  ): Promise<{ conversation: Conversation; items: Message[]; hasMore: boolean }> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversation = await loadConversation(r, auth, rawConversationId);
      let after: string | undefined;
      if (q.after !== undefined) {
        const id = parseId('message', q.after);
        if (id === null) throw validation('/query/after', 'after must be an item id of this conversation');
        after = id;
      }
      const rows = await r.messages.list(conversation.id, {
        ...(after !== undefined ? { after } : {}),
        order: q.order,
        limit: q.limit + 1,
      });
      return { conversation, items: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
    });
  }
}
