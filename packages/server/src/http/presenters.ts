import {
  type ApiKey,
  type AuditEvent,
  actorTypeOf,
  type Conversation,
  type ConversationContext,
  type Job,
  type Message,
  type RetentionPolicy,
  type RetentionRule,
  type ToolInvocation,
  type WebhookDelivery,
  type WebhookEndpoint,
  type Workspace,
} from '../domain/types.js';

/** Domain -> wire. Field order follows the schemas so stored replays match live answers. */
export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/**
 * The context with its declared keys first, as the schema lists them (the store appends them to
 * the free keys): the order a schema serializer writes, so plain JSON.stringify writes the same.
 */
function wireContext(ctx: ConversationContext): ConversationContext {
  const { contact_id, deal_id, matter_id } = ctx;
  if (contact_id === undefined && deal_id === undefined && matter_id === undefined) return ctx;
  // undefined members are left out by every serializer, as absent ones are
  return { contact_id, deal_id, matter_id, ...ctx };
}

export function presentConversation(c: Conversation) {
  return {
    id: c.id,
    title: c.title,
    title_source: c.titleSource,
    user_id: c.userId,
    bot_id: c.botId,
    context: wireContext(c.context),
    metadata: c.metadata,
    archived: c.archived,
    message_count: c.messageCount,
    tool_invocation_count: c.toolInvocationCount,
    last_message_at: isoOrNull(c.lastMessageAt),
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
  };
}

export function presentMessage(m: Message) {
  return {
    id: m.id,
    conversation_id: m.conversationId,
    role: m.role,
    content: m.content,
    metadata: m.metadata,
    created_at: iso(m.createdAt),
  };
}

export function presentTool(t: ToolInvocation) {
  return {
    id: t.id,
    conversation_id: t.conversationId,
    message_id: t.messageId,
    tool_name: t.toolName,
    input: t.input,
    output: t.output,
    status: t.status,
    started_at: isoOrNull(t.startedAt),
    finished_at: isoOrNull(t.finishedAt),
    duration_ms: t.startedAt !== null && t.finishedAt !== null ? t.finishedAt - t.startedAt : null,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
  };
}

// presentMessage and presentTool as JSON text, written field by field: an export writes a million
// of them, and building each object to stringify it cost more than the text. Byte for byte what
// JSON.stringify({ type, ...present*(x) }) writes (test/export-import.test.ts holds them to it).
const q = JSON.stringify;
const isoText = (ms: number | null): string => (ms === null ? 'null' : `"${iso(ms)}"`);

/** `{"type":<type>,…presentMessage(m)}` as JSON text. */
export function messageJson(type: string, m: Message): string {
  return `{"type":${q(type)},"id":${q(m.id)},"conversation_id":${q(m.conversationId)},"role":${q(m.role)},"content":${q(m.content)},"metadata":${q(m.metadata)},"created_at":"${iso(m.createdAt)}"}`;
}

/** `{"type":<type>,…presentTool(t)}` as JSON text. */
export function toolJson(type: string, t: ToolInvocation): string {
  const duration = t.startedAt !== null && t.finishedAt !== null ? t.finishedAt - t.startedAt : null;
  return `{"type":${q(type)},"id":${q(t.id)},"conversation_id":${q(t.conversationId)},"message_id":${q(t.messageId)},"tool_name":${q(t.toolName)},"input":${q(t.input)},"output":${q(t.output)},"status":${q(t.status)},"started_at":${isoText(t.startedAt)},"finished_at":${isoText(t.finishedAt)},"duration_ms":${q(duration)},"created_at":"${iso(t.createdAt)}","updated_at":"${iso(t.updatedAt)}"}`;
}

export function presentKey(k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    user_id: k.userId,
    instance_admin: k.instanceAdmin,
    rate_limit: k.rateLimit,
    expires_at: isoOrNull(k.expiresAt),
    revoked_at: isoOrNull(k.revokedAt),
    created_at: iso(k.createdAt),
    last_used_at: isoOrNull(k.lastUsedAt),
  };
}

export function presentWorkspace(w: Workspace) {
  return { id: w.id, name: w.name, created_at: iso(w.createdAt), trash_days: w.trashDays };
}

export function presentJob(j: Job) {
  return {
    id: j.id,
    kind: j.kind,
    state: j.state,
    params: j.params,
    progress: j.progress,
    result: j.result,
    error: j.error,
    created_at: iso(j.createdAt),
    updated_at: iso(j.updatedAt),
    started_at: j.startedAt === null ? null : iso(j.startedAt),
    finished_at: j.finishedAt === null ? null : iso(j.finishedAt),
  };
}

export function presentRetentionPolicy(p: RetentionPolicy | null) {
  const rule = (r: RetentionRule) => ({ action: r.action, inactive_days: r.inactiveDays });
  const map = (m: Record<string, RetentionRule>) => Object.fromEntries(Object.entries(m).map(([k, r]) => [k, rule(r)]));
  return {
    default: p?.default ? rule(p.default) : null,
    users: p ? map(p.users) : {},
    bots: p ? map(p.bots) : {},
  };
}

export function presentAudit(e: AuditEvent) {
  return {
    id: e.id,
    actor_key_id: e.actorKeyId,
    actor_type: actorTypeOf(e),
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    counts: e.counts,
    details: e.details ?? null,
    created_at: iso(e.createdAt),
  };
}

/** A webhook endpoint, never its secrets. */
export function presentWebhook(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    enabled: e.enabled,
    description: e.description,
    previous_secret_expires_at: e.previousSecret === null ? null : isoOrNull(e.previousSecretUntil),
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
  };
}

/** A delivery as its log shows it (the body sent is not shown). */
export function presentDelivery(d: WebhookDelivery) {
  return {
    id: d.id,
    event_id: d.eventId,
    event_type: d.eventType,
    state: d.state,
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    next_attempt_at: d.state === 'pending' ? iso(d.nextAttemptAt) : null,
    last_attempt_at: isoOrNull(d.lastAttemptAt),
    delivered_at: isoOrNull(d.deliveredAt),
    created_at: iso(d.createdAt),
  };
}
