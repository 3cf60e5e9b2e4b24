import type { Selectable } from 'kysely';
import type {
  ActorType,
  ApiKey,
  AuditEvent,
  Conversation,
  ConversationContext,
  Json,
  JsonObject,
  Message,
  Role,
  Scope,
  ToolInvocation,
  ToolStatus,
} from '../../domain/types.js';
import type {
  ApiKeysTable,
  AuditEventsTable,
  ConversationsTable,
  IdempotencyRecordsTable,
  MessagesTable,
  ToolInvocationsTable,
} from '../schema.js';
import type { IdempotencyRecord } from '../types.js';

// Rows <-> domain objects, and the column lists the queries select. Timestamps are epoch-ms
// integers (PostgreSQL BIGINT arrives as a number or a string), JSON is stored as text.

export const CONVERSATION_COLUMNS = [
  'c.workspace_id',
  'c.id',
  'c.user_id',
  'c.bot_id',
  'c.title',
  'c.title_source',
  'c.contact_id',
  'c.deal_id',
  'c.matter_id',
  'c.context_extra',
  'c.metadata',
  'c.archived',
  'c.message_count',
  'c.tool_invocation_count',
  'c.last_message_at',
  'c.created_at',
  'c.updated_at',
] as const;

export const KEY_COLUMNS = [
  'workspace_id',
  'id',
  'name',
  'prefix',
  'scopes',
  'user_id',
  'instance_admin',
  'rate_limit',
  'expires_at',
  'revoked_at',
  'created_at',
  'last_used_at',
] as const;

export const MESSAGE_COLUMNS = [
  'workspace_id',
  'conversation_id',
  'id',
  'role',
  'content',
  'metadata',
  'created_at',
] as const;

export const TOOL_COLUMNS = [
  'workspace_id',
  'conversation_id',
  'id',
  'message_id',
  'tool_name',
  'input',
  'output',
  'status',
  'started_at',
  'finished_at',
  'created_at',
  'updated_at',
] as const;

export const AUDIT_COLUMNS = [
  'workspace_id',
  'id',
  'actor_key_id',
  'actor_type',
  'action',
  'target_type',
  'target_id',
  'counts',
  'details',
  'created_at',
] as const;

export const IDEMPOTENCY_COLUMNS = [
  'workspace_id',
  'idem_key',
  'fingerprint',
  'state',
  'status_code',
  'response_body',
  'created_at',
  'locked_until',
] as const;

export const num = (v: number | string | bigint): number => (typeof v === 'number' ? v : Number(v));
export const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : num(v));

function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function toConversation(
  r: Omit<Selectable<ConversationsTable>, 'event_seq' | 'search_tsv' | 'deleted_state' | 'trashed_at' | 'purge_at'>,
): Conversation {
  const context: ConversationContext = parseJson<JsonObject>(r.context_extra);
  if (r.contact_id !== null) context.contact_id = r.contact_id;
  if (r.deal_id !== null) context.deal_id = r.deal_id;
  if (r.matter_id !== null) context.matter_id = r.matter_id;
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    userId: r.user_id,
    botId: r.bot_id,
    title: r.title,
    titleSource: r.title_source as Conversation['titleSource'],
    context,
    metadata: parseJson<JsonObject>(r.metadata),
    archived: num(r.archived) === 1,
    messageCount: num(r.message_count),
    toolInvocationCount: num(r.tool_invocation_count),
    lastMessageAt: numOrNull(r.last_message_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function contextColumns(ctx: ConversationContext) {
  const { contact_id, deal_id, matter_id, ...extra } = ctx;
  return {
    contact_id: typeof contact_id === 'string' ? contact_id : null,
    deal_id: typeof deal_id === 'string' ? deal_id : null,
    matter_id: typeof matter_id === 'string' ? matter_id : null,
    context_extra: JSON.stringify(extra),
  };
}

export function toMessage(r: Omit<Selectable<MessagesTable>, 'search_tsv'>): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role as Role,
    content: r.content,
    metadata: parseJson<JsonObject>(r.metadata),
    createdAt: num(r.created_at),
  };
}

export function toTool(r: Selectable<ToolInvocationsTable>): ToolInvocation {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    messageId: r.message_id,
    toolName: r.tool_name,
    input: parseJson<Json>(r.input),
    output: parseJson<Json>(r.output),
    status: r.status as ToolStatus,
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function toKey(r: Omit<Selectable<ApiKeysTable>, 'key_hash'>): ApiKey {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes.split(' ').filter(Boolean) as Scope[],
    userId: r.user_id,
    instanceAdmin: num(r.instance_admin) === 1,
    rateLimit: numOrNull(r.rate_limit),
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
    createdAt: num(r.created_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

export function toAudit(r: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    actorKeyId: r.actor_key_id,
    actorType: r.actor_type as ActorType,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    counts: parseJson<Record<string, number>>(r.counts),
    details: r.details === null ? null : parseJson<JsonObject>(r.details),
    createdAt: num(r.created_at),
  };
}

export function toIdem(r: Omit<Selectable<IdempotencyRecordsTable>, 'conversation_id'>): IdempotencyRecord {
  return {
    workspaceId: r.workspace_id,
    key: r.idem_key,
    fingerprint: r.fingerprint,
    state: r.state as IdempotencyRecord['state'],
    statusCode: numOrNull(r.status_code),
    responseBody: r.response_body,
    createdAt: num(r.created_at),
    lockedUntil: num(r.locked_until),
  };
}
