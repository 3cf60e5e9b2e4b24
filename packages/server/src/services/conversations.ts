import type {
  AuthContext,
  Conversation,
  ConversationContext,
  Json,
  JsonObject,
  Message,
  Role,
  ToolInvocation,
  ToolStatus,
} from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { ConversationEvent, EventPayload, EventPublisher } from '../realtime/events.js';
import { literalTerms, makeSnippet } from '../store/search-terms.js';
import type {
  AuditFilter,
  ConversationFilter,
  ConversationPatch,
  DeleteCounts,
  Repo,
  TotalAnswer,
} from '../store/types.js';
import { actingUser, actorKeyId, canReach, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import {
  type CursorCodec,
  carriedParams,
  continuedParams,
  isIdCursor,
  isKeysetCursor,
  type ListParams,
  listParams,
  otherFilters,
} from './cursor.js';

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
const AUTO_TITLE_LENGTH = 80;

export interface NewMessageInput {
  role: Role;
  content: string;
  metadata?: JsonObject | undefined;
}

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

/** How far find-or-create looks for a match, newest first. */
export const FIND_OR_CREATE_SCAN = 1000;

export interface ConversationDetail {
  conversation: Conversation;
  messages: Message[];
  toolInvocations: ToolInvocation[] | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface NewToolInvocationInput {
  toolName: string;
  input?: Json | undefined;
  output?: Json | undefined;
  status?: ToolStatus | undefined;
  messageId?: string | undefined;
  startedAt?: number | undefined;
  finishedAt?: number | undefined;
}

export interface UpdateToolInvocationInput {
  output?: Json | undefined;
  status?: ToolStatus | undefined;
  messageId?: string | null | undefined;
  startedAt?: number | null | undefined;
  finishedAt?: number | null | undefined;
}

const TERMINAL: ReadonlySet<ToolStatus> = new Set(['succeeded', 'failed', 'cancelled']);

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

function mergePatch(base: Record<string, Json | undefined>, patch: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Appends an event to the conversation's log inside the running transaction. */
type Emit = (workspaceId: string, conversationId: string, event: EventPayload, at: number) => Promise<void>;

export class ConversationsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly cursors: CursorCodec,
    /** Receives each write's events after its transaction commits (never before, never on rollback). */
    private readonly events?: EventPublisher,
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

  /** A write transaction whose events are logged with it and published once it has committed. */
  private async write<T>(fn: (tx: Repo, emit: Emit) => Promise<T>): Promise<T> {
    let committed: ConversationEvent[] = [];
    const result = await this.deps.store.transaction(async (tx) => {
      committed = [];
      return fn(tx, async (workspaceId, conversationId, event, at) => {
        const payload = JSON.stringify(event.data);
        const seq = await tx.appendConversationEvent({
          workspaceId,
          conversationId,
          type: event.type,
          payload,
          createdAt: at,
        });
        if (seq === null) throw notFound();
        committed.push({ workspaceId, conversationId, seq, type: event.type, payload, createdAt: at });
      });
    });
    if (committed.length > 0) this.events?.publish(committed);
    return result;
  }

  /** What a live stream needs before it attaches: the conversation exists here, and its last seq. */
  async streamPosition(auth: AuthContext, rawId: string): Promise<{ conversationId: string; seq: number }> {
    requireScope(auth, 'read:ai');
    const conversationId =
      auth.userId === null ? this.resolveId(rawId) : (await this.load(this.deps.store, auth, rawId)).id;
    const seq = await this.deps.store.conversationEventSeq(auth.workspaceId, conversationId);
    if (seq === null) throw notFound();
    return { conversationId, seq };
  }

  /** Logged events after `afterSeq` (up to `upTo`), oldest first; the caller already holds access. */
  async loggedEvents(
    workspaceId: string,
    conversationId: string,
    afterSeq: number,
    opts: { upTo?: number | undefined; limit: number },
  ): Promise<ConversationEvent[]> {
    const rows = await this.deps.store.listConversationEvents(workspaceId, conversationId, {
      afterSeq,
      upTo: opts.upTo,
      limit: opts.limit,
    });
    return rows.map((r) => ({ ...r, type: r.type as ConversationEvent['type'] }));
  }

  private resolveId(raw: string): string {
    const id = parseId('conversation', raw);
    if (id === null) throw notFound();
    return id;
  }

  /** The conversation, if it exists in the caller's workspace and the caller may reach it (canReach). */
  private async load(tx: Repo, auth: AuthContext, rawId: string): Promise<Conversation> {
    const c = await tx.getConversation(auth.workspaceId, this.resolveId(rawId));
    if (!c || !canReach(auth, c)) throw notFound();
    return c;
  }

  /**
   * Inserts messages into a conversation in the running transaction, in the order given, each with
   * its `message.created` event, then bumps the conversation's counters and times once.
   */
  private async insertMessages(
    tx: Repo,
    emit: Emit,
    workspaceId: string,
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
      await tx.insertMessage(workspaceId, message);
      await emit(workspaceId, conversationId, { type: 'message.created', data: message }, now);
      messages.push(message);
    }
    if (messages.length > 0) {
      await tx.touchConversation(workspaceId, conversationId, {
        messages: messages.length,
        lastMessageAt: now,
        updatedAt: now,
      });
    }
    return messages;
  }

  /**
   * A conversation still without a title takes one from the first user message among `inputs`
   * (logged as `conversation.updated`), as it does from the first messages of a create.
   */
  private async titleFromFirstUser(
    tx: Repo,
    emit: Emit,
    workspaceId: string,
    conversation: Conversation,
    inputs: readonly NewMessageInput[],
    now: number,
  ): Promise<void> {
    if (conversation.titleSource !== null) return;
    const firstUser = inputs.find((m) => m.role === 'user');
    const title = firstUser ? autoTitle(firstUser.content) : null;
    if (title === null) return;
    const retitled = await tx.updateConversation(workspaceId, conversation.id, {
      title,
      titleSource: 'auto',
      updatedAt: now,
    });
    if (retitled) await emit(workspaceId, conversation.id, { type: 'conversation.updated', data: retitled }, now);
  }

  // ---- conversations ------------------------------------------------------------------

  async create(
    auth: AuthContext,
    input: CreateConversationInput,
    inTx?: InTransaction<ConversationDetail>,
  ): Promise<ConversationDetail> {
    requireScope(auth, 'write:ai');
    const now = this.deps.clock.now();
    const firstUser = input.messages?.find((m) => m.role === 'user');
    const generated = input.title === undefined && firstUser ? autoTitle(firstUser.content) : null;
    const conversation: Conversation = {
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
    return this.write(async (tx, emit) => {
      await tx.insertConversation(conversation);
      const messages = await this.insertMessages(
        tx,
        emit,
        auth.workspaceId,
        conversation.id,
        input.messages ?? [],
        now,
      );
      if (messages.length > 0) {
        conversation.messageCount = messages.length;
        conversation.lastMessageAt = now;
      }
      // in the order they were sent, as GET returns them by default
      const detail: ConversationDetail = { conversation, messages, toolInvocations: null };
      if (inTx) await inTx(tx, detail);
      return detail;
    });
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
    const total = await this.deps.store.totalConversations(auth.workspaceId, filter, cap);
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
    if (input.search !== undefined) {
      const rows = (await this.deps.store.searchConversations(auth.workspaceId, query)).slice(0, perPage + 1);
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
    const rows = await this.deps.store.listConversations(auth.workspaceId, query);
    const items = rows.slice(0, perPage);
    const nextCursor = cursorAfter(items[items.length - 1], 0, rows.length > perPage);
    return { items, matches: null, total, page, perPage, nextCursor };
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
    const conversation = await this.load(this.deps.store, auth, rawId);
    const limit = opts.limit ?? 200;
    const inOrder = <T>(newestFirst: T[]): T[] => (opts.order === 'desc' ? newestFirst : newestFirst.reverse());
    const messages = await this.deps.store.listMessages(auth.workspaceId, conversation.id, { order: 'desc', limit });
    const toolInvocations = opts.includeToolSteps
      ? inOrder(await this.deps.store.listToolInvocations(auth.workspaceId, conversation.id, { order: 'desc', limit }))
      : null;
    return { conversation, messages: inOrder(messages), toolInvocations };
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
    return this.write(async (tx, emit) => {
      const current = await this.load(tx, auth, rawId);
      const patch: ConversationPatch = { updatedAt: this.deps.clock.now() };
      if (typeof input.title === 'string') {
        patch.title = input.title;
        patch.titleSource = 'user';
      } else if (input.title === null) {
        Object.assign(patch, await this.automaticTitle(tx, auth.workspaceId, current.id));
      }
      if (input.archived !== undefined) patch.archived = input.archived;
      if (input.context === null) patch.context = {};
      else if (input.context !== undefined) {
        patch.context = mergePatch(current.context, input.context) as ConversationContext;
      }
      if (input.metadata !== undefined) patch.metadata = mergePatch(current.metadata, input.metadata);
      const updated = await tx.updateConversation(auth.workspaceId, current.id, patch);
      if (!updated) throw notFound();
      await this.auditUpdate(tx, auth, current, updated, patch.updatedAt);
      const archivedNow = input.archived === true && !current.archived;
      await emit(
        auth.workspaceId,
        current.id,
        { type: archivedNow ? 'conversation.archived' : 'conversation.updated', data: updated },
        patch.updatedAt,
      );
      if (inTx) await inTx(tx, updated);
      return updated;
    });
  }

  /**
   * The title a conversation returns to when a person clears theirs: made from its first user
   * message; without one, none yet (source null), and its next user message titles it.
   */
  private async automaticTitle(
    tx: Repo,
    workspaceId: string,
    id: string,
  ): Promise<{ title: string | null; titleSource: 'auto' | null }> {
    const first = await tx.firstMessageOfRole(workspaceId, id, 'user');
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
    const id = this.resolveId(rawId);
    if (opts.ifIdle) {
      // what the caller may not see is missing, before its liveness can say otherwise
      await this.load(this.deps.store, auth, rawId);
      await this.assertNotLive(auth.workspaceId, id);
    }
    let deleted: ConversationEvent | null = null;
    const result = await this.deps.store.transaction(async (tx) => {
      const removed = await this.deleteIn(tx, auth, id);
      if (!removed) throw notFound();
      deleted = removed.event;
      if (inTx) await inTx(tx, removed.counts);
      return removed.counts;
    });
    if (deleted) this.events?.publish([deleted]);
    return result;
  }

  /** One conversation's delete inside a transaction: rows, audit event, and its live-only deleted event. */
  private async deleteIn(
    tx: Repo,
    auth: AuthContext,
    id: string,
  ): Promise<{ counts: DeleteCounts; event: ConversationEvent } | null> {
    if (auth.userId !== null) {
      const c = await tx.getConversation(auth.workspaceId, id);
      if (!c || !canReach(auth, c)) return null;
    }
    const lastSeq = await tx.conversationEventSeq(auth.workspaceId, id);
    const counts = await tx.deleteConversation(auth.workspaceId, id);
    if (!counts || lastSeq === null) return null;
    const now = this.deps.clock.now();
    await tx.insertAuditEvent({
      id: newId('audit', now),
      workspaceId: auth.workspaceId,
      actorKeyId: auth.keyId,
      action: 'conversation.deleted',
      targetType: 'conversation',
      targetId: id,
      counts: { conversations: 1, ...counts },
      createdAt: now,
    });
    // delivered live only: the log goes with the conversation
    const event: ConversationEvent = {
      workspaceId: auth.workspaceId,
      conversationId: id,
      seq: lastSeq + 1,
      type: 'conversation.deleted',
      payload: JSON.stringify({ id }),
      createdAt: now,
    };
    return { counts, event };
  }

  /**
   * Deletes every listed conversation in one transaction, or none: when any id is missing
   * (or another workspace's) nothing is deleted and not_found names the missing ids.
   */
  async deleteMany(
    auth: AuthContext,
    rawIds: readonly string[],
    inTx?: InTransaction<DeleteCounts[]>,
  ): Promise<DeleteCounts[]> {
    requireScope(auth, 'write:ai');
    const ids = rawIds.map((raw) => ({ raw, id: parseId('conversation', raw) }));
    const events: ConversationEvent[] = [];
    const result = await this.deps.store.transaction(async (tx) => {
      const out: DeleteCounts[] = [];
      const missing: string[] = [];
      for (const { raw, id } of ids) {
        const removed = id === null ? null : await this.deleteIn(tx, auth, id);
        if (!removed) {
          missing.push(raw);
          continue;
        }
        out.push(removed.counts);
        events.push(removed.event);
      }
      // throwing rolls back the deletions already made: all or nothing
      if (missing.length > 0) {
        throw new ParleyError('not_found', `${missing.length} of ${rawIds.length} conversations were not found`, {
          extra: { missing },
        });
      }
      if (inTx) await inTx(tx, out);
      return out;
    });
    this.events?.publish(events);
    return result;
  }

  /** Up to `limit` conversations strictly after the anchor conversation in the given order. */
  async listFrom(auth: AuthContext, q: ListFromInput): Promise<Conversation[]> {
    requireScope(auth, 'read:ai');
    let after: { value: number; id: string } | undefined;
    if (q.anchor !== undefined) {
      const id = parseId('conversation', q.anchor);
      const anchor = id === null ? null : await this.deps.store.getConversation(auth.workspaceId, id);
      if (!anchor || !canReach(auth, anchor))
        throw validation('/query/cursor', 'cursor does not name a conversation of this workspace');
      after = { value: q.orderBy === 'created_at' ? anchor.createdAt : anchor.updatedAt, id: anchor.id };
    }
    return this.deps.store.listConversations(auth.workspaceId, {
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
  }

  /**
   * Returns the newest conversation of the bot that `matches` accepts (among the FIND_OR_CREATE_SCAN most recently updated), else creates one. Runs in one
   * transaction so that, on SQLite, two concurrent calls cannot both create.
   */
  async findOrCreate(
    auth: AuthContext,
    match: { botId: string | null; matches: (c: Conversation) => boolean },
    input: CreateConversationInput,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    requireScope(auth, 'write:ai');
    requireScope(auth, 'read:ai');
    const userId = actingUser(auth, input.userId, '/body/user_id');
    return this.deps.store.transaction(async (tx) => {
      const rows = await tx.listConversations(auth.workspaceId, {
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
      const now = this.deps.clock.now();
      const conversation: Conversation = {
        id: newId('conversation', now),
        workspaceId: auth.workspaceId,
        userId,
        botId: input.botId ?? null,
        title: input.title ?? null,
        titleSource: input.title !== undefined ? 'user' : null,
        context: mergePatch({}, (input.context ?? {}) as Record<string, Json>) as ConversationContext,
        metadata: input.metadata ?? {},
        archived: false,
        messageCount: 0,
        toolInvocationCount: 0,
        lastMessageAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await tx.insertConversation(conversation);
      return { conversation, created: true };
    });
  }

  // ---- messages ----------------------------------------------------------------------------

  /** Offset pages of messages with their total (offset-paginated compat surfaces). */
  async listMessagesAt(
    auth: AuthContext,
    rawConversationId: string,
    q: { offset: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<{ conversation: Conversation; items: Message[]; total: number }> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    const items = await this.deps.store.listMessages(auth.workspaceId, conversation.id, {
      order: q.order,
      limit: q.limit,
      offset: q.offset,
    });
    return { conversation, items, total: conversation.messageCount };
  }

  /**
   * Appends several messages in one transaction, all or none (OpenAI's items.create). Titles
   * follow the first user message as appendMessage does; events are logged with the write.
   */
  async appendMessages(
    auth: AuthContext,
    rawConversationId: string,
    inputs: readonly NewMessageInput[],
    inTx?: InTransaction<{ conversation: Conversation; messages: Message[] }>,
  ): Promise<{ conversation: Conversation; messages: Message[] }> {
    requireScope(auth, 'write:ai');
    return this.write(async (tx, emit) => {
      let conversation = await this.load(tx, auth, rawConversationId);
      const now = this.deps.clock.now();
      const messages = await this.insertMessages(tx, emit, auth.workspaceId, conversation.id, inputs, now);
      await this.titleFromFirstUser(tx, emit, auth.workspaceId, conversation, inputs, now);
      conversation = (await tx.getConversation(auth.workspaceId, conversation.id)) ?? conversation;
      const result = { conversation, messages };
      if (inTx) await inTx(tx, result);
      return result;
    });
  }

  /**
   * A page of messages after a message id in id order, with whether more follow (OpenAI's
   * items.list, whose cursor is the last item id it was given).
   */
  async listMessagesAfter(
    auth: AuthContext,
    rawConversationId: string,
    q: { after?: string | undefined; order: 'asc' | 'desc'; limit: number },
  ): Promise<{ conversation: Conversation; items: Message[]; hasMore: boolean }> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    let after: string | undefined;
    if (q.after !== undefined) {
      const id = parseId('message', q.after);
      if (id === null) throw validation('/query/after', 'after must be an item id of this conversation');
      after = id;
    }
    const rows = await this.deps.store.listMessages(auth.workspaceId, conversation.id, {
      ...(after !== undefined ? { after } : {}),
      order: q.order,
      limit: q.limit + 1,
    });
    return { conversation, items: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
  }

  /** One message of a conversation; another conversation's message is not found, like a missing one. */
  async getMessage(auth: AuthContext, rawConversationId: string, rawMessageId: string): Promise<Message> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    const id = parseId('message', rawMessageId);
    const m = id ? await this.deps.store.getMessage(auth.workspaceId, conversation.id, id) : null;
    if (!m) throw notFound('Message');
    return m;
  }

  // ---- messages ----------------------------------------------------------------------------

  async appendMessage(
    auth: AuthContext,
    rawConversationId: string,
    input: NewMessageInput,
    inTx?: InTransaction<Message>,
  ): Promise<Message> {
    requireScope(auth, 'write:ai');
    return this.write(async (tx, emit) => {
      const conversation = await this.load(tx, auth, rawConversationId);
      const now = this.deps.clock.now();
      const [message] = await this.insertMessages(tx, emit, auth.workspaceId, conversation.id, [input], now);
      if (!message) throw new Error('insertMessages returned no message');
      await this.titleFromFirstUser(tx, emit, auth.workspaceId, conversation, [input], now);
      if (inTx) await inTx(tx, message);
      return message;
    });
  }

  /**
   * The conversation itself, under the scope of the write or read about to follow: what a surface
   * checks first when it partitions further (Botpress's bot) and then calls a write that does not.
   */
  async conversationFor(auth: AuthContext, rawId: string, scope: 'read:ai' | 'write:ai'): Promise<Conversation> {
    requireScope(auth, scope);
    return this.load(this.deps.store, auth, rawId);
  }

  /**
   * A message by id with its conversation, as the caller may see it: a message of a conversation the
   * key cannot reach, or that fails `where` (a surface's partition), is not found like a missing one.
   */
  private async loadMessage(
    tx: Repo,
    auth: AuthContext,
    id: string,
    where?: (c: Conversation) => boolean,
  ): Promise<{ conversation: Conversation; message: Message }> {
    const message = await tx.findMessage(auth.workspaceId, id);
    if (!message) throw notFound('Message');
    const conversation = await this.load(tx, auth, message.conversationId).catch(() => {
      throw notFound('Message');
    });
    if (where && !where(conversation)) throw notFound('Message');
    return { conversation, message };
  }

  /** A message found by its id alone, with its conversation (paths that name no conversation). */
  async findMessage(auth: AuthContext, rawId: string): Promise<{ conversation: Conversation; message: Message }> {
    requireScope(auth, 'read:ai');
    const id = parseId('message', rawId);
    if (id === null) throw notFound('Message');
    return this.loadMessage(this.deps.store, auth, id);
  }

  /**
   * Rewrites one message in one transaction: `change` computes the new content and metadata from
   * the stored message (so concurrent updates compose); the full-text entry follows the content,
   * the conversation's updated_at moves and a `message.updated` event is logged. `where` is a
   * condition the conversation must meet, as for deleteMessage.
   */
  async updateMessage(
    auth: AuthContext,
    rawId: string,
    change: (current: Message) => { content: string; metadata: JsonObject },
    inTx?: InTransaction<{ conversation: Conversation; message: Message }>,
    opts: { where?: (c: Conversation) => boolean } = {},
  ): Promise<{ conversation: Conversation; message: Message }> {
    requireScope(auth, 'write:ai');
    const id = parseId('message', rawId);
    if (id === null) throw notFound('Message');
    return this.write(async (tx, emit) => {
      const { message: current, conversation } = await this.loadMessage(tx, auth, id, opts.where);
      const now = this.deps.clock.now();
      const message = await tx.updateMessage(auth.workspaceId, conversation.id, id, change(current));
      if (!message) throw notFound('Message');
      await tx.touchConversation(auth.workspaceId, conversation.id, { updatedAt: now });
      await emit(auth.workspaceId, conversation.id, { type: 'message.updated', data: message }, now);
      const result = { conversation: { ...conversation, updatedAt: now }, message };
      if (inTx) await inTx(tx, result);
      return result;
    });
  }

  /**
   * Removes one message in one transaction: its row and full-text entry, one off the
   * conversation's message_count, a `message.deleted` event in its log and an audit event.
   * Tool invocations that named it stay, detached. `where` is a condition the conversation must
   * meet (a surface's partition, such as Botpress's bot): otherwise the message is not found.
   */
  async deleteMessage(
    auth: AuthContext,
    rawId: string,
    inTx?: InTransaction<Message>,
    opts: { where?: (c: Conversation) => boolean } = {},
  ): Promise<Message> {
    requireScope(auth, 'write:ai');
    const id = parseId('message', rawId);
    if (id === null) throw notFound('Message');
    return this.write(async (tx, emit) => {
      const { message, conversation } = await this.loadMessage(tx, auth, id, opts.where);
      const now = this.deps.clock.now();
      const removed = await tx.deleteMessage(auth.workspaceId, conversation.id, id, now);
      if (!removed) throw notFound('Message');
      await tx.insertAuditEvent({
        id: newId('audit', now),
        workspaceId: auth.workspaceId,
        actorKeyId: actorKeyId(auth),
        action: 'message.deleted',
        targetType: 'message',
        targetId: id,
        counts: { messages: 1, search_entries: removed.search_entries },
        createdAt: now,
      });
      await emit(
        auth.workspaceId,
        conversation.id,
        { type: 'message.deleted', data: { id, conversationId: conversation.id } },
        now,
      );
      if (inTx) await inTx(tx, message);
      return message;
    });
  }

  async listMessages(
    auth: AuthContext,
    rawConversationId: string,
    q: { cursor?: string | undefined; limit?: number | undefined; order?: 'asc' | 'desc' | undefined },
  ): Promise<Page<Message>> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    return this.idPage(auth.workspaceId, `messages:${conversation.id}`, q, (p) =>
      this.deps.store.listMessages(auth.workspaceId, conversation.id, p),
    );
  }

  /** Keyset pages ordered by id (ids are time-ordered ULIDs). */
  private async idPage<T extends { id: string }>(
    workspaceId: string,
    kindBase: string,
    q: { cursor?: string | undefined; limit?: number | undefined; order?: 'asc' | 'desc' | undefined },
    fetch: (p: { after?: string; order: 'asc' | 'desc'; limit: number }) => Promise<T[]>,
    defaultOrder: 'asc' | 'desc' = 'asc',
  ): Promise<Page<T>> {
    // the cursor carries its order and page size: alone, it continues its list
    const c = q.cursor !== undefined ? this.cursors.decode(workspaceId, kindBase, q.cursor, isIdCursor) : undefined;
    if (c && q.order !== undefined && q.order !== c.o) throw otherFilters();
    const order = c?.o ?? q.order ?? defaultOrder;
    const limit = q.limit ?? c?.n ?? 50;
    const after = c?.i;
    const rows = await fetch({ ...(after !== undefined ? { after } : {}), order, limit: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? this.cursors.encode(workspaceId, kindBase, { i: last.id, o: order, n: limit })
        : null;
    return { items, nextCursor };
  }

  // ---- tool invocations ------------------------------------------------------------------

  private async checkMessage(tx: Repo, workspaceId: string, conversationId: string, raw: string): Promise<string> {
    const id = parseId('message', raw);
    if (id === null || !(await tx.messageExists(workspaceId, conversationId, id))) {
      throw validation('/body/message_id', 'message_id does not name a message of this conversation');
    }
    return id;
  }

  async createToolInvocation(
    auth: AuthContext,
    rawConversationId: string,
    input: NewToolInvocationInput,
    inTx?: InTransaction<ToolInvocation>,
  ): Promise<ToolInvocation> {
    requireScope(auth, 'write:ai');
    return this.write(async (tx, emit) => {
      const conversation = await this.load(tx, auth, rawConversationId);
      const now = this.deps.clock.now();
      const status = input.status ?? 'pending';
      const messageId =
        input.messageId !== undefined
          ? await this.checkMessage(tx, auth.workspaceId, conversation.id, input.messageId)
          : null;
      const tool: ToolInvocation = {
        id: newId('toolInvocation', now),
        conversationId: conversation.id,
        messageId,
        toolName: input.toolName,
        input: input.input ?? null,
        output: input.output ?? null,
        status,
        startedAt: input.startedAt ?? (status === 'pending' ? null : now),
        finishedAt: input.finishedAt ?? (TERMINAL.has(status) ? now : null),
        createdAt: now,
        updatedAt: now,
      };
      checkTimings(tool.startedAt, tool.finishedAt);
      await tx.insertToolInvocation(auth.workspaceId, tool);
      await tx.touchConversation(auth.workspaceId, conversation.id, { toolInvocations: 1, updatedAt: now });
      await emit(auth.workspaceId, conversation.id, { type: 'tool_invocation.created', data: tool }, now);
      if (inTx) await inTx(tx, tool);
      return tool;
    });
  }

  async getToolInvocation(auth: AuthContext, rawConversationId: string, rawId: string): Promise<ToolInvocation> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    const id = parseId('toolInvocation', rawId);
    const tool = id ? await this.deps.store.getToolInvocation(auth.workspaceId, conversation.id, id) : null;
    if (!tool) throw notFound('Tool invocation');
    return tool;
  }

  async updateToolInvocation(
    auth: AuthContext,
    rawConversationId: string,
    rawId: string,
    input: UpdateToolInvocationInput,
    inTx?: InTransaction<ToolInvocation>,
  ): Promise<ToolInvocation> {
    requireScope(auth, 'write:ai');
    if (Object.values(input).every((v) => v === undefined)) {
      throw validation('/body', 'Provide at least one of output, status, message_id, started_at, finished_at');
    }
    return this.write(async (tx, emit) => {
      const conversation = await this.load(tx, auth, rawConversationId);
      const id = parseId('toolInvocation', rawId);
      const current = id ? await tx.getToolInvocation(auth.workspaceId, conversation.id, id) : null;
      if (!current) throw notFound('Tool invocation');
      const now = this.deps.clock.now();
      const status = input.status ?? current.status;
      const startedAt =
        input.startedAt !== undefined ? input.startedAt : (current.startedAt ?? (status === 'pending' ? null : now));
      const finishedAt =
        input.finishedAt !== undefined ? input.finishedAt : (current.finishedAt ?? (TERMINAL.has(status) ? now : null));
      checkTimings(startedAt, finishedAt);
      const messageId =
        typeof input.messageId === 'string'
          ? await this.checkMessage(tx, auth.workspaceId, conversation.id, input.messageId)
          : input.messageId;
      const updated = await tx.updateToolInvocation(auth.workspaceId, conversation.id, current.id, {
        output: input.output,
        status: input.status,
        startedAt,
        finishedAt,
        messageId,
        updatedAt: now,
      });
      if (!updated) throw notFound('Tool invocation');
      await tx.touchConversation(auth.workspaceId, conversation.id, { updatedAt: now });
      await emit(auth.workspaceId, conversation.id, { type: 'tool_invocation.updated', data: updated }, now);
      if (inTx) await inTx(tx, updated);
      return updated;
    });
  }

  async listToolInvocations(
    auth: AuthContext,
    rawConversationId: string,
    q: { cursor?: string | undefined; limit?: number | undefined; order?: 'asc' | 'desc' | undefined },
  ): Promise<Page<ToolInvocation>> {
    requireScope(auth, 'read:ai');
    const conversation = await this.load(this.deps.store, auth, rawConversationId);
    return this.idPage(auth.workspaceId, `tools:${conversation.id}`, q, (p) =>
      this.deps.store.listToolInvocations(auth.workspaceId, conversation.id, p),
    );
  }

  // ---- audit -------------------------------------------------------------------------------

  /** Archive, unarchive and rename leave audit rows: what happened and who, never the title. */
  private async auditUpdate(tx: Repo, auth: AuthContext, before: Conversation, after: Conversation, now: number) {
    const actions: string[] = [];
    if (after.archived !== before.archived)
      actions.push(after.archived ? 'conversation.archived' : 'conversation.unarchived');
    if (after.title !== before.title) actions.push('conversation.renamed');
    for (const action of actions) {
      await tx.insertAuditEvent({
        id: newId('audit', now),
        workspaceId: auth.workspaceId,
        actorKeyId: actorKeyId(auth),
        action,
        targetType: 'conversation',
        targetId: after.id,
        counts: {},
        createdAt: now,
      });
    }
  }

  /** Newest first by default; the cursor is bound to the filters it was minted with. */
  async listAuditEvents(
    auth: AuthContext,
    q: {
      cursor?: string | undefined;
      limit?: number | undefined;
      order?: 'asc' | 'desc' | undefined;
      action?: string | undefined;
      actorKeyId?: string | undefined;
      conversationId?: string | undefined;
      createdAfter?: number | undefined;
      createdBefore?: number | undefined;
    },
  ) {
    requireScope(auth, 'admin');
    const filter: AuditFilter = {
      action: q.action,
      actorKeyId: q.actorKeyId === undefined ? undefined : (parseId('apiKey', q.actorKeyId) ?? q.actorKeyId),
      ...(q.conversationId === undefined
        ? {}
        : { targetType: 'conversation', targetId: parseId('conversation', q.conversationId) ?? q.conversationId }),
      createdAfter: q.createdAfter,
      createdBefore: q.createdBefore,
    };
    // the cursor is bound to the filters (resend them with it); order and page size travel in it
    return this.idPage(
      auth.workspaceId,
      `audit:${JSON.stringify(filter)}`,
      q,
      (p) => this.deps.store.listAuditEvents(auth.workspaceId, { ...filter, ...p }),
      'desc',
    );
  }
}

function checkTimings(startedAt: number | null, finishedAt: number | null): void {
  if (startedAt !== null && finishedAt !== null && finishedAt < startedAt) {
    throw new ParleyError('validation_failed', 'finished_at is before started_at', {
      details: [{ field: '/body/finished_at', message: 'must not be before started_at' }],
    });
  }
}
