import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { type TSchema, Type } from 'typebox';
import {
  type ConversationContext,
  type Json,
  type JsonObject,
  ROLES,
  type Role,
  TOOL_STATUSES,
} from '../domain/types.js';
import type { ErrorCode } from '../errors.js';
import { type IdKind, parseId } from '../ids.js';
import type { ImportLine } from '../services/import.js';
import type { NewMessageInput } from '../services/messages.js';
import { findBadText } from './bad-text.js';
import { EXPORT_FORMAT, EXPORT_VERSION } from './export-formats.js';
import { OneOf } from './schemas.js';

/**
 * The lines an import reads, checked one at a time: the export's typed records (export-formats.ts)
 * and OpenAI-style chats, `{"messages":[{"role":"user","content":"…"}, …], "title"?, "user_id"?,
 * "bot_id"?, "external_id"?, "metadata"?, "context"?}`. Each line is checked against its
 * record's shape as a request body is (closed objects, NUL and lone surrogates refused).
 */

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 128 });
const Text = Type.String({ maxLength: 262_144 });
const Free = Type.Unsafe<JsonObject>({ type: 'object' });
const Context = Type.Object(
  {
    contact_id: Type.Optional(Id),
    deal_id: Type.Optional(Id),
    matter_id: Type.Optional(Id),
  },
  { additionalProperties: true },
);
const Closed = (props: Record<string, TSchema>) => Type.Object(props, { additionalProperties: false });

const HeaderRecord = Closed({
  type: Type.Literal('export'),
  format: Type.Literal(EXPORT_FORMAT),
  version: Type.Literal(EXPORT_VERSION),
  exported_at: Type.Optional(Timestamp),
});
const EndRecord = Closed({
  type: Type.Literal('end'),
  conversations: Type.Optional(Type.Integer({ minimum: 0 })),
  messages: Type.Optional(Type.Integer({ minimum: 0 })),
  tool_invocations: Type.Optional(Type.Integer({ minimum: 0 })),
});
const ConversationRecord = Closed({
  type: Type.Literal('conversation'),
  id: Id,
  title: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])),
  title_source: Type.Optional(Type.Union([OneOf(['auto', 'user']), Type.Null()])),
  user_id: Type.Optional(Type.Union([Id, Type.Null()])),
  bot_id: Type.Optional(Type.Union([Id, Type.Null()])),
  context: Type.Optional(Context),
  metadata: Type.Optional(Free),
  archived: Type.Optional(Type.Boolean()),
  // what the export says of the conversation's contents; the import counts for itself
  message_count: Type.Optional(Type.Integer({ minimum: 0 })),
  tool_invocation_count: Type.Optional(Type.Integer({ minimum: 0 })),
  last_message_at: Type.Optional(NullableTimestamp),
  created_at: Type.Optional(Timestamp),
  updated_at: Type.Optional(Timestamp),
});
const MessageRecord = Closed({
  type: Type.Literal('message'),
  id: Id,
  conversation_id: Id,
  role: OneOf(ROLES),
  content: Text,
  metadata: Type.Optional(Free),
  created_at: Type.Optional(Timestamp),
});
const ToolRecord = Closed({
  type: Type.Literal('tool_invocation'),
  id: Id,
  conversation_id: Id,
  message_id: Type.Optional(Type.Union([Id, Type.Null()])),
  tool_name: Type.String({ minLength: 1, maxLength: 200 }),
  input: Type.Optional(Type.Unknown()),
  output: Type.Optional(Type.Unknown()),
  status: Type.Optional(OneOf(TOOL_STATUSES)),
  started_at: Type.Optional(NullableTimestamp),
  finished_at: Type.Optional(NullableTimestamp),
  duration_ms: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  created_at: Type.Optional(Timestamp),
  updated_at: Type.Optional(Timestamp),
});

/** OpenAI's chat roles; `developer` is its newer name for `system`. */
const CHAT_ROLES = [...ROLES, 'developer'] as const;
const TextPart = Type.Object(
  { type: OneOf(['text', 'input_text', 'output_text']), text: Text },
  { additionalProperties: true },
);
const ChatMessage = Closed({
  role: OneOf(CHAT_ROLES),
  content: Type.Union([Text, Type.Null(), Type.Array(TextPart, { maxItems: 1000 })]),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  tool_calls: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
  tool_call_id: Type.Optional(Type.String({ maxLength: 200 })),
  metadata: Type.Optional(Free),
});
const ChatRecord = Closed({
  messages: Type.Array(ChatMessage, { minItems: 1, maxItems: 10_000 }),
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  user_id: Type.Optional(Id),
  bot_id: Type.Optional(Id),
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  metadata: Type.Optional(Free),
  context: Type.Optional(Context),
});

/** The record checks, compiled on the first import line (not when a server that never imports starts). */
function compileChecks() {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, strict: false });
  addFormats.default(ajv);
  return {
    export: ajv.compile(HeaderRecord),
    end: ajv.compile(EndRecord),
    conversation: ajv.compile(ConversationRecord),
    message: ajv.compile(MessageRecord),
    tool_invocation: ajv.compile(ToolRecord),
    chat: ajv.compile(ChatRecord),
  } as const satisfies Record<string, ValidateFunction>;
}
let checks: ReturnType<typeof compileChecks> | undefined;
type RecordType = keyof ReturnType<typeof compileChecks>;
const RECORD_TYPES: ReadonlySet<string> = new Set<RecordType>([
  'export',
  'end',
  'conversation',
  'message',
  'tool_invocation',
  'chat',
]);

function problem(e: ErrorObject | undefined): string {
  if (!e) return 'is invalid';
  const where = e.instancePath === '' ? '' : `${e.instancePath} `;
  if (e.keyword === 'additionalProperties') return `/${String(e.params.additionalProperty)} is not a known field`;
  if (e.keyword === 'enum') return `${where}must be one of ${(e.params.allowedValues as string[]).join(', ')}`;
  if (e.keyword === 'const') return `${where}must be ${JSON.stringify(e.params.allowedValue)}`;
  return `${where}${e.message ?? 'is invalid'}`;
}

/** JSON.parse, refusing the keys Fastify refuses in bodies (prototype poisoning). */
export function parseStrictJson(text: string): unknown {
  if (!text.includes('__proto__') && !text.includes('constructor')) return JSON.parse(text);
  return JSON.parse(text, (key, value) => {
    if (
      key === '__proto__' ||
      (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)
    ) {
      throw new SyntaxError('forbidden property name');
    }
    return value;
  });
}

const ms = (iso: string | undefined | null): number | undefined =>
  typeof iso === 'string' ? Date.parse(iso) : undefined;
const msOrNull = (iso: string | undefined | null): number | null => (typeof iso === 'string' ? Date.parse(iso) : null);

/** Object keys sorted, recursively: the same chat written with its keys in another order hashes the same. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

function invalid(line: number, code: ErrorCode, message: string, extra: Partial<ImportLine> = {}): ImportLine {
  return { line, kind: 'invalid', code, message, ...extra } as ImportLine;
}

/** A line's text → what the import does with it. */
export function parseImportLine(text: string, line: number): ImportLine {
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch {
    return invalid(line, 'invalid_json', 'The line is not valid JSON');
  }
  return parseImportValue(value, line);
}

/** An already-parsed line (an element of a JSON array body) → what the import does with it. */
export function parseImportValue(value: unknown, line: number): ImportLine {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return invalid(line, 'validation_failed', 'A line must be a JSON object: an export record or a chat');
  }
  const o = value as Record<string, unknown>;
  const type: RecordType | undefined =
    'type' in o
      ? typeof o.type === 'string' && RECORD_TYPES.has(o.type)
        ? (o.type as RecordType)
        : undefined
      : 'chat';
  const rawConversationId =
    type === 'conversation' && typeof o.id === 'string' ? (parseId('conversation', o.id) ?? undefined) : undefined;
  const refuse = (message: string) =>
    invalid(line, 'validation_failed', message, { recordType: type ?? undefined, conversationId: rawConversationId });
  if (type === undefined || type === 'chat') {
    if (type === undefined || !('messages' in o)) {
      return invalid(
        line,
        'validation_failed',
        '/type must be one of export, conversation, message, tool_invocation, end; or the line is a chat: {"messages":[…]}',
      );
    }
  }
  const bad = findBadText(o, '');
  if (bad) return refuse(`${bad.field} ${bad.message}`);
  checks ??= compileChecks();
  const validate = checks[type];
  if (!validate(o)) return refuse(problem(validate.errors?.[0]));

  const id = (kind: IdKind, raw: string, field: string): string | string[] => {
    const parsed = parseId(kind, raw);
    return (
      parsed ?? [`${field} is not a ${kind === 'toolInvocation' ? 'tool_' : kind === 'message' ? 'msg_' : 'conv_'} id`]
    );
  };
  switch (type) {
    case 'export':
      return { line, kind: 'header' };
    case 'end':
      return { line, kind: 'end' };
    case 'conversation': {
      const cid = id('conversation', o.id as string, '/id');
      if (Array.isArray(cid)) return refuse(cid[0] as string);
      return {
        line,
        kind: 'conversation',
        id: cid,
        userId: o.user_id as string | null | undefined,
        botId: (o.bot_id as string | null | undefined) ?? null,
        title: (o.title as string | null | undefined) ?? null,
        titleSource: (o.title_source as 'auto' | 'user' | null | undefined) ?? null,
        context: (o.context as ConversationContext | undefined) ?? {},
        metadata: (o.metadata as JsonObject | undefined) ?? {},
        archived: (o.archived as boolean | undefined) ?? false,
        createdAt: ms(o.created_at as string | undefined),
        updatedAt: ms(o.updated_at as string | undefined),
      };
    }
    case 'message': {
      const mid = id('message', o.id as string, '/id');
      const cid = id('conversation', o.conversation_id as string, '/conversation_id');
      if (Array.isArray(mid)) return refuse(mid[0] as string);
      if (Array.isArray(cid)) return refuse(cid[0] as string);
      return {
        line,
        kind: 'message',
        id: mid,
        conversationId: cid,
        role: o.role as Role,
        content: o.content as string,
        metadata: (o.metadata as JsonObject | undefined) ?? {},
        createdAt: ms(o.created_at as string | undefined),
      };
    }
    case 'tool_invocation': {
      const tid = id('toolInvocation', o.id as string, '/id');
      const cid = id('conversation', o.conversation_id as string, '/conversation_id');
      if (Array.isArray(tid)) return refuse(tid[0] as string);
      if (Array.isArray(cid)) return refuse(cid[0] as string);
      let messageId: string | null = null;
      if (typeof o.message_id === 'string') {
        const m = id('message', o.message_id, '/message_id');
        if (Array.isArray(m)) return refuse(m[0] as string);
        messageId = m;
      }
      return {
        line,
        kind: 'tool_invocation',
        id: tid,
        conversationId: cid,
        messageId,
        toolName: o.tool_name as string,
        input: (o.input as Json | undefined) ?? null,
        output: (o.output as Json | undefined) ?? null,
        status: (o.status as (typeof TOOL_STATUSES)[number] | undefined) ?? 'succeeded',
        startedAt: msOrNull(o.started_at as string | null | undefined),
        finishedAt: msOrNull(o.finished_at as string | null | undefined),
        createdAt: ms(o.created_at as string | undefined),
        updatedAt: ms(o.updated_at as string | undefined),
      };
    }
    case 'chat': {
      const messages: NewMessageInput[] = [];
      for (const raw of o.messages as Array<Record<string, unknown>>) {
        const role = raw.role === 'developer' ? 'system' : (raw.role as Role);
        const content =
          raw.content === null
            ? ''
            : Array.isArray(raw.content)
              ? (raw.content as Array<{ text: string }>).map((p) => p.text).join('\n')
              : (raw.content as string);
        const metadata: JsonObject = { ...((raw.metadata as JsonObject | undefined) ?? {}) };
        if (raw.role === 'developer') metadata.openai_role = 'developer';
        if (raw.name !== undefined) metadata.name = raw.name as string;
        if (raw.tool_calls !== undefined) metadata.tool_calls = raw.tool_calls as Json;
        if (raw.tool_call_id !== undefined) metadata.tool_call_id = raw.tool_call_id as string;
        if (content.length > 262_144) return refuse('/messages content is longer than 262144 characters');
        messages.push({ role, content, metadata });
      }
      const { external_id: _ignored, ...identity } = o;
      return {
        line,
        kind: 'chat',
        externalId: o.external_id as string | undefined,
        contentHash: createHash('sha256')
          .update(JSON.stringify(canonical(identity)))
          .digest('hex'),
        userId: o.user_id as string | undefined,
        botId: o.bot_id as string | undefined,
        title: o.title as string | undefined,
        context: o.context as ConversationContext | undefined,
        metadata: o.metadata as JsonObject | undefined,
        messages,
      };
    }
  }
}
