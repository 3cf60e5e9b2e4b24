import type {
  ApiKey,
  AuditEvent,
  Conversation,
  ConversationContext,
  Hold,
  HoldTargetType,
  Job,
  JsonObject,
  Message,
  RetentionPolicy,
  Role,
  ToolInvocation,
  TrashedConversation,
  WebhookDelivery,
  WebhookEndpoint,
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

/** The most conversation ids a listMany read takes at once. */
export const MANY_CONVERSATIONS = 100;

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
  /**
   * The stored answer is about a conversation that is out of view now (in the trash or being
   * erased): a replay must not return its content. False when it is about none, or a visible one.
   */
  conversationHidden?: boolean;
}

export interface DeleteCounts {
  messages: number;
  tool_invocations: number;
  search_entries: number;
}

/** What a conversation's delete removed, with the event log and the stored answers it erased. */
export interface ErasedRows extends DeleteCounts {
  events: number;
  stored_answers: number;
}

/** What a set-based erase removed: the conversations (as they were) and their rows, summed. */
export interface ErasedMany {
  conversations: Conversation[];
  rows: ErasedRows;
}

export interface NewStoredEvent {
  conversationId: string;
  type: string;
  /** JSON text. */
  payload: string;
  createdAt: number;
}

export interface StoredEvent extends NewStoredEvent {
  workspaceId: string;
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

/** An idempotency record as a writer stores it: the workspace is the writer's. */
export type NewIdempotencyRecord = Omit<IdempotencyRecord, 'workspaceId'>;

/** What Store.reclaim did. */
export interface ReclaimReport {
  method: 'vacuum' | 'vacuum_full' | 'checkpoint' | 'checkpoint_busy' | 'none';
  tables: string[];
  /** PostgreSQL: dead rows VACUUM had to keep because an open transaction could still see them. */
  deadRowsKept: number;
}

export interface MigrationReport {
  applied: Array<{ version: number; name: string }>;
  current: number;
}

// ---- one workspace: what a reader sees and a writer changes, by aggregate -----------------
//
// A reader or writer is bound to one workspace when the store hands it out; no method takes the
// tenant, so a query of another workspace cannot be written. Each writer interface extends its
// reader: whatever a transaction writes, it may also read.

export interface ConversationReads {
  get(id: string): Promise<Conversation | null>;
  list(q: ConversationListQuery): Promise<Conversation[]>;
  /** O(1) from counters where the filter allows it, else a count bounded by `cap`. */
  total(f: ConversationFilter, cap: number): Promise<TotalAnswer>;
  /** A list query with `search`: each matching conversation with its score and best hit. */
  search(q: ConversationListQuery): Promise<SearchRow[]>;
  /**
   * search(q) and total(q, cap) together: the same answers as the two calls, but an engine that
   * can count from the ranked rows (SearchIndex.windowTotal) skips the separate count when the
   * ranking already saw more than `cap` matching conversations, or every match.
   */
  searchPage(q: ConversationListQuery, cap: number): Promise<{ rows: SearchRow[]; total: TotalAnswer }>;
  /**
   * Whether the id names a conversation of this workspace that is out of view ('trash', or
   * 'erasing': a delete whose rows are still being erased); null when it is in view or missing.
   * For the few callers that must not take a hidden conversation's id (import).
   */
  hiddenState(id: string): Promise<{ state: 'trash' | 'erasing'; userId: string | null } | null>;
  /** The conversations in view among `ids` (any order), each with its last event seq; locked on PostgreSQL in a writer. */
  getMany(ids: readonly string[]): Promise<Array<{ conversation: Conversation; eventSeq: number }>>;
}

export interface ConversationWrites extends ConversationReads {
  /** Inside a PostgreSQL transaction, `get` locks the row (FOR UPDATE) until commit. */
  insert(c: Conversation): Promise<void>;
  update(id: string, patch: ConversationPatch): Promise<Conversation | null>;
  /**
   * Removes the conversation with its messages, tool invocations, full-text entries and event
   * log, and turns the stored idempotent answers tied to it into tombstones; null when missing.
   * Erases a conversation out of view (trash, erasing) too: the one erase path.
   */
  delete(id: string): Promise<ErasedRows | null>;
  /**
   * `delete` for many conversations at once, set-based: one statement per table per chunk of ids
   * (full-text entries, tool invocations, messages, events, the rows, stored answers made
   * tombstones, the counters once), so its cost is per row, not per conversation. Ids missing or of
   * another workspace are skipped. Returns the conversations it erased (as they were) and the rows
   * it removed, summed.
   */
  deleteMany(ids: readonly string[]): Promise<ErasedMany>;
  /**
   * Takes the conversations in view among `ids` out of view at once (every read, list, search
   * and total stops seeing them): 'trash' is restorable until `purgeAt`, 'erasing' is a delete
   * whose rows are erased next. Returns those it took, as they were.
   */
  hide(ids: readonly string[], state: 'trash' | 'erasing', at: number, purgeAt: number): Promise<Conversation[]>;
  /** Brings a trashed conversation back into view as it was; null when it is not in the trash. */
  restore(id: string): Promise<Conversation | null>;
  /** Bumps message/tool counters and timestamps of a conversation after an append. */
  touch(
    id: string,
    change: { messages?: number; toolInvocations?: number; lastMessageAt?: number; updatedAt: number },
  ): Promise<void>;
}

/** What a hold may cover on a conversation. */
export interface HeldCandidate {
  id: string;
  userId: string | null;
  contactId: string | null;
  dealId: string | null;
  matterId: string | null;
}

export interface HoldListQuery {
  includeReleased: boolean;
  after?: string | undefined;
  order: 'asc' | 'desc';
  limit: number;
}

export interface HoldReads {
  get(id: string): Promise<Hold | null>;
  list(q: HoldListQuery): Promise<Hold[]>;
  /** The active holds on one target, oldest first. */
  activeFor(targetType: HoldTargetType, value: string): Promise<Hold[]>;
  /** Conversation id → the first (oldest) active hold covering it; conversations no hold covers are absent. */
  heldAmong(conversations: readonly HeldCandidate[]): Promise<Map<string, Hold>>;
}

export interface HoldWrites extends HoldReads {
  insert(h: Hold): Promise<void>;
  /** Releases an active hold; the hold as it now is, or null when missing. */
  release(id: string, at: number, by: string | null): Promise<Hold | null>;
}

export interface TrashListQuery {
  after?: string | undefined;
  order: 'asc' | 'desc';
  limit: number;
  /** Only this user's (a user-bound key). */
  userId?: string | undefined;
}

/** A conversation out of view, as the purge finds it. */
export interface HiddenConversation {
  conversation: Conversation;
  state: 'trash' | 'erasing';
  purgeAt: number;
}

export interface TrashReads {
  /** The workspace's trash_days: 0 deletes for good at once. */
  days(): Promise<number>;
  /** A conversation in the trash (state 'trash'), whatever its window; null otherwise. */
  get(id: string): Promise<TrashedConversation | null>;
  /** The trash, by conversation id. */
  list(q: TrashListQuery): Promise<TrashedConversation[]>;
}

export interface TrashWrites extends TrashReads {
  setDays(days: number): Promise<void>;
  /**
   * Up to `limit` conversations out of view whose erase is due (purge_at <= `dueBy`), oldest
   * due first; on PostgreSQL locked FOR UPDATE SKIP LOCKED, so instances purging at once share them out.
   */
  claimDue(dueBy: number, limit: number): Promise<HiddenConversation[]>;
}

export interface MessageReads {
  list(conversationId: string, q: PageQuery): Promise<Message[]>;
  get(conversationId: string, id: string): Promise<Message | null>;
  /** A message by its id alone (ids are unique in a workspace). */
  find(id: string): Promise<Message | null>;
  exists(conversationId: string, id: string): Promise<boolean>;
  /** The conversation's oldest message of this role (what an automatic title is made from). */
  firstOfRole(conversationId: string, role: Role): Promise<Message | null>;
  /**
   * The messages of several conversations (at most MANY_CONVERSATIONS ids) in one statement, by
   * conversation id then id, at most `limit` rows: the export's read of a batch of small ones.
   */
  listMany(conversationIds: readonly string[], limit: number): Promise<Message[]>;
}

export interface MessageWrites extends MessageReads {
  insert(m: Message): Promise<void>;
  /** Replaces a message's content and metadata (and its full-text entry); null when the conversation holds no such message. */
  update(conversationId: string, id: string, patch: { content: string; metadata: JsonObject }): Promise<Message | null>;
  /**
   * Removes one message of the conversation with its full-text entry, detaches the tool
   * invocations that named it, and takes it off the conversation's message_count and
   * last_message_at; null when the conversation holds no such message.
   */
  delete(
    conversationId: string,
    id: string,
    updatedAt: number,
  ): Promise<{ search_entries: number; tool_invocations_detached: number } | null>;
}

export interface ToolInvocationReads {
  get(conversationId: string, id: string): Promise<ToolInvocation | null>;
  /** A tool invocation by its id alone (ids are unique in a workspace). */
  find(id: string): Promise<ToolInvocation | null>;
  list(conversationId: string, q: PageQuery): Promise<ToolInvocation[]>;
  /** As MessageReads.listMany: several conversations' tool invocations by conversation id then id, at most `limit`. */
  listMany(conversationIds: readonly string[], limit: number): Promise<ToolInvocation[]>;
}

export interface ToolInvocationWrites extends ToolInvocationReads {
  insert(t: ToolInvocation): Promise<void>;
  update(conversationId: string, id: string, patch: ToolInvocationPatch): Promise<ToolInvocation | null>;
}

export interface KeyReads {
  list(): Promise<ApiKey[]>;
  get(id: string): Promise<ApiKey | null>;
}

export interface KeyWrites extends KeyReads {
  insert(key: ApiKey, keyHash: string): Promise<void>;
  /** Ids of the keys with the admin scope that are neither revoked nor expired (locked on PostgreSQL). */
  activeAdminIds(now: number): Promise<string[]>;
  revoke(id: string, at: number): Promise<boolean>;
  /** Sets last_used_at to `at` unless it is already after `unlessAfter` (one write per key per minute). */
  touchLastUsed(id: string, at: number, unlessAfter: number): Promise<void>;
}

export interface IdempotencyReads {
  get(key: string): Promise<IdempotencyRecord | null>;
}

export interface IdempotencyWrites extends IdempotencyReads {
  /** Inserts a running record; false when one exists (the unique key decides the winner). */
  claim(rec: NewIdempotencyRecord): Promise<boolean>;
  /** Takes over a record whose owner died (lock expired) or that expired; false if someone else holds it. */
  reclaim(rec: NewIdempotencyRecord, staleBefore: { lockedUntil: number; createdBefore: number }): Promise<boolean>;
  /** Seals a record with its answer; `conversationId` names the conversation the answer is about, if any. */
  complete(key: string, statusCode: number, body: string | null, conversationId: string | null): Promise<void>;
  release(key: string, fingerprint: string): Promise<void>;
}

export interface AuditReads {
  list(q: AuditListQuery): Promise<AuditEvent[]>;
}

export interface AuditWrites extends AuditReads {
  insert(e: AuditEvent): Promise<void>;
}

/** The conversation event log behind live streams. */
export interface EventReads {
  /** The last seq handed out, or null when the conversation does not exist. */
  lastSeq(conversationId: string): Promise<number | null>;
  /** Events with seq > afterSeq (and <= upTo when given), oldest first. */
  list(
    conversationId: string,
    q: { afterSeq: number; upTo?: number | undefined; limit: number },
  ): Promise<StoredEvent[]>;
}

export interface EventWrites extends EventReads {
  /** Takes the conversation's next seq and stores the event; the seq, or null when the conversation does not exist. */
  append(e: NewStoredEvent): Promise<number | null>;
}

export interface WebhookEndpointPatch {
  url?: string;
  events?: string[];
  enabled?: boolean;
  description?: string | null;
  secret?: string;
  previousSecret?: string | null;
  previousSecretUntil?: number | null;
  updatedAt: number;
}

/** A new outbox row: pending, due at `nextAttemptAt`. */
export interface NewWebhookDelivery {
  id: string;
  endpointId: string;
  eventType: string;
  eventId: string;
  payload: string;
  createdAt: number;
}

export interface WebhookReads {
  list(q: PageQuery): Promise<WebhookEndpoint[]>;
  get(id: string): Promise<WebhookEndpoint | null>;
  /** The enabled endpoints, every one (what a change's notify fans out to). */
  enabled(): Promise<WebhookEndpoint[]>;
  /** An endpoint's deliveries, keyset by delivery id. */
  deliveries(endpointId: string, q: PageQuery): Promise<WebhookDelivery[]>;
  delivery(endpointId: string, id: string): Promise<WebhookDelivery | null>;
}

export interface WebhookWrites extends WebhookReads {
  insert(e: WebhookEndpoint): Promise<void>;
  update(id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint | null>;
  /** Removes the endpoint and its deliveries; false when missing. */
  delete(id: string): Promise<boolean>;
  enqueue(rows: NewWebhookDelivery[]): Promise<void>;
  /** Makes a delivery due now again (pending, lease dropped); null when the endpoint holds no such delivery. */
  retry(endpointId: string, id: string, now: number): Promise<WebhookDelivery | null>;
}

/** A due delivery as the worker claimed it, with what it needs to send it. */
export interface ClaimedDelivery {
  workspaceId: string;
  id: string;
  endpointId: string;
  eventType: string;
  payload: string;
  attempts: number;
  createdAt: number;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: number | null;
}

/** The outcome of one attempt, recorded only by the lease's holder. */
export interface DeliveryAttempt {
  workspaceId: string;
  id: string;
  owner: string;
  at: number;
  status: number | null;
  error: string | null;
  /** delivered, pending again at nextAttemptAt, or failed for good. */
  state: 'delivered' | 'pending' | 'failed';
  nextAttemptAt: number;
}

/** What a lifecycle scan sees of a conversation: who it belongs to, what holds could cover, how old it is. */
export interface ConversationSubject extends HeldCandidate {
  botId: string | null;
  archived: boolean;
  updatedAt: number;
}

/** Conversations in id order for lifecycle scans (erase, retention): after `afterId`, at most `limit`. */
export interface SubjectScan {
  userId?: string | undefined;
  /** Only conversations in view (not in the trash nor being erased): retention's scan. */
  inView?: boolean | undefined;
  /** Only conversations last updated before this time. */
  updatedBefore?: number | undefined;
  afterId?: string | undefined;
  limit: number;
}

export interface LifecycleReads {
  subjects(q: SubjectScan): Promise<ConversationSubject[]>;
  /** How many conversations a user has, those in the trash or being erased included (an erase's total). */
  countOfUser(userId: string): Promise<number>;
}

export interface JobReads {
  get(id: string): Promise<Job | null>;
  /** Keyset page by id. */
  list(q: PageQuery & { kind?: string | undefined; state?: string | undefined }): Promise<Job[]>;
  /** Queued or running jobs of a kind (at most `limit`). */
  unfinished(kind: string, limit: number): Promise<Job[]>;
  /** The items a job recorded (addItems), in the order they were added. */
  items(jobId: string): Promise<string[]>;
}

export interface JobWrites extends JobReads {
  insert(job: Job): Promise<void>;
  /**
   * Stores a batch's cursor and progress and extends the lease, only while `owner` holds the
   * job; false when another runner took it over (the batch's transaction must then roll back).
   */
  advance(
    id: string,
    owner: string,
    patch: { cursor: JsonObject | null; progress: Job['progress']; leaseUntil: number; updatedAt: number },
  ): Promise<boolean>;
  /** Appends items to what the job did (in the batch's transaction: they land with its cursor). */
  addItems(jobId: string, items: readonly string[]): Promise<void>;
  /** Forgets a job's items (once its result holds them). */
  dropItems(jobId: string): Promise<void>;
  /** Ends the job (succeeded or failed) while `owner` holds it; false otherwise. */
  finish(
    id: string,
    owner: string,
    end: {
      state: 'succeeded' | 'failed';
      result: JsonObject | null;
      error: Job['error'];
      progress: Job['progress'];
      at: number;
    },
  ): Promise<boolean>;
}

export interface RetentionReads {
  get(): Promise<{ policy: RetentionPolicy; updatedAt: number } | null>;
}

export interface RetentionWrites extends RetentionReads {
  put(policy: RetentionPolicy | null, at: number, by: string | null): Promise<void>;
}

/** One workspace's data, read outside any transaction (each query sees the latest commit). */
export interface WorkspaceReader {
  readonly workspaceId: string;
  readonly conversations: ConversationReads;
  readonly messages: MessageReads;
  readonly toolInvocations: ToolInvocationReads;
  readonly keys: KeyReads;
  readonly idempotency: IdempotencyReads;
  readonly audit: AuditReads;
  readonly events: EventReads;
  readonly holds: HoldReads;
  readonly trash: TrashReads;
  readonly webhooks: WebhookReads;
  readonly lifecycle: LifecycleReads;
  readonly jobs: JobReads;
  readonly retention: RetentionReads;
}

/** One workspace's data inside one transaction: its reads see its own writes. */
export interface WorkspaceWriter extends WorkspaceReader {
  readonly conversations: ConversationWrites;
  readonly messages: MessageWrites;
  readonly toolInvocations: ToolInvocationWrites;
  readonly keys: KeyWrites;
  readonly idempotency: IdempotencyWrites;
  readonly audit: AuditWrites;
  readonly events: EventWrites;
  readonly holds: HoldWrites;
  readonly trash: TrashWrites;
  readonly webhooks: WebhookWrites;
  readonly jobs: JobWrites;
  readonly retention: RetentionWrites;
}

// ---- the instance: the few operations that have no tenant -------------------------------

/** Lookups that find the tenant, or span tenants (the instance admin's and the operator's). */
export interface InstanceReader {
  /** The key a presented secret hashes to, in whichever workspace holds it. */
  findApiKeyByHash(keyHash: string): Promise<ApiKey | null>;
  getWorkspace(id: string): Promise<Workspace | null>;
  countWorkspaces(): Promise<number>;
  /** Every tenant, by id: the instance admin's view (the one list across workspaces). */
  listWorkspaces(q: PageQuery): Promise<Workspace[]>;
  /** The oldest workspace: the default one created on first start. */
  firstWorkspaceId(): Promise<string | null>;
  getMeta(key: string): Promise<string | null>;
  /** Workspaces holding conversations out of view whose erase is due by `dueBy` (the purge sweep). */
  workspacesWithDue(dueBy: number, limit: number): Promise<string[]>;
  /** Workspaces that have a retention policy. */
  retentionWorkspaces(): Promise<string[]>;
}

/** One transaction over the instance: tenants themselves, instance metadata, upkeep across workspaces. */
export interface InstanceWriter extends InstanceReader {
  insertWorkspace(ws: Workspace): Promise<void>;
  renameWorkspace(id: string, name: string): Promise<boolean>;
  setMetaIfAbsent(key: string, value: string): Promise<void>;
  /** Deletes up to `limit` idempotency records created before `createdBefore`, in any workspace. */
  purgeIdempotency(createdBefore: number, limit: number): Promise<number>;
  /**
   * Leases up to `limit` due deliveries of enabled endpoints in any workspace (rows another
   * instance holds are skipped: FOR UPDATE SKIP LOCKED on PostgreSQL, one writer on SQLite).
   */
  claimDeliveries(q: { now: number; limit: number; owner: string; leaseUntil: number }): Promise<ClaimedDelivery[]>;
  /** Records an attempt's outcome; false when the lease was lost (another instance took the row). */
  settleDelivery(a: DeliveryAttempt): Promise<boolean>;
  /**
   * Takes the oldest queued job, or a running one whose lease expired (its runner died), for
   * `owner` until `leaseUntil`; null when none is due. Several instances may claim at once: each
   * job goes to one (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).
   */
  claimJob(owner: string, now: number, leaseUntil: number): Promise<Job | null>;
  /** Takes or renews the named lease for `owner` when free, expired or already its own. */
  takeLease(name: string, owner: string, now: number, until: number): Promise<boolean>;
  /** A workspace's writer inside this same transaction (a new workspace's first key and audit rows). */
  workspace(workspaceId: string): WorkspaceWriter;
}

/**
 * Storage. Reads and writes are bound to a workspace when they start; writes exist only inside
 * `transact` (and `transactInstance`), never on the store itself. Every engine reports its own
 * busy, locked or unreachable database as ParleyError service_unavailable (503, Retry-After).
 */
export interface Store {
  readonly engine: 'sqlite' | 'postgres';
  /** Reads of one workspace, outside any transaction (no BEGIN: the hot GET and list paths). */
  read<T>(workspaceId: string, fn: (r: WorkspaceReader) => Promise<T>): Promise<T>;
  /** Runs fn in one short transaction of one workspace; it must never wait on the network. */
  transact<T>(workspaceId: string, fn: (w: WorkspaceWriter) => Promise<T>): Promise<T>;
  /**
   * Claims a new Idempotency-Key (IdempotencyWrites.claim) as a write of its own: one statement
   * committed by itself where the engine can (PostgreSQL without group commit: one round trip
   * instead of BEGIN, INSERT, COMMIT), else a `transact` of just the claim. False when the key is taken.
   */
  claimIdempotency(workspaceId: string, rec: NewIdempotencyRecord): Promise<boolean>;
  /** Instance-level reads, outside any transaction. */
  readonly instance: InstanceReader;
  /** Runs fn in one short transaction over the instance (workspaces, metadata, purges). */
  transactInstance<T>(fn: (w: InstanceWriter) => Promise<T>): Promise<T>;
  /** Told the number of writes each committed group held (only when group commit is on). */
  observeGroups(fn: (size: number) => void): void;
  /** Applies the engine's pending migrations (idempotent; opening the store runs it by default). */
  migrate(): Promise<MigrationReport>;
  /**
   * Gives the space of deleted rows back after an erasure, outside any transaction: PostgreSQL
   * VACUUMs the named tables (`full`: rewrites them, so no freed bytes are left in their files,
   * under an exclusive lock of each table while it runs); SQLite checkpoints and truncates its WAL.
   * Returns what it did, for the receipt.
   */
  reclaim(tables: readonly string[], mode: 'plain' | 'full'): Promise<ReclaimReport>;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
