import type {
  ApiKey,
  AuditEvent,
  Conversation,
  ConversationContext,
  JsonObject,
  Message,
  Role,
  ToolInvocation,
  Workspace,
} from '../domain/types.js';

/** Keyset position: the sort value and id of the last row of the previous page. */
export interface KeysetPosition {
  value: number;
  id: string;
}

export interface ConversationFilter {
  userId?: string | undefined;
  botId?: string | undefined;
  contactId?: string | undefined;
  dealId?: string | undefined;
  matterId?: string | undefined;
  archived: 'exclude' | 'include' | 'only';
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
  updatedAfter?: number | undefined;
  updatedBefore?: number | undefined;
  /** Raw user text; each engine turns it into a literal full-text query. */
  search?: string | undefined;
}

export interface ConversationListQuery extends ConversationFilter {
  /** relevance needs `search`: best hit first (score ascending), then id. */
  orderBy: 'updated_at' | 'created_at' | 'relevance';
  order: 'asc' | 'desc';
  after?: KeysetPosition | undefined;
  offset?: number | undefined;
  limit: number;
}

export interface ConversationPatch {
  title?: string | null;
  titleSource?: 'auto' | 'user' | null;
  archived?: boolean;
  context?: ConversationContext;
  metadata?: JsonObject;
  updatedAt: number;
}

export interface PageQuery {
  after?: string | undefined;
  order: 'asc' | 'desc';
  limit: number;
  /** Rows to skip (offset pagination of the compat surfaces); keyset `after` is preferred. */
  offset?: number | undefined;
}

/** Audit log filters; all optional, combined with AND. `createdBefore` is exclusive. */
export interface AuditFilter {
  action?: string | undefined;
  actorKeyId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
}

export interface AuditListQuery extends PageQuery, AuditFilter {}

export interface ToolInvocationPatch {
  output?: ToolInvocation['output'];
  status?: ToolInvocation['status'];
  startedAt?: number | null;
  finishedAt?: number | null;
  messageId?: string | null;
  updatedAt: number;
}

export interface IdempotencyRecord {
  workspaceId: string;
  key: string;
  fingerprint: string;
  state: 'running' | 'done';
  statusCode: number | null;
  responseBody: string | null;
  createdAt: number;
  lockedUntil: number;
}

export interface DeleteCounts {
  messages: number;
  tool_invocations: number;
  search_entries: number;
}

export interface NewStoredEvent {
  workspaceId: string;
  conversationId: string;
  type: string;
  /** JSON text. */
  payload: string;
  createdAt: number;
}

export interface StoredEvent extends NewStoredEvent {
  seq: number;
}

/** One search answer: `score` is lower-is-better (bm25 on SQLite, -ts_rank_cd on PostgreSQL). */
export interface SearchRow {
  conversation: Conversation;
  score: number;
  /** The best-matching text: a message's content, or the title. */
  hit: { field: 'title' | 'content'; messageId: string | null; text: string };
}

export interface TotalAnswer {
  total: number;
  /** false when the count stopped at the cap. */
  exact: boolean;
}

/**
 * Everything the services may ask of storage. The tenant is in every signature; the only
 * lookups without it are the ones that find the tenant (key by hash, workspace by id).
 */
export interface Repo {
  // workspaces and keys
  insertWorkspace(ws: Workspace): Promise<void>;
  getWorkspace(id: string): Promise<Workspace | null>;
  countWorkspaces(): Promise<number>;
  /** Every tenant, by id: the instance admin's view (the one list across workspaces). */
  listWorkspaces(q: PageQuery): Promise<Workspace[]>;
  renameWorkspace(id: string, name: string): Promise<boolean>;
  /** The oldest workspace: the default one created on first start. */
  findFirstWorkspaceId(): Promise<string | null>;
  insertApiKey(key: ApiKey, keyHash: string): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKey | null>;
  listApiKeys(workspaceId: string): Promise<ApiKey[]>;
  getApiKey(workspaceId: string, id: string): Promise<ApiKey | null>;
  revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean>;
  /** Ids of the keys with the admin scope that are neither revoked nor expired (locked in a PostgreSQL transaction). */
  activeAdminKeyIds(workspaceId: string, now: number): Promise<string[]>;
  /** Sets last_used_at to `at` unless it is already after `unlessAfter` (one write per key per minute). */
  touchApiKeyLastUsed(workspaceId: string, id: string, at: number, unlessAfter: number): Promise<void>;

  // conversations
  insertConversation(c: Conversation): Promise<void>;
  getConversation(workspaceId: string, id: string): Promise<Conversation | null>;
  updateConversation(workspaceId: string, id: string, patch: ConversationPatch): Promise<Conversation | null>;
  deleteConversation(workspaceId: string, id: string): Promise<DeleteCounts | null>;
  listConversations(workspaceId: string, q: ConversationListQuery): Promise<Conversation[]>;
  /** O(1) from counters where the filter allows it, else a count bounded by `cap`. */
  totalConversations(workspaceId: string, f: ConversationFilter, cap: number): Promise<TotalAnswer>;
  /** A list query with `search`: each matching conversation with its score and best hit. */
  searchConversations(workspaceId: string, q: ConversationListQuery): Promise<SearchRow[]>;

  // messages and tool invocations
  insertMessage(workspaceId: string, m: Message): Promise<void>;
  listMessages(workspaceId: string, conversationId: string, q: PageQuery): Promise<Message[]>;
  /** The conversation's oldest message of this role (what an automatic title is made from). */
  firstMessageOfRole(workspaceId: string, conversationId: string, role: Role): Promise<Message | null>;
  insertToolInvocation(workspaceId: string, t: ToolInvocation): Promise<void>;
  getToolInvocation(workspaceId: string, conversationId: string, id: string): Promise<ToolInvocation | null>;
  updateToolInvocation(
    workspaceId: string,
    conversationId: string,
    id: string,
    patch: ToolInvocationPatch,
  ): Promise<ToolInvocation | null>;
  listToolInvocations(workspaceId: string, conversationId: string, q: PageQuery): Promise<ToolInvocation[]>;
  messageExists(workspaceId: string, conversationId: string, id: string): Promise<boolean>;
  getMessage(workspaceId: string, conversationId: string, id: string): Promise<Message | null>;
  /** A message by its id alone (ids are unique in a workspace). */
  findMessage(workspaceId: string, id: string): Promise<Message | null>;
  /** Replaces a message's content and metadata (and its full-text entry); null when the conversation holds no such message. */
  updateMessage(
    workspaceId: string,
    conversationId: string,
    id: string,
    patch: { content: string; metadata: JsonObject },
  ): Promise<Message | null>;
  /**
   * Removes one message of the conversation with its full-text entry, detaches the tool
   * invocations that named it, and takes it off the conversation's message_count and
   * last_message_at; null when the conversation holds no such message.
   */
  deleteMessage(
    workspaceId: string,
    conversationId: string,
    id: string,
    updatedAt: number,
  ): Promise<{ search_entries: number; tool_invocations_detached: number } | null>;
  /** Bumps message/tool counters and timestamps of a conversation after an append. */
  touchConversation(
    workspaceId: string,
    id: string,
    change: { messages?: number; toolInvocations?: number; lastMessageAt?: number; updatedAt: number },
  ): Promise<void>;

  // idempotency
  getIdempotency(workspaceId: string, key: string): Promise<IdempotencyRecord | null>;
  /** Inserts a running record; false when one exists (the unique key decides the winner). */
  claimIdempotency(rec: IdempotencyRecord): Promise<boolean>;
  /** Takes over a record whose owner died (lock expired) or that expired; false if someone else holds it. */
  reclaimIdempotency(
    rec: IdempotencyRecord,
    staleBefore: { lockedUntil: number; createdBefore: number },
  ): Promise<boolean>;
  /** Seals a record with its answer; `conversationId` names the conversation the answer is about, if any. */
  completeIdempotency(
    workspaceId: string,
    key: string,
    statusCode: number,
    body: string | null,
    conversationId: string | null,
  ): Promise<void>;
  releaseIdempotency(workspaceId: string, key: string, fingerprint: string): Promise<void>;
  purgeIdempotency(createdBefore: number, limit: number): Promise<number>;

  // audit
  insertAuditEvent(e: AuditEvent): Promise<void>;
  listAuditEvents(workspaceId: string, q: AuditListQuery): Promise<AuditEvent[]>;

  // conversation event log (live streams)
  /**
   * Takes the conversation's next event seq and stores the event, in the caller's transaction;
   * returns the seq, or null when the conversation does not exist.
   */
  appendConversationEvent(e: NewStoredEvent): Promise<number | null>;
  /** The last seq handed out, or null when the conversation does not exist. */
  conversationEventSeq(workspaceId: string, conversationId: string): Promise<number | null>;
  /** Events with seq > afterSeq (and <= upTo when given), oldest first. */
  listConversationEvents(
    workspaceId: string,
    conversationId: string,
    q: { afterSeq: number; upTo?: number | undefined; limit: number },
  ): Promise<StoredEvent[]>;

  // instance
  getMeta(key: string): Promise<string | null>;
  setMetaIfAbsent(key: string, value: string): Promise<void>;
}

export interface Store extends Repo {
  readonly engine: 'sqlite' | 'postgres';
  /** Runs fn in one short transaction; it must never wait on the network. */
  transaction<T>(fn: (tx: Repo) => Promise<T>): Promise<T>;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
