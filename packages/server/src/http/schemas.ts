import { type Static, type TProperties, type TSchema, Type } from 'typebox';
import { ACTOR_TYPES, JOB_KINDS, JOB_STATES, ROLES, SCOPES, TOOL_STATUSES } from '../domain/types.js';
import { ERROR_CATALOG, ERROR_CODES, type ErrorCode } from '../errors.js';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/events.js';

/**
 * Wire schemas: one source for validation, response serialization, TypeScript types and OpenAPI.
 * Every request object is closed (additionalProperties: false): an unknown field is a 400, everywhere.
 */
export const Closed = <T extends TProperties>(props: T, opts: { description?: string } = {}) =>
  Type.Object(props, { additionalProperties: false, ...opts });

const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
/**
 * An object with any keys. Not Type.Record(Type.String(), ...): that compiles to patternProperties
 * "^.*$", which no key holding a line break (\n, \u2028) matches, so the response serializer
 * silently dropped such keys.
 */
const AnyKeys = <T extends TSchema>(value: T, opts: { description?: string } = {}) =>
  Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, ...opts });
const FreeObject = AnyKeys(Type.Unknown(), { description: 'Any JSON object' });
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });
const ShortText = (description: string) => Type.String({ minLength: 1, maxLength: 255, description });

/**
 * One of a closed list of strings, declared as one `enum` (not an anyOf of consts) so that
 * OpenAPI readers and generators see the allowed values, and an error can name them all.
 */
export const OneOf = <const T extends readonly string[]>(values: T, opts: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts });

export const ScopeSchema = OneOf(SCOPES);
export const RoleSchema = OneOf(ROLES);
export const ToolStatusSchema = OneOf(TOOL_STATUSES);

// ---- errors -------------------------------------------------------------------------

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: OneOf(ERROR_CODES),
      message: Type.String(),
      request_id: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
      held: Type.Optional(
        Type.Array(Type.Object({ id: Type.String(), hold_id: Type.String() }), {
          description: 'legal_hold: each held conversation and the hold that covers it',
        }),
      ),
      live_connections: Type.Optional(
        Type.Integer({ description: 'conversation_busy only: live connections on every instance' }),
      ),
    }),
  },
  { $id: 'Error', description: 'Every error has this shape; see docs/errors.md for the codes.' },
);
export type ErrorBodyT = Static<typeof ErrorBody>;

/** Response entries for the given error codes, grouped by status, for OpenAPI and serialization. */
export function errorResponses(...codes: ErrorCode[]): Record<number, TSchema> {
  // method_not_allowed: every path answers another method with 405 and an Allow header
  const always: ErrorCode[] = [
    'validation_failed',
    'method_not_allowed',
    'rate_limited',
    'service_unavailable',
    'internal_error',
  ];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...new Set([...codes, ...always])]) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, TSchema> = {};
  for (const [status, list] of byStatus) {
    out[status] = Type.Ref('Error', {
      description: list.map((c) => `\`${c}\`: ${ERROR_CATALOG[c].description}`).join(' '),
    });
  }
  return out;
}

export const AUTHED_ERRORS: ErrorCode[] = ['invalid_key', 'insufficient_permissions'];
export const WRITE_ERRORS: ErrorCode[] = [
  ...AUTHED_ERRORS,
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'invalid_idempotency_key',
  'idempotency_key_reused',
  'idempotency_in_progress',
  'conversation_deleted',
  'insufficient_storage',
];

// ---- resources ------------------------------------------------------------------------

export const ContextSchema = Type.Object(
  {
    contact_id: Type.Optional(Type.String()),
    deal_id: Type.Optional(Type.String()),
    matter_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'contact_id, deal_id, matter_id plus any free keys' },
);

export const ConversationSchema = Type.Object(
  {
    id: Type.String({ description: '`conv_` + ULID; the same 128 bits as a UUID are accepted in paths' }),
    title: Type.Union([Type.String(), Type.Null()]),
    title_source: Type.Union([OneOf(['auto', 'user']), Type.Null()]),
    user_id: Type.Union([Type.String(), Type.Null()]),
    bot_id: Type.Union([Type.String(), Type.Null()]),
    context: ContextSchema,
    metadata: FreeObject,
    archived: Type.Boolean(),
    message_count: Type.Integer(),
    tool_invocation_count: Type.Integer(),
    last_message_at: NullableTimestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    match: Type.Optional(
      Type.Object(
        {
          message_id: Type.Union([Type.String(), Type.Null()], {
            description: 'The best-matching message; null when the title is the best match',
          }),
          field: OneOf(['title', 'content']),
          snippet: Type.String({
            description:
              'Plain text (never HTML) of about 200 characters around the matches, "…" where text was left out',
          }),
          highlights: Type.Array(Type.Object({ start: Type.Integer(), end: Type.Integer() }), {
            description:
              'Where the matched terms are in `snippet`: [start, end) as UTF-16 code unit offsets (JavaScript string indices), ascending, non-overlapping; clients render them',
          }),
        },
        { description: 'Only on list items answering `search`: why this conversation matched (see docs/search.md)' },
      ),
    ),
  },
  { $id: 'Conversation' },
);

export const MessageSchema = Type.Object(
  {
    id: Type.String(),
    conversation_id: Type.String(),
    role: RoleSchema,
    content: Type.String(),
    metadata: FreeObject,
    created_at: Timestamp,
  },
  { $id: 'Message' },
);

export const ToolInvocationSchema = Type.Object(
  {
    id: Type.String(),
    conversation_id: Type.String(),
    message_id: Type.Union([Type.String(), Type.Null()]),
    tool_name: Type.String(),
    input: Type.Unknown(),
    output: Type.Unknown(),
    status: ToolStatusSchema,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    duration_ms: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'ToolInvocation' },
);

export const ApiKeySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: 'First characters of the secret, to recognise it' }),
    scopes: Type.Array(ScopeSchema),
    user_id: Type.Union([Type.String(), Type.Null()]),
    instance_admin: Type.Boolean(),
    rate_limit: Type.Union([Type.Integer(), Type.Null()]),
    expires_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
    created_at: Timestamp,
    last_used_at: Type.Union([Timestamp, Type.Null()], {
      description: 'Last successful authentication, to the minute (written at most once a minute); null if never used',
    }),
  },
  { $id: 'ApiKey' },
);

export const WorkspaceSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created_at: Timestamp,
    trash_days: Type.Integer({
      description: 'Days a deleted conversation stays restorable in the trash; 0: erased at once',
    }),
  },
  { $id: 'Workspace' },
);

export const AuditEventSchema = Type.Object(
  {
    id: Type.String(),
    actor_key_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The key that acted; null when actor_type is operator or unknown',
    }),
    actor_type: Type.Union(
      ACTOR_TYPES.map((t) => Type.Literal(t)),
      {
        description:
          'api_key: a request with actor_key_id; operator: the CLI or the first start (whoever holds the database); unknown: written before the actor was kept',
      },
    ),
    action: Type.String({
      description:
        'conversation.deleted, conversation.archived, conversation.unarchived, conversation.renamed, api_key.created, api_key.revoked, workspace.created, workspace.renamed, webhook.created, webhook.updated, webhook.deleted, webhook.secret_rotated, user.erased, retention.updated, retention.ran',
    }),
    target_type: Type.String(),
    target_id: Type.String(),
    counts: AnyKeys(Type.Integer()),
    details: Type.Union([FreeObject, Type.Null()], {
      description: 'Ids and times beyond the counts (user.erased: the receipt), never content; null for most actions',
    }),
    created_at: Timestamp,
  },
  { $id: 'AuditEvent' },
);

export const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    // the answer names the server's event types (webhooks/events.ts), so the SDK's types and the
    // console's event list are checked against them; requests are judged by the service, whose
    // validation_failed names the unknown type
    events: Type.Array(OneOf(['*', ...WEBHOOK_EVENT_TYPES] as const), {
      description: 'Event types delivered, or ["*"] for all',
    }),
    enabled: Type.Boolean(),
    description: Type.Union([Type.String(), Type.Null()]),
    previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
      description: 'Until then the secret before the last rotation still signs (a second signature)',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Webhook' },
);

export const WebhookDeliverySchema = Type.Object(
  {
    id: Type.String({ description: 'The delivery id, sent as the webhook-id header' }),
    event_id: Type.String(),
    event_type: Type.String(),
    state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    attempts: Type.Integer(),
    last_status: Type.Union([Type.Integer(), Type.Null()], { description: 'HTTP status of the last answer' }),
    last_error: Type.Union([Type.String(), Type.Null()], {
      description: 'Why the last attempt failed: HTTP <status>, timed out, connection error, address not allowed',
    }),
    next_attempt_at: Type.Union([Timestamp, Type.Null()], { description: 'null unless pending' }),
    last_attempt_at: NullableTimestamp,
    delivered_at: NullableTimestamp,
    created_at: Timestamp,
  },
  { $id: 'WebhookDelivery' },
);
export const JobSchema = Type.Object(
  {
    id: Type.String(),
    kind: OneOf(JOB_KINDS, { description: 'user.erase or retention.run' }),
    state: OneOf(JOB_STATES, { description: 'queued → running → succeeded or failed' }),
    params: FreeObject,
    progress: Type.Object({
      done: Type.Integer({ description: 'Conversations handled so far (erased, or scanned by a retention run)' }),
      total: Type.Union([Type.Integer(), Type.Null()], { description: 'How many there are, when known up front' }),
      counts: AnyKeys(Type.Integer(), { description: 'Counts so far, per kind of row' }),
    }),
    result: Type.Union([FreeObject, Type.Null()], {
      description: 'When succeeded: user.erase → {receipt}; retention.run → {counts, as_of}. Never content.',
    }),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
  },
  { $id: 'Job' },
);

export const RetentionRuleSchema = Closed({
  action: OneOf(['delete', 'archive'] as const, {
    description: 'delete: as a DELETE (to the trash when the workspace keeps one); archive: set archived',
  }),
  inactive_days: Type.Integer({ minimum: 1, maximum: 36_500, description: 'Days without an update or message' }),
});

export const RetentionPolicySchema = Closed({
  default: Type.Union([RetentionRuleSchema, Type.Null()], { description: 'For conversations no other rule names' }),
  users: AnyKeys(RetentionRuleSchema, { description: "By user_id; a user's rule wins over a bot's" }),
  bots: AnyKeys(RetentionRuleSchema, { description: 'By bot_id; wins over the default' }),
});

export const SHARED_SCHEMAS = [
  ErrorBody,
  ConversationSchema,
  MessageSchema,
  ToolInvocationSchema,
  ApiKeySchema,
  WorkspaceSchema,
  AuditEventSchema,
  WebhookSchema,
  WebhookDeliverySchema,
  JobSchema,
];

export const CursorMeta = Type.Object({ next_cursor: Type.Union([Type.String(), Type.Null()]) });

// ---- requests ---------------------------------------------------------------------------

const Text = Type.String({ maxLength: 262_144, description: 'Up to 256 Ki characters' });

export const NewMessageBody = Closed({
  role: RoleSchema,
  content: Text,
  metadata: Type.Optional(FreeObject),
});

export const CreateContext = Type.Object(
  {
    contact_id: Type.Optional(Id('Contact id')),
    deal_id: Type.Optional(Id('Deal id')),
    matter_id: Type.Optional(Id('Matter id')),
  },
  { additionalProperties: true },
);

export const CreateConversationBody = Closed({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  user_id: Type.Optional(Id('Owner user id; defaults to the key’s user')),
  bot_id: Type.Optional(Id('Bot / assistant id')),
  context: Type.Optional(CreateContext),
  metadata: Type.Optional(FreeObject),
  messages: Type.Optional(Type.Array(NewMessageBody, { maxItems: 1000, description: 'Optional first messages' })),
});

export const PatchConversationBody = Closed({
  title: Type.Optional(
    Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
      description: 'null returns to the automatic title, made from the first user message',
    }),
  ),
  archived: Type.Optional(Type.Boolean()),
  context: Type.Optional(
    Type.Union([
      Type.Object(
        {
          contact_id: Type.Optional(Type.Union([Id('Contact id'), Type.Null()])),
          deal_id: Type.Optional(Type.Union([Id('Deal id'), Type.Null()])),
          matter_id: Type.Optional(Type.Union([Id('Matter id'), Type.Null()])),
        },
        { additionalProperties: true, description: 'Merged into the context; null clears a key' },
      ),
      Type.Null({ description: 'Clears the whole context' }),
    ]),
  ),
  metadata: Type.Optional(AnyKeys(Type.Unknown(), { description: 'Merged; null removes a key' })),
});

export const Bool = OneOf(['true', 'false']);

export const ListConversationsQuery = Closed({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  cursor: Type.Optional(
    Type.String({
      maxLength: 2048,
      description:
        'meta.next_cursor of the previous page. It carries the filters and sort of its list: send it alone (with limit, optionally) or with the same filters; other filters are a 400 invalid_cursor. Not with page.',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, description: 'Alias of per_page for cursor pages; not with per_page' }),
  ),
  user_id: Type.Optional(Id('Owner; a key bound to a user defaults to that user')),
  bot_id: Type.Optional(Id('Bot id')),
  contact_id: Type.Optional(Id('Contact id')),
  deal_id: Type.Optional(Id('Deal id')),
  matter_id: Type.Optional(Id('Matter id')),
  archived: Type.Optional(
    OneOf(['false', 'true', 'only'], {
      description: 'false (default) hides archived; true includes them; only shows just them',
    }),
  ),
  created_after: Type.Optional(Timestamp),
  created_before: Type.Optional(Timestamp),
  updated_after: Type.Optional(Timestamp),
  updated_before: Type.Optional(Timestamp),
  order_by: Type.Optional(
    OneOf(['updated_at', 'created_at', 'relevance'], {
      description:
        'relevance (best match first; the default when `search` is given, and only valid with it) ignores `order`',
    }),
  ),
  order: Type.Optional(OneOf(['desc', 'asc'])),
  search: Type.Optional(
    Type.String({
      maxLength: 10_240,
      description:
        'Literal text found in titles and message content: every word must match (case- and accent-insensitive), the last one as a prefix; "quoted phrases" match as phrases; CJK and emoji are findable; operators and punctuation are plain text. Each item then carries `match`. See docs/search.md',
    }),
  ),
});

export const GetConversationQuery = Closed({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'How many of the most recent messages (default 200)' }),
  ),
  include_tool_steps: Type.Optional(Bool),
  order: Type.Optional(
    Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      description: 'asc (default): oldest first, as a transcript reads; desc: newest first',
    }),
  ),
});

export const PageQuery = Closed({
  cursor: Type.Optional(
    Type.String({
      maxLength: 2048,
      description: 'meta.next_cursor of the previous page; it keeps the order and page size, so it may come alone',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  order: Type.Optional(OneOf(['asc', 'desc'])),
});

export const AuditQuery = Closed({
  ...PageQuery.properties,
  action: Type.Optional(ShortText('Only this action, e.g. conversation.deleted')),
  actor_key_id: Type.Optional(ShortText('Only what this API key did')),
  conversation_id: Type.Optional(ShortText('Only events about this conversation (their target)')),
  created_after: Type.Optional(Type.String({ format: 'date-time', description: 'At or after this time (ISO 8601)' })),
  created_before: Type.Optional(Type.String({ format: 'date-time', description: 'Before this time (ISO 8601)' })),
});

export const WorkspaceParams = Closed({ id: ShortText('Workspace id') });
export const PatchWorkspaceBody = Closed({ name: Type.String({ minLength: 1, maxLength: 200 }) });

export const ConversationParams = Closed({ id: ShortText('Conversation id') });
export const ToolParams = Closed({ id: ShortText('Conversation id'), tool_id: ShortText('Tool invocation id') });
export const KeyParams = Closed({ id: ShortText('API key id') });

export const NewToolBody = Closed({
  tool_name: Type.String({ minLength: 1, maxLength: 200 }),
  input: Type.Optional(Type.Unknown()),
  output: Type.Optional(Type.Unknown()),
  status: Type.Optional(ToolStatusSchema),
  message_id: Type.Optional(ShortText('Message this invocation belongs to')),
  started_at: Type.Optional(Timestamp),
  finished_at: Type.Optional(Timestamp),
});

export const PatchToolBody = Closed({
  output: Type.Optional(Type.Unknown()),
  status: Type.Optional(ToolStatusSchema),
  message_id: Type.Optional(Type.Union([ShortText('Message id'), Type.Null()])),
  started_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  finished_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
});

export const NewKeyBody = Closed({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 3 }),
  user_id: Type.Optional(Id('Bind the key to this user')),
  expires_at: Type.Optional(Timestamp),
  rate_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Requests per window' })),
});

export const NewWorkspaceBody = Closed({ name: Type.String({ minLength: 1, maxLength: 200 }) });

const WebhookEvents = Type.Array(
  Type.String({ minLength: 1, maxLength: 64, description: 'An event type, or * for every type' }),
  { minItems: 1, maxItems: 20 },
);
export const NewWebhookBody = Closed({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http:// or https:// URL that receives the POSTs' }),
  events: WebhookEvents,
  enabled: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
});
export const PatchWebhookBody = Closed({
  url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  events: Type.Optional(WebhookEvents),
  enabled: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
});
export const WebhookParams = Closed({ id: ShortText('Webhook id') });
export const DeliveryParams = Closed({ id: ShortText('Webhook id'), delivery_id: ShortText('Delivery id') });
