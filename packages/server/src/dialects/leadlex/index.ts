import { type TSchema, Type } from 'typebox';
import type { Conversation, ConversationContext, Message, ToolInvocation } from '../../domain/types.js';
import type { ParleyError } from '../../errors.js';
import { refuseWrongMethod } from '../../http/allowed-methods.js';
import { requireAuth } from '../../http/credentials.js';
import { Bool, Closed } from '../../http/schemas.js';
import { publicMessage, useErrorShape } from '../../http/surface-errors.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { isoSeconds, isoSecondsOrNull } from '../common.js';

/**
 * LeadLex "Lexi" conversations (seeds 000 delete, 004 list; get and update from their sibling
 * pages). Served under /v1/lexi and under the product's base path /functions/v1/api-gateway.
 */
export const LEADLEX_PREFIXES = ['/v1/lexi', '/functions/v1/api-gateway/v1/lexi'] as const;
const TAGS = ['LeadLex Lexi'];

/** LeadLex names one 400 code; every body/query problem of ours is that one. */
function leadlexCode(e: ParleyError): string {
  return e.status === 400 ? 'validation_error' : e.code;
}

export const LeadLexError = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String() }) },
  {
    description: 'LeadLex error body: invalid_key, insufficient_permissions, not_found, rate_limited, validation_error',
  },
);

const errors = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...statuses, 429, 500].map((s) => [s, LeadLexError]));

const DOCUMENTED_CONTEXT = ['contact_id', 'deal_id', 'matter_id'] as const;

/** Only the context keys the page documents, and only those present. */
function pickContext(c: ConversationContext, extra: readonly string[] = []) {
  const out: Record<string, unknown> = {};
  for (const k of [...DOCUMENTED_CONTEXT, ...extra]) if (c[k] !== undefined) out[k] = c[k];
  return out;
}

const Ctx = Type.Object(
  {
    contact_id: Type.Optional(Type.String()),
    deal_id: Type.Optional(Type.String()),
    matter_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const ListItem = Type.Object({
  id: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  message_count: Type.Integer(),
  last_message_at: Type.Union([Type.String(), Type.Null()]),
  context: Ctx,
  archived: Type.Boolean(),
  created_at: Type.String(),
});

const LexiMessage = Type.Object({
  id: Type.String(),
  role: Type.String(),
  content: Type.String(),
  tool_calls: Type.Array(Type.Unknown()),
  tool_name: Type.Union([Type.String(), Type.Null()]),
  tool_output: Type.Unknown(),
  created_at: Type.String(),
});

const Id = Type.String({ minLength: 1, maxLength: 128 });

const ListQuery = Closed({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
  search: Type.Optional(Type.String({ maxLength: 10_240 })),
  user_id: Type.Optional(Id),
  contact_id: Type.Optional(Id),
  deal_id: Type.Optional(Id),
  archived: Type.Optional(Bool),
});

/** No length bound of its own: LeadLex answers a malformed id with 404, so any id the router takes is looked up. */
const Params = Closed({ id: Type.String({ minLength: 1, description: 'conv_… or UUID' }) });

const GetQuery = Closed({
  include_tool_steps: Type.Optional(Bool),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});

const PatchBody = Closed({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  archived: Type.Optional(Type.Boolean()),
  context: Type.Optional(
    Closed({
      contact_id: Type.Optional(Type.Union([Id, Type.Null()])),
      deal_id: Type.Optional(Type.Union([Id, Type.Null()])),
      matter_id: Type.Optional(Type.Union([Id, Type.Null()])),
    }),
  ),
});

function listItem(c: Conversation) {
  return {
    id: c.id,
    title: c.title,
    message_count: c.messageCount,
    last_message_at: isoSecondsOrNull(c.lastMessageAt),
    context: pickContext(c.context),
    archived: c.archived,
    created_at: isoSeconds(c.createdAt),
  };
}

/** Messages and (with include_tool_steps) tool steps interleaved, most recent first. */
function lexiMessages(messages: Message[], tools: ToolInvocation[] | null, limit: number) {
  const callsOf = new Map<string, ToolInvocation[]>();
  for (const t of tools ?? []) {
    if (t.messageId === null) continue;
    callsOf.set(t.messageId, [...(callsOf.get(t.messageId) ?? []), t]);
  }
  const rows = messages.map((m) => ({
    at: m.createdAt,
    key: m.id,
    body: {
      id: m.id,
      role: m.role as string,
      content: m.content,
      tool_calls: (callsOf.get(m.id) ?? []).map((t) => ({
        id: t.id,
        name: t.toolName,
        input: t.input,
        status: t.status,
      })),
      tool_name: null as string | null,
      tool_output: null as unknown,
      created_at: isoSeconds(m.createdAt),
    },
  }));
  for (const t of tools ?? []) {
    rows.push({
      at: t.createdAt,
      key: t.id,
      body: {
        id: t.id,
        role: 'tool',
        content: '',
        tool_calls: [],
        tool_name: t.toolName,
        tool_output: t.output,
        created_at: isoSeconds(t.createdAt),
      },
    });
  }
  // ids are time-ordered ULIDs; same-millisecond rows keep their minting order
  rows.sort((a, b) => b.at - a.at || (a.key.slice(a.key.indexOf('_')) < b.key.slice(b.key.indexOf('_')) ? 1 : -1));
  return rows.slice(0, limit).map((r) => r.body);
}

export function registerLeadLex(app: App, deps: AppDeps): void {
  for (const prefix of LEADLEX_PREFIXES) {
    app.register(
      async (scope) => {
        const r = scope as unknown as App;
        // the gateway base path answers the same routes; the reference documents them once
        if (prefix !== LEADLEX_PREFIXES[0]) {
          r.addHook('onRoute', (route) => {
            route.schema = { ...route.schema, hide: true };
          });
        }
        useErrorShape(r, (e, req) => ({
          body: { error: { code: leadlexCode(e), message: publicMessage(e), request_id: req.id } },
        }));
        r.setNotFoundHandler(async (req, reply) => {
          refuseWrongMethod(req);
          reply.code(404);
          return { error: { code: 'not_found', message: 'Not found', request_id: req.id } };
        });
        routes(r, deps);
      },
      { prefix },
    );
  }
}

function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  app.get(
    '/conversations',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'List Lexi conversations (page/per_page; archived=true includes archived)',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            data: Type.Object({ conversations: Type.Array(ListItem) }),
            meta: Type.Object({ page: Type.Integer(), per_page: Type.Integer(), total: Type.Integer() }),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await svc.list(requireAuth(req), {
        page: q.page ?? 1,
        perPage: q.per_page ?? 25,
        search: q.search,
        userId: q.user_id,
        contactId: q.contact_id,
        dealId: q.deal_id,
        archived: q.archived === 'true' ? 'true' : 'false',
      });
      return {
        data: { conversations: page.items.map(listItem) },
        meta: { page: page.page ?? 1, per_page: page.perPage, total: page.total.total },
      };
    },
  );

  app.get(
    '/conversations/:id',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'Get a Lexi conversation with its most recent messages (and tool steps)',
        params: Params,
        querystring: GetQuery,
        response: {
          200: Type.Object({
            data: Type.Object({
              id: Type.String(),
              title: Type.Union([Type.String(), Type.Null()]),
              context: Ctx,
              archived: Type.Boolean(),
              created_at: Type.String(),
              messages: Type.Array(LexiMessage),
            }),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 200;
      const d = await svc.get(requireAuth(req), req.params.id, {
        limit,
        includeToolSteps: req.query.include_tool_steps === 'true',
        order: 'desc',
      });
      const c = d.conversation;
      return {
        data: {
          id: c.id,
          title: c.title,
          context: pickContext(c.context, ['page']),
          archived: c.archived,
          created_at: isoSeconds(c.createdAt),
          messages: lexiMessages(d.messages, d.toolInvocations, limit),
        },
      };
    },
  );

  app.patch(
    '/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'Rename, archive/restore, or set the context of a Lexi conversation (null clears a key)',
        params: Params,
        body: PatchBody,
        response: {
          200: Type.Object({
            data: Type.Object({
              id: Type.String(),
              title: Type.Union([Type.String(), Type.Null()]),
              archived: Type.Boolean(),
              context: Ctx,
              updated_at: Type.String(),
            }),
          }),
          ...errors(400, 401, 403, 404, 409, 413, 415, 422),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) =>
          svc.update(
            requireAuth(req),
            req.params.id,
            { title: req.body.title, archived: req.body.archived, context: req.body.context as never },
            inTx,
          ),
        present: (c) => ({
          data: {
            id: c.id,
            title: c.title,
            archived: c.archived,
            context: pickContext(c.context, ['page']),
            updated_at: isoSeconds(c.updatedAt),
          },
        }),
      }),
  );

  app.delete(
    '/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'Delete a Lexi conversation with its messages and tool records: 204, empty body',
        params: Params,
        response: {
          204: Type.Null({ description: 'Deleted; an Idempotency-Key replay answers 204 again' }),
          ...errors(400, 401, 403, 404, 409, 422),
        },
      },
    },
    async (req, reply) => {
      await runWrite(req, reply, {
        status: 204,
        write: (inTx) => svc.delete(requireAuth(req), req.params.id, inTx),
        present: () => null,
      });
      return reply.send(null);
    },
  );
}
