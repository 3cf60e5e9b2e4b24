import type {
  AuthContext,
  Conversation,
  ConversationContext,
  Json,
  JsonObject,
  Message,
  ToolInvocation,
} from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { ConversationEvent } from '../realtime/events.js';
import { literalTerms, makeSnippet } from '../store/search-terms.js';
import type {
  ConversationFilter,
  ConversationPatch,
  DeleteCounts,
  TotalAnswer,
  WorkspaceWriter,
} from '../store/types.js';
import { conversationRef } from '../webhooks/events.js';
import { recordAudit } from './audit.js';
import { actingUser, actorKeyId, canReach, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import {
  type CursorCodec,
  carriedParams,
  continuedParams,
  isKeysetCursor,
  type ListParams,
  listParams,
} from './cursor.js';
import { DAY_MS, EraseBatch, eraseInBatches, holdCandidate, legalHoldError } from './erase.js';
import { loadConversation, parseConversationId } from './lookup.js';
import { autoTitle, insertMessages, type NewMessageInput } from './messages.js';
import type { UnitOfWork, Work } from './unit-of-work.js';

export const LIST_MAX = 100;
export const MESSAGES_IN_GET_MAX = 1000;
/** Filter combinations that counters cannot answer are counted up to this many rows. */
export const TOTAL_CAP = 10_000;
/**
 * A search's total is counted up to this many conversations: counting every match of a common
 * word in a big workspace is what makes a search slow (on PostgreSQL ~1 s for 10,000 at 1 M
 * messages), and a sidebar only needs "1,000+".
 */
export const SEARCH_TOTAL_CAP = 1_000;
const TITLE_MAX = 200;

/** Live streams per conversation, across instances (realtime presence). */
export interface LiveCount {
  liveConnections(workspaceId: string, conversationId: string): Promise<number>;
}

export interface CreateConversationInput {
  title?: string | undefined;
  userId?: string | undefined;
  botId?: string | undefined;
  context?: ConversationContext | undefined;
  metadata?: JsonObject | undefined;
  messages?: NewMessageInput[] | undefined;
}

export interface ListConversationsInput {
  page?: number | undefined;
  /** Rows to skip instead of whole pages (offset-paginated compat surfaces). */
  offset?: number | undefined;
  perPage?: number | undefined;
  cursor?: string | undefined;
  userId?: string | undefined;
  botId?: string | undefined;
  contactId?: string | undefined;
  dealId?: string | undefined;
  matterId?: string | undefined;
  archived?: 'false' | 'true' | 'only' | undefined;
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
  updatedAfter?: number | undefined;
  updatedBefore?: number | undefined;
  /** relevance (best match first) needs `search`; surfaces choose their own default. */
  orderBy?: 'updated_at' | 'created_at' | 'relevance' | undefined;
  order?: 'asc' | 'desc' | undefined;
  search?: string | undefined;
}

/** Why a conversation answered a search: its best-matching text, cut to a snippet. */
export interface SearchMatch {
  messageId: string | null;
  field: 'title' | 'content';
  snippet: string;
  /** UTF-16 offsets into `snippet`. */
  highlights: Array<{ start: number; end: number }>;
}

export interface ConversationPage {
  items: Conversation[];
  /** With `search`: one per item, in the same order. */
  matches: SearchMatch[] | null;
  total: TotalAnswer;
  page: number | null;
  perPage: number;
  nextCursor: string | null;
}

export interface UpdateConversationInput {
  /** null returns to the automatic title (made from the first user message). */
  title?: string | null | undefined;
  archived?: boolean | undefined;
  /** Merged into the stored context; a null value clears that key, null itself clears them all. */
  context?: Record<string, Json> | null | undefined;
  /** Merged into the stored metadata; a null value removes that key. */
  metadata?: Record<string, Json> | undefined;
}

/** What defines a conversation list; a cursor keeps these (defaults filled in). */
const LIST_DEFAULTS: ListParams = { orderBy: 'updated_at', order: 'desc', archived: 'false' };
const listParamsOf = (i: ListConversationsInput) => ({
  userId: i.userId,
  botId: i.botId,
  contactId: i.contactId,
  dealId: i.dealId,
  matterId: i.matterId,
  archived: i.archived,
  createdAfter: i.createdAfter,
  createdBefore: i.createdBefore,
  updatedAfter: i.updatedAfter,
  updatedBefore: i.updatedBefore,
  orderBy: i.orderBy,
  order: i.order,
  search: i.search,
});

export interface ConversationDetail {
  conversation: Conversation;
  messages: Message[];
  toolInvocations: ToolInvocation[] | null;
}

function mergePatch(base: Record<string, Json | undefined>, patch: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * The one way a new conversation is made: in the caller's workspace, for the user the request acts
 * for (a user-bound key's own), with no messages yet. A title given is the user's; else
 * `generated` (from the first user message) is automatic; else there is none yet.
 */
export function newConversation(
  auth: AuthContext,
  input: CreateConversationInput,
  now: number,
  generated: string | null = null,
): Conversation {
  return {
    id: newId('conversation', now),
    workspaceId: auth.workspaceId,
    userId: actingUser(auth, input.userId, '/body/user_id'),
    botId: input.botId ?? null,
    title: input.title ?? generated,
    titleSource: input.title !== undefined ? 'user' : generated !== null ? 'auto' : null,
    context: mergePatch({}, (input.context ?? {}) as Record<string, Json>) as ConversationContext,
    metadata: input.metadata ?? {},
    archived: false,
    messageCount: 0,
    toolInvocationCount: 0,
    lastMessageAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * One conversation's delete inside a write: refused with 409 legal_hold while a hold covers it;
 * with the workspace's trash on (trash_days > 0) it goes to the trash (out of view, restorable
 * until its window ends), else its rows are erased. Either way an audit event and its deleted
 * event (delivered live only; streams end). Null when it is missing or out of reach.
 */
export async function deleteConversationIn(
  { w, notify }: Pick<Work, 'w' | 'notify'>,
  auth: AuthContext,
  id: string,
  now: number,
): Promise<{ counts: DeleteCounts; event: ConversationEvent; trashed: boolean } | null> {
  // the row (locked on PostgreSQL) and its last event seq in one read
  const [found] = await w.conversations.getMany([id]);
  if (!found || !canReach(auth, found.conversation)) return null;
  const c = found.conversation;
  const lastSeq = found.eventSeq;
  const hold = (await w.holds.heldAmong([holdCandidate(c)])).get(id);
  if (hold) throw legalHoldError([{ id, hold }]);
  const days = await w.trash.days();
  let counts: DeleteCounts;
  if (days > 0) {
    await w.conversations.hide([id], 'trash', now, now + days * DAY_MS);
    counts = { messages: c.messageCount, tool_invocations: c.toolInvocationCount, search_entries: 0 };
  } else {
    const erased = await w.conversations.delete(id);
    if (!erased) return null;
    counts = {
      messages: erased.messages,
      tool_invocations: erased.tool_invocations,
      search_entries: erased.search_entries,
    };
  }
  await recordAudit(w, {
    actor: actorKeyId(auth),
    action: days > 0 ? 'conversation.trashed' : 'conversation.deleted',
    targetType: 'conversation',
    targetId: id,
    counts: { conversations: 1, ...counts },
    at: now,
  });
  await notify(days > 0 ? 'conversation.trashed' : 'conversation.deleted', {
    conversation: { id, user_id: c.userId },
    counts: { messages: counts.messages, tool_invocations: counts.tool_invocations },
    ...(days > 0 ? { purge_at: new Date(now + days * DAY_MS).toISOString() } : {}),
  });
  return { counts, event: deletedEvent(auth.workspaceId, id, lastSeq, now), trashed: days > 0 };
}

/** The last word a live stream hears of a conversation that left view: it ends the stream. */
function deletedEvent(workspaceId: string, id: string, lastSeq: number, now: number): ConversationEvent {
  return {
    workspaceId,
    conversationId: id,
    seq: lastSeq + 1,
    type: 'conversation.deleted',
    payload: JSON.stringify({ id }),
    createdAt: now,
  };
}

/** Most ids one bulk delete takes. */
export const BULK_DELETE_MAX = 1000;

export type BulkDeleteStatus = 'deleted' | 'not_found' | 'held';

export interface BulkDeleteResult {
  results: Array<{ id: string; status: BulkDeleteStatus; holdId?: string }>;
  deleted: number;
  notFound: number;
  held: number;
  /** true when the deleted conversations went to the trash (restorable). */
  trashed: boolean;
}

/** Conversations: create (with first messages), list and search, read, update, delete. */
export class ConversationsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
  ) {}

  private live: LiveCount | undefined;

  /** Deletes consult this for live streams (set by realtime; without it nothing is ever live). */
  watchPresence(live: LiveCount): void {
    this.live = live;
  }

  /** 409 conversation_busy while streams are open; presence that cannot be read throws 503 itself. */
  private async assertNotLive(workspaceId: string, id: string): Promise<void> {
    if (!this.live) return;
    const live = await this.live.liveConnections(workspaceId, id);
    if (live > 0) {
      const message = `The conversation has ${live} live connection(s) and the delete was asked with if_idle=true; delete without if_idle to end them`;
      throw new ParleyError('conversation_busy', message, {
        extra: { live_connections: live },
        details: [{ field: '/live_connections', message: `${live} live connection(s)` }],
      });
    }
  }

  async create(
    auth: AuthContext,
    input: CreateConversationInput,
    inTx?: InTransaction<ConversationDetail>,
  ): Promise<ConversationDetail> {
    requireScope(auth, 'write:ai');
    const now = this.deps.clock.now();
    const firstUser = input.messages?.find((m) => m.role === 'user');
    const generated = input.title === undefined && firstUser ? autoTitle(firstUser.content) : null;
    const conversation = newConversation(auth, input, now, generated);
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit, notify }) => {
        await w.conversations.insert(conversation);
        const messages = await insertMessages(w, emit, conversation.id, input.messages ?? [], now);
        if (messages.length > 0) {
          conversation.messageCount = messages.length;
          conversation.lastMessageAt = now;
        }
        await notify('conversation.created', { conversation: conversationRef(conversation) });
        // in the order they were sent, as GET returns them by default
        return { conversation, messages, toolInvocations: null };
      },
      inTx,
    );
  }

  async list(auth: AuthContext, requested: ListConversationsInput): Promise<ConversationPage> {
    requireScope(auth, 'read:ai');
    if (requested.cursor !== undefined && requested.page !== undefined) {
      throw validation('/query/cursor', 'Use either page or cursor, not both');
    }
    // a cursor carries the filters and sort of its list: alone, it continues that list
    const { input, after } = this.continueList(auth.workspaceId, requested);
    const perPage = input.perPage ?? 25;
    const orderBy = input.orderBy ?? 'updated_at';
    if (orderBy === 'relevance' && input.search === undefined) {
      throw validation('/query/order_by', 'order_by=relevance needs search');
    }
    const order = input.order ?? 'desc';
    const filter: ConversationFilter = {
      userId: actingUser(auth, input.userId, '/query/user_id') ?? undefined,
      botId: input.botId,
      contactId: input.contactId,
      dealId: input.dealId,
      matterId: input.matterId,
      archived: input.archived === 'true' ? 'include' : input.archived === 'only' ? 'only' : 'exclude',
      createdAfter: input.createdAfter,
      createdBefore: input.createdBefore,
      updatedAfter: input.updatedAfter,
      updatedBefore: input.updatedBefore,
      search: input.search,
    };
    const page = input.cursor !== undefined ? null : (input.page ?? 1);
    const query = {
      ...filter,
      orderBy,
      order,
      after: after ? { value: after.v, id: after.i } : undefined,
      offset: page !== null ? (input.offset ?? (page - 1) * perPage) : undefined,
      limit: perPage + 1,
    };
    const cap = filter.search !== undefined ? SEARCH_TOTAL_CAP : TOTAL_CAP;
    return this.deps.store.read(auth.workspaceId, async (r) => {
      // a search counts its total with its page (searchPage: one statement where the ranked rows say it)
      const searched = input.search !== undefined ? await r.conversations.searchPage(query, cap) : null;
      const total = searched ? searched.total : await r.conversations.total(filter, cap);
      const position = (c: Conversation, score: number) =>
        orderBy === 'relevance' ? score : orderBy === 'created_at' ? c.createdAt : c.updatedAt;
      // bound to the workspace (MAC) and, inside, to the list's filters and sort
      const bound = carriedParams(listParams(listParamsOf(input), LIST_DEFAULTS));
      const cursorAfter = (c: Conversation | undefined, score: number, more: boolean) =>
        more && c
          ? this.cursors.encode(auth.workspaceId, 'conversations', {
              v: position(c, score),
              i: c.id,
              q: bound,
              n: perPage,
            })
          : null;
      if (searched !== null && input.search !== undefined) {
        const rows = searched.rows.slice(0, perPage + 1);
        const shown = rows.slice(0, perPage);
        const terms = literalTerms(input.search);
        const last = shown[shown.length - 1];
        return {
          items: shown.map((r) => r.conversation),
          matches: shown.map((r) => ({
            messageId: r.hit.messageId,
            field: r.hit.field,
            ...makeSnippet(r.hit.text, terms),
          })),
          total,
          page,
          perPage,
          nextCursor: cursorAfter(last?.conversation, last?.score ?? 0, rows.length > perPage),
        };
      }
      const rows = await r.conversations.list(query);
      const items = rows.slice(0, perPage);
      const nextCursor = cursorAfter(items[items.length - 1], 0, rows.length > perPage);
      return { items, matches: null, total, page, perPage, nextCursor };
    });
  }

  /** The request's list, or, for a cursor, the list it was minted for (see continuedParams). */
  private continueList(
    workspaceId: string,
    requested: ListConversationsInput,
  ): { input: ListConversationsInput; after: { v: number; i: string } | undefined } {
    if (requested.cursor === undefined) return { input: requested, after: undefined };
    const c = this.cursors.decode(workspaceId, 'conversations', requested.cursor, isKeysetCursor);
    const q = continuedParams(listParamsOf(requested), LIST_DEFAULTS, c.q);
    const input: ListConversationsInput = { ...requested, ...(q as Partial<ListConversationsInput>) };
    return { input: { ...input, perPage: requested.perPage ?? c.n }, after: c };
  }

  async get(
    auth: AuthContext,
    rawId: string,
    opts: {
      limit?: number | undefined;
      includeToolSteps?: boolean | undefined;
      /** The most recent `limit` either way; asc (default) shows them oldest first, as a transcript reads. */
      order?: 'asc' | 'desc' | undefined;
    } = {},
  ): Promise<ConversationDetail> {
    requireScope(auth, 'read:ai');
    const limit = opts.limit ?? 200;
    const inOrder = <T>(newestFirst: T[]): T[] => (opts.order === 'desc' ? newestFirst : newestFirst.reverse());
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversation = await loadConversation(r, auth, rawId);
      const messages = await r.messages.list(conversation.id, { order: 'desc', limit });
      const toolInvocations = opts.includeToolSteps
        ? inOrder(await r.toolInvocations.list(conversation.id, { order: 'desc', limit }))
        : null;
      return { conversation, messages: inOrder(messages), toolInvocations };
    });
  }

  async update(
    auth: AuthContext,
    rawId: string,
    input: UpdateConversationInput,
    inTx?: InTransaction<Conversation>,
  ): Promise<Conversation> {
    requireScope(auth, 'write:ai');
    if (
      input.title === undefined &&
      input.archived === undefined &&
      input.context === undefined &&
      input.metadata === undefined
    ) {
      throw validation('/body', 'Provide at least one of title, archived, context, metadata');
    }
    if (
      typeof input.title === 'string' &&
      (input.title.trim().length === 0 || Array.from(input.title).length > TITLE_MAX)
    ) {
      throw validation('/body/title', `title must be 1 to ${TITLE_MAX} characters`);
    }
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit, notify }) => {
        const current = await loadConversation(w, auth, rawId);
        const patch: ConversationPatch = { updatedAt: this.deps.clock.now() };
        if (typeof input.title === 'string') {
          patch.title = input.title;
          patch.titleSource = 'user';
        } else if (input.title === null) {
          Object.assign(patch, await this.automaticTitle(w, current.id));
        }
        if (input.archived !== undefined) patch.archived = input.archived;
        if (input.context === null) patch.context = {};
        else if (input.context !== undefined) {
          patch.context = mergePatch(current.context, input.context) as ConversationContext;
        }
        if (input.metadata !== undefined) patch.metadata = mergePatch(current.metadata, input.metadata);
        const updated = await w.conversations.update(current.id, patch);
        if (!updated) throw notFound();
        await this.auditUpdate(w, auth, current, updated, patch.updatedAt);
        const archivedNow = input.archived === true && !current.archived;
        await emit(
          current.id,
          { type: archivedNow ? 'conversation.archived' : 'conversation.updated', data: updated },
          patch.updatedAt,
        );
        await this.notifyUpdate(notify, current, updated);
        return updated;
      },
      inTx,
    );
  }

  /**
   * The title a conversation returns to when a person clears theirs: made from its first user
   * message; without one, none yet (source null), and its next user message titles it.
   */
  private async automaticTitle(
    w: WorkspaceWriter,
    id: string,
  ): Promise<{ title: string | null; titleSource: 'auto' | null }> {
    const first = await w.messages.firstOfRole(id, 'user');
    const title = first ? autoTitle(first.content) : null;
    return { title, titleSource: title !== null ? 'auto' : null };
  }

  /**
   * Removes the conversation and everything derived from it in one transaction, with an audit
   * event. Live streams do not stop it: the deleted event ends every stream on every instance
   * (close 4410). With `ifIdle` (native `?if_idle=true`; Lexicon's documented 409) a conversation
   * with live streams is refused with 409 conversation_busy instead.
   */
  async delete(
    auth: AuthContext,
    rawId: string,
    inTx?: InTransaction<DeleteCounts>,
    opts: { ifIdle?: boolean } = {},
  ): Promise<DeleteCounts> {
    requireScope(auth, 'write:ai');
    const id = parseConversationId(rawId);
    if (opts.ifIdle) {
      // what the caller may not see is missing, before its liveness can say otherwise
      await this.deps.store.read(auth.workspaceId, (r) => loadConversation(r, auth, rawId));
      await this.assertNotLive(auth.workspaceId, id);
    }
    return this.uow.write(
      auth.workspaceId,
      async (work) => {
        const removed = await deleteConversationIn(work, auth, id, this.deps.clock.now());
        if (!removed) throw notFound();
        work.announce(removed.event);
        return removed.counts;
      },
      inTx,
    );
  }

  /**
   * Native bulk delete. Atomic (the default): when any reachable id is held, nothing is deleted and
   * 409 legal_hold names the held ids; otherwise every id is deleted or not_found (missing, another
   * workspace's, out of a user-bound key's reach: indistinguishable). Not atomic: held ids are
   * skipped and reported. All chosen conversations leave view in one short transaction (the
   * answer and the audit row commit with it); with the trash off their rows are then erased in
   * short batches (eraseInBatches), and the purge sweep finishes any a crash left. On PostgreSQL
   * a set that fits one erase batch (EraseBatch.fitsOne) is erased in that first transaction
   * instead: nothing marked, nothing left for a second phase.
   */
  async bulkDelete(
    auth: AuthContext,
    rawIds: readonly string[],
    atomic: boolean,
    inTx?: InTransaction<BulkDeleteResult>,
  ): Promise<BulkDeleteResult> {
    requireScope(auth, 'write:ai');
    if (rawIds.length === 0 || rawIds.length > BULK_DELETE_MAX) {
      throw validation('/body/ids', `ids must hold 1 to ${BULK_DELETE_MAX} conversation ids`);
    }
    // a repeated id is answered once, at its first place
    const asked = [...new Set(rawIds)].map((raw, index) => ({ raw, index, id: parseId('conversation', raw) }));
    let toErase: string[] = [];
    const batch = EraseBatch.for(this.deps);
    const result = await this.uow.write(
      auth.workspaceId,
      async ({ w, announce, notify }) => {
        const now = this.deps.clock.now();
        const ids = asked.flatMap((a) => (a.id === null ? [] : [a.id]));
        const found = new Map<string, { conversation: Conversation; eventSeq: number }>();
        for (const row of await w.conversations.getMany(ids)) {
          if (canReach(auth, row.conversation)) found.set(row.conversation.id, row);
        }
        const held = await w.holds.heldAmong([...found.values()].map((f) => holdCandidate(f.conversation)));
        if (atomic && held.size > 0) {
          throw legalHoldError(
            asked.flatMap((a) => {
              const hold = a.id === null ? undefined : held.get(a.id);
              return hold ? [{ id: a.raw, hold, index: a.index }] : [];
            }),
          );
        }
        const chosen = [...found.keys()].filter((id) => !held.has(id));
        const days = await w.trash.days();
        // the set leaves view now: into the trash, erased here when it fits one erase batch
        // (PostgreSQL: no hide, no second phase, all or nothing by this transaction), else marked
        // 'erasing' and erased in batches after the answer
        let erasedHere = false;
        if (days > 0) await w.conversations.hide(chosen, 'trash', now, now + days * DAY_MS);
        else if (chosen.length > 0 && batch.fitsOne(chosen.length)) {
          batch.begin();
          await w.conversations.deleteMany(chosen);
          batch.end(chosen.length);
          erasedHere = true;
        } else await w.conversations.hide(chosen, 'erasing', now, now);
        for (const id of chosen) {
          const { conversation: c, eventSeq } = found.get(id) as { conversation: Conversation; eventSeq: number };
          announce(deletedEvent(auth.workspaceId, id, eventSeq, now));
          await notify(days > 0 ? 'conversation.trashed' : 'conversation.deleted', {
            conversation: { id, user_id: c.userId },
            counts: { messages: c.messageCount, tool_invocations: c.toolInvocationCount },
            ...(days > 0 ? { purge_at: new Date(now + days * DAY_MS).toISOString() } : {}),
          });
        }
        toErase = days > 0 || erasedHere ? [] : chosen;
        const results = asked.map((a) => {
          const hold = a.id === null ? undefined : held.get(a.id);
          if (hold) return { id: a.raw, status: 'held' as const, holdId: hold.id };
          if (a.id !== null && found.has(a.id)) return { id: a.raw, status: 'deleted' as const };
          return { id: a.raw, status: 'not_found' as const };
        });
        const out: BulkDeleteResult = {
          results,
          deleted: chosen.length,
          held: held.size,
          notFound: asked.length - chosen.length - held.size,
          trashed: days > 0,
        };
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'conversations.bulk_deleted',
          targetType: 'conversation',
          targetId: chosen.length === 1 ? (chosen[0] as string) : '*',
          counts: {
            requested: asked.length,
            conversations: out.deleted,
            not_found: out.notFound,
            held: out.held,
            trashed: out.trashed ? out.deleted : 0,
          },
          at: now,
        });
        return out;
      },
      inTx,
    );
    if (toErase.length > 0) {
      // already out of view and answered for; a failure here leaves them marked, and the purge
      // sweep erases them
      await eraseInBatches(this.uow, auth.workspaceId, toErase, batch).catch(() => undefined);
    }
    return result;
  }

  /** Brings a conversation back from the trash within its window, exactly as it was; else 404. */
  async restore(auth: AuthContext, rawId: string, inTx?: InTransaction<Conversation>): Promise<Conversation> {
    requireScope(auth, 'write:ai');
    const id = parseConversationId(rawId);
    return this.uow.write(
      auth.workspaceId,
      async ({ w, notify }) => {
        const now = this.deps.clock.now();
        const t = await w.trash.get(id);
        if (!t || !canReach(auth, t.conversation) || t.purgeAt <= now) throw notFound();
        const restored = await w.conversations.restore(id);
        if (!restored) throw notFound();
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'conversation.restored',
          targetType: 'conversation',
          targetId: id,
          counts: { conversations: 1, messages: restored.messageCount, tool_invocations: restored.toolInvocationCount },
          at: now,
        });
        await notify('conversation.restored', { conversation: conversationRef(restored) });
        return restored;
      },
      inTx,
    );
  }

  /**
   * Webhooks of an update: `conversation.archived` when the archived flag changed (either way;
   * `data.conversation.archived` says which), `conversation.updated` naming the other fields
   * that changed (never their values).
   */
  private async notifyUpdate(notify: Work['notify'], before: Conversation, after: Conversation) {
    const conversation = conversationRef(after);
    if (after.archived !== before.archived) await notify('conversation.archived', { conversation });
    const changes: string[] = [];
    if (after.title !== before.title) changes.push('title');
    if (JSON.stringify(after.context) !== JSON.stringify(before.context)) changes.push('context');
    if (JSON.stringify(after.metadata) !== JSON.stringify(before.metadata)) changes.push('metadata');
    if (changes.length > 0) await notify('conversation.updated', { conversation, changes });
  }

  /** Archive, unarchive and rename leave audit rows: what happened and who, never the title. */
  private async auditUpdate(
    w: WorkspaceWriter,
    auth: AuthContext,
    before: Conversation,
    after: Conversation,
    now: number,
  ) {
    const actions: string[] = [];
    if (after.archived !== before.archived)
      actions.push(after.archived ? 'conversation.archived' : 'conversation.unarchived');
    if (after.title !== before.title) actions.push('conversation.renamed');
    for (const action of actions) {
      await recordAudit(w, {
        actor: actorKeyId(auth),
        action,
        targetType: 'conversation',
        targetId: after.id,
        at: now,
      });
    }
  }
}
