import type { Generated } from 'kysely';

/**
 * Row types: what the tables hold, engine-neutral. Timestamps are epoch ms (INTEGER / BIGINT),
 * booleans 0/1, JSON as text so that every byte round-trips identically on every engine.
 * workspace_id leads every primary key and index.
 */
export interface WorkspacesTable {
  id: string;
  name: string;
  created_at: number;
  /** Migration 7: days a deleted conversation stays in the trash (0: deleted for good at once). */
  trash_days: Generated<number>;
}

export interface ApiKeysTable {
  workspace_id: string;
  id: string;
  name: string;
  key_hash: string;
  prefix: string;
  scopes: string;
  user_id: string | null;
  instance_admin: number;
  rate_limit: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  created_at: number;
  /** Migration 4 (SQLite) / 5 (PostgreSQL): last authentication, to the minute. */
  last_used_at: number | null;
}

export interface ConversationsTable {
  workspace_id: string;
  id: string;
  user_id: string | null;
  bot_id: string | null;
  title: string | null;
  title_source: string | null;
  contact_id: string | null;
  deal_id: string | null;
  matter_id: string | null;
  context_extra: string;
  metadata: string;
  archived: number;
  message_count: number;
  tool_invocation_count: number;
  last_message_at: number | null;
  created_at: number;
  updated_at: number;
  /** Last per-conversation event sequence number handed out (migration 2). */
  event_seq: Generated<number>;
  /** PostgreSQL only (migration 4): the title's tokens; written via SearchIndex.titleValues. */
  search_tsv?: unknown;
  /** Migration 7: null while in view; 'trash' (restorable until purge_at) or 'erasing' (rows being erased). */
  deleted_state: Generated<string | null>;
  trashed_at: Generated<number | null>;
  purge_at: Generated<number | null>;
}

export interface MessagesTable {
  workspace_id: string;
  conversation_id: string;
  id: string;
  role: string;
  content: string;
  metadata: string;
  created_at: number;
  /** PostgreSQL only (migration 4): the content's tokens; written via SearchIndex.messageValues. */
  search_tsv?: unknown;
}

export interface ToolInvocationsTable {
  workspace_id: string;
  conversation_id: string;
  id: string;
  message_id: string | null;
  tool_name: string;
  input: string;
  output: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface IdempotencyRecordsTable {
  workspace_id: string;
  idem_key: string;
  fingerprint: string;
  /** 'running' until the effect commits, then 'done'. */
  state: string;
  status_code: number | null;
  response_body: string | null;
  created_at: number;
  locked_until: number;
  /** The conversation the write created or changed (migration 6): its delete erases the stored answer. */
  conversation_id: string | null;
}

export interface AuditEventsTable {
  workspace_id: string;
  id: string;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  counts: string;
  created_at: number;
  /** Migration 4 (SQLite) / 5 (PostgreSQL): 'api_key', 'operator' or 'unknown' (older rows). */
  actor_type: Generated<string>;
  /** Migration 8: JSON of non-content facts (a receipt's ids and times), or null. */
  details: string | null;
}

/** Totals kept in the same transactions as the rows they count (meta.total without count(*)). */
export interface CountersTable {
  workspace_id: string;
  name: string;
  value: number;
}

export interface InstanceMetaTable {
  key: string;
  value: string;
}

/** Durable per-conversation event log that live streams resume from (migration 2). */
export interface ConversationEventsTable {
  workspace_id: string;
  conversation_id: string;
  seq: number;
  type: string;
  /** JSON of the domain object the event carries. */
  payload: string;
  created_at: number;
}

/** Durable background work (migration 10): claimed with a lease, advanced batch by batch. */
export interface JobsTable {
  workspace_id: string;
  id: string;
  kind: string;
  /** queued | running | succeeded | failed */
  state: string;
  /** JSON: what the job was asked to do. */
  params: string;
  /** JSON: done / total and counts so far. */
  progress: string;
  /** JSON: where the next batch starts; null before the first. */
  cursor: string | null;
  result: string | null;
  error: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  attempts: number;
}

/** What a job did, item by item, in order (migration 14): an erase job's erased conversation ids. */
export interface JobItemsTable {
  workspace_id: string;
  job_id: string;
  seq: number;
  item: string;
}

/** One workspace's retention policy (migration 10), JSON. */
export interface RetentionPoliciesTable {
  workspace_id: string;
  policy: string;
  updated_at: number;
  updated_by: string | null;
}

/** Instance-wide leases (migration 10): one holder at a time across instances (the retention scheduler). */
export interface LeasesTable {
  name: string;
  owner: string;
  until: number;
}

/** Legal holds (migration 7): an active one (released_at null) stops deletes of what it covers. */
export interface LegalHoldsTable {
  workspace_id: string;
  id: string;
  /** conversation | user | contact_id | deal_id | matter_id */
  target_type: string;
  target_value: string;
  reason: string | null;
  created_at: number;
  created_by: string | null;
  released_at: number | null;
  released_by: string | null;
}

/** A workspace's webhook endpoint (migration 9). The secrets sign deliveries, so they are kept as given. */
export interface WebhookEndpointsTable {
  workspace_id: string;
  id: string;
  url: string;
  /** JSON array of event types, or ["*"]. */
  events: string;
  enabled: number;
  description: string | null;
  secret: string;
  /** The secret before the last rotation, still signing until previous_secret_until. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  created_at: number;
  updated_at: number;
}

/** One delivery of one event to one endpoint (migration 9), written in the change's transaction. */
export interface WebhookOutboxTable {
  workspace_id: string;
  /** The delivery id (the webhook-id header). */
  id: string;
  endpoint_id: string;
  event_type: string;
  event_id: string;
  /** The JSON body sent, exactly. */
  payload: string;
  attempts: number;
  next_attempt_at: number;
  /** 'pending' | 'delivered' | 'failed'. */
  state: string;
  last_status: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
}

export interface Database {
  legal_holds: LegalHoldsTable;
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  tool_invocations: ToolInvocationsTable;
  idempotency_records: IdempotencyRecordsTable;
  audit_events: AuditEventsTable;
  counters: CountersTable;
  instance_meta: InstanceMetaTable;
  conversation_events: ConversationEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_outbox: WebhookOutboxTable;
  jobs: JobsTable;
  job_items: JobItemsTable;
  retention_policies: RetentionPoliciesTable;
  leases: LeasesTable;
}
