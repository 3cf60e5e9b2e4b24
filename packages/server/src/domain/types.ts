/** Domain types: what services speak. Timestamps are epoch milliseconds. */

export const SCOPES = ['read:ai', 'write:ai', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = ['user', 'assistant', 'system', 'tool'] as const;
export type Role = (typeof ROLES)[number];

export const TOOL_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type ToolStatus = (typeof TOOL_STATUSES)[number];

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Workspace {
  id: string;
  name: string;
  createdAt: number;
  /** Days a deleted conversation stays restorable in the trash; 0 deletes for good at once. */
  trashDays: number;
}

export type HoldTargetType = 'conversation' | 'user' | 'contact_id' | 'deal_id' | 'matter_id';

/** A legal hold: while active, no conversation it covers may be deleted, purged or erased. */
export interface Hold {
  id: string;
  workspaceId: string;
  targetType: HoldTargetType;
  targetValue: string;
  reason: string | null;
  createdAt: number;
  createdBy: string | null;
  releasedAt: number | null;
  releasedBy: string | null;
}

/** A conversation in the trash: when it was deleted and when it is due to be erased. */
export interface TrashedConversation {
  conversation: Conversation;
  trashedAt: number;
  purgeAt: number;
}

export interface ApiKey {
  id: string;
  workspaceId: string;
  name: string;
  /** The first characters of the secret, for recognising a key in a list; never enough to use it. */
  prefix: string;
  scopes: Scope[];
  userId: string | null;
  instanceAdmin: boolean;
  rateLimit: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
  /** Last successful authentication, kept to the minute (see KeysService.authenticate). */
  lastUsedAt: number | null;
}

/** Entity context: three indexed ids plus free keys. */
export interface ConversationContext {
  contact_id?: string;
  deal_id?: string;
  matter_id?: string;
  [key: string]: Json | undefined;
}

export interface Conversation {
  id: string;
  workspaceId: string;
  userId: string | null;
  botId: string | null;
  title: string | null;
  /** 'auto' while generated from the first user message; 'user' once someone set it. */
  titleSource: 'auto' | 'user' | null;
  context: ConversationContext;
  metadata: JsonObject;
  archived: boolean;
  messageCount: number;
  toolInvocationCount: number;
  lastMessageAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Message {
  id: string;
  conversationId: string;
  role: Role;
  content: string;
  metadata: JsonObject;
  createdAt: number;
}

export interface ToolInvocation {
  id: string;
  conversationId: string;
  messageId: string | null;
  toolName: string;
  input: Json;
  output: Json;
  status: ToolStatus;
  startedAt: number | null;
  finishedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * Who did it: `api_key` (actorKeyId says which), `operator` (the CLI or the first start: whoever
 * holds the database; no key), `unknown` (rows written before the actor was always kept).
 */
export const ACTOR_TYPES = ['api_key', 'operator', 'unknown'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export interface AuditEvent {
  id: string;
  workspaceId: string;
  actorKeyId: string | null;
  /** Defaults on insert to `api_key` when actorKeyId is set, else `operator`. */
  actorType?: ActorType;
  action: string;
  targetType: string;
  targetId: string;
  counts: Record<string, number>;
  /** Non-content facts beyond counts (an erase receipt's ids and times); null for most actions. */
  details?: JsonObject | null;
  createdAt: number;
}

/** An event's actor type, its default (the rule AuditEvent.actorType states) applied. */
export function actorTypeOf(e: Pick<AuditEvent, 'actorType' | 'actorKeyId'>): ActorType {
  return e.actorType ?? (e.actorKeyId === null ? 'operator' : 'api_key');
}

/** Who is calling: built once per request from the API key. */
export interface AuthContext {
  workspaceId: string;
  keyId: string;
  scopes: readonly Scope[];
  userId: string | null;
  instanceAdmin: boolean;
  rateLimit: number | null;
  /** The CLI acting for whoever holds the database (no key; keyId is not a key's id). */
  operator?: boolean;
}

/** A workspace's webhook endpoint. Its secrets never leave the server but at create and rotate. */
export interface WebhookEndpoint {
  id: string;
  workspaceId: string;
  url: string;
  /** Event types it receives, or ['*'] for every type. */
  events: string[];
  enabled: boolean;
  description: string | null;
  secret: string;
  /** The secret before the last rotation and until when it still signs (both signatures are sent). */
  previousSecret: string | null;
  previousSecretUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** One event's delivery to one endpoint: the outbox row. */
export interface WebhookDelivery {
  id: string;
  workspaceId: string;
  endpointId: string;
  eventType: string;
  eventId: string;
  /** The exact JSON body sent. */
  payload: string;
  attempts: number;
  nextAttemptAt: number;
  state: WebhookDeliveryState;
  lastStatus: number | null;
  lastError: string | null;
  lastAttemptAt: number | null;
  deliveredAt: number | null;
  createdAt: number;
}

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const JOB_KINDS = ['user.erase', 'retention.run'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Durable background work of one workspace: advanced in batches, resumable at its cursor. */
export interface Job {
  id: string;
  workspaceId: string;
  kind: JobKind;
  state: JobState;
  params: JsonObject;
  /** `done` of `total` (null while unknown), plus the counts so far. */
  progress: { done: number; total: number | null; counts: Record<string, number> };
  cursor: JsonObject | null;
  result: JsonObject | null;
  error: { code: string; message: string } | null;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  attempts: number;
}

export interface RetentionRule {
  action: 'delete' | 'archive';
  inactiveDays: number;
}

/** A workspace's retention policy: a user's rule wins over a bot's, a bot's over the default. */
export interface RetentionPolicy {
  default: RetentionRule | null;
  users: Record<string, RetentionRule>;
  bots: Record<string, RetentionRule>;
}
