import { Type } from 'typebox';
import { validation } from '../../errors.js';
import type { ConversationDetail } from '../../services/conversations.js';
import { requireAuth } from '../credentials.js';
import { presentAudit, presentConversation, presentMessage, presentTool } from '../presenters.js';
import {
  AUTHED_ERRORS,
  AuditQuery,
  Closed,
  ConversationParams,
  ConversationSchema,
  CreateConversationBody,
  CursorMeta,
  errorResponses,
  GetConversationQuery,
  ListConversationsQuery,
  NewMessageBody,
  NewToolBody,
  OneOf,
  PageQuery,
  PatchConversationBody,
  PatchToolBody,
  ToolParams,
  WRITE_ERRORS,
} from '../schemas.js';
import { answerPlainJson } from '../serializer.js';
import type { App, AppDeps } from '../types.js';
import { runWrite } from '../write.js';

const ms = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));
const msOrNull = (iso: string | null | undefined): number | null | undefined =>
  iso === undefined ? undefined : iso === null ? null : Date.parse(iso);

const DetailSchema = Type.Object({
  ...ConversationSchema.properties,
  messages: Type.Array(Type.Ref('Message'), {
    description: 'GET: the most recent `limit`, oldest first (order=desc: newest first); create: as sent',
  }),
  tool_invocations: Type.Optional(
    Type.Array(Type.Ref('ToolInvocation'), { description: 'With include_tool_steps=true' }),
  ),
  live_connections: Type.Optional(
    Type.Union([Type.Integer(), Type.Null()], {
      description: 'GET only: live streams open on it across instances; null when presence is unavailable',
    }),
  ),
});

const data = <T extends import('typebox').TSchema>(schema: T) => Type.Object({ data: schema });
const dataPage = <T extends import('typebox').TSchema>(schema: T) =>
  Type.Object({ data: Type.Array(schema), meta: CursorMeta });

/** The list's answer (its serializer is plain JSON: see answerPlainJson). */
export const ListAnswer = Type.Object({
  data: Type.Array(Type.Ref('Conversation')),
  meta: Type.Object({
    total: Type.Integer(),
    total_exact: Type.Boolean({
      description:
        'false when the count stopped at its cap: 1,000 for a search, 10,000 for other filters that counters cannot answer',
    }),
    page: Type.Union([Type.Integer(), Type.Null()]),
    per_page: Type.Integer(),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  }),
});

/** GET /v1/conversations/:id's answer (plain JSON too). */
export const DetailAnswer = data(DetailSchema);

function presentDetail(d: ConversationDetail, live?: number | null) {
  // one object, filled in place: the wire order is the schema's either way
  const out: Record<string, unknown> = presentConversation(d.conversation);
  out.messages = d.messages.map(presentMessage);
  if (d.toolInvocations) out.tool_invocations = d.toolInvocations.map(presentTool);
  if (live !== undefined) out.live_connections = live;
  return out as ReturnType<typeof presentConversation> & {
    messages: ReturnType<typeof presentMessage>[];
    tool_invocations?: ReturnType<typeof presentTool>[];
    live_connections?: number | null;
  };
}

export function registerConversationRoutes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;
  const tags = ['Conversations'];

  app.post(
    '/v1/conversations',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags,
        summary: 'Create a conversation, optionally with its first messages',
        body: CreateConversationBody,
        response: { 201: data(DetailSchema), ...errorResponses(...WRITE_ERRORS) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      return runWrite(req, reply, {
        status: 201,
        write: (inTx) =>
          svc.create(
            requireAuth(req),
            {
              title: b.title,
              userId: b.user_id,
              botId: b.bot_id,
              context: b.context as never,
              metadata: b.metadata as never,
              messages: b.messages?.map((m) => ({ role: m.role, content: m.content, metadata: m.metadata as never })),
            },
            inTx,
          ),
        present: (d) => ({ data: presentDetail(d) }),
      });
    },
  );

  app.get(
    '/v1/conversations',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags,
        summary: 'List conversations (page/per_page or keyset cursor/limit), filter and search',
        querystring: ListConversationsQuery,
        response: {
          200: ListAnswer,
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      // two names for one number: both at once is a mistake to point out, not to settle silently
      if (q.per_page !== undefined && q.limit !== undefined) {
        throw validation('/query/limit', 'Use either per_page or limit, not both');
      }
      const page = await svc.list(requireAuth(req), {
        page: q.page,
        perPage: q.per_page ?? q.limit,
        cursor: q.cursor,
        userId: q.user_id,
        botId: q.bot_id,
        contactId: q.contact_id,
        dealId: q.deal_id,
        matterId: q.matter_id,
        archived: q.archived,
        createdAfter: ms(q.created_after),
        createdBefore: ms(q.created_before),
        updatedAfter: ms(q.updated_after),
        updatedBefore: ms(q.updated_before),
        orderBy: q.order_by ?? (q.search !== undefined ? 'relevance' : undefined),
        order: q.order,
        search: q.search,
      });
      answerPlainJson(reply);
      return {
        data: page.items.map((c, i) => {
          const m = page.matches?.[i];
          return m
            ? {
                ...presentConversation(c),
                match: { message_id: m.messageId, field: m.field, snippet: m.snippet, highlights: m.highlights },
              }
            : presentConversation(c);
        }),
        meta: {
          total: page.total.total,
          total_exact: page.total.exact,
          page: page.page,
          per_page: page.perPage,
          next_cursor: page.nextCursor,
        },
      };
    },
  );

  app.get(
    '/v1/conversations/:id',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags,
        summary: 'Get a conversation with its most recent messages, oldest first (order=desc: newest first)',
        params: ConversationParams,
        querystring: GetConversationQuery,
        response: { 200: DetailAnswer, ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const d = await svc.get(auth, req.params.id, {
        limit: req.query.limit,
        includeToolSteps: req.query.include_tool_steps === 'true',
        order: req.query.order,
      });
      const rt = deps.realtime;
      const live = rt
        ? (rt.liveConnectionsNow(auth.workspaceId, d.conversation.id) ??
          (await rt.liveConnections(auth.workspaceId, d.conversation.id).catch(() => null)))
        : 0;
      answerPlainJson(reply);
      return { data: presentDetail(d, live) };
    },
  );

  app.patch(
    '/v1/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags,
        summary: 'Rename, archive or restore, or change the context of a conversation',
        params: ConversationParams,
        body: PatchConversationBody,
        response: { 200: data(Type.Ref('Conversation')), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) =>
          svc.update(
            requireAuth(req),
            req.params.id,
            {
              title: req.body.title,
              archived: req.body.archived,
              context: req.body.context as never,
              metadata: req.body.metadata as never,
            },
            inTx,
          ),
        present: (c) => ({ data: presentConversation(c) }),
      }),
  );

  app.delete(
    '/v1/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags,
        summary: 'Delete a conversation with all its messages, tool invocations and index entries, atomically',
        description:
          'Live streams do not stop it: it deletes and ends every stream on every instance with the ' +
          'conversation.deleted event (close code 4410). With if_idle=true a conversation with live streams ' +
          'is refused with 409 conversation_busy (live_connections) and kept.',
        params: ConversationParams,
        querystring: Closed({
          if_idle: Type.Optional(
            OneOf(['true', 'false'], {
              description: 'true: refuse with 409 conversation_busy while live streams are open',
            }),
          ),
          force: Type.Optional(
            OneOf(['true', 'false'], {
              description: 'Accepted for compatibility: deleting regardless of live streams is the default now',
            }),
          ),
        }),
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...errorResponses(...WRITE_ERRORS, 'not_found', 'conversation_busy'),
        },
      },
    },
    async (req, reply) => {
      if (req.query.if_idle === 'true' && req.query.force === 'true') {
        throw validation('/query/if_idle', 'if_idle=true and force=true contradict each other; send one');
      }
      await runWrite(req, reply, {
        status: 204,
        write: (inTx) => svc.delete(requireAuth(req), req.params.id, inTx, { ifIdle: req.query.if_idle === 'true' }),
        present: () => null,
      });
      return reply.send(null);
    },
  );

  // ---- messages ---------------------------------------------------------------------------

  app.post(
    '/v1/conversations/:id/messages',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: ['Messages'],
        summary: 'Append a message',
        params: ConversationParams,
        body: NewMessageBody,
        response: { 201: data(Type.Ref('Message')), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 201,
        write: (inTx) =>
          deps.messages.append(
            requireAuth(req),
            req.params.id,
            { role: req.body.role, content: req.body.content, metadata: req.body.metadata as never },
            inTx,
          ),
        present: (m) => ({ data: presentMessage(m) }),
      }),
  );

  app.get(
    '/v1/conversations/:id/messages',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: ['Messages'],
        summary: 'List messages, oldest first by default, in keyset pages',
        params: ConversationParams,
        querystring: PageQuery,
        response: {
          200: dataPage(Type.Ref('Message')),
          ...errorResponses(...AUTHED_ERRORS, 'not_found', 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.messages.list(requireAuth(req), req.params.id, req.query);
      return { data: p.items.map(presentMessage), meta: { next_cursor: p.nextCursor } };
    },
  );

  // ---- tool invocations ----------------------------------------------------------------------

  const toolTags = ['Tool invocations'];
  app.post(
    '/v1/conversations/:id/tool-invocations',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: toolTags,
        summary: 'Record a tool invocation',
        params: ConversationParams,
        body: NewToolBody,
        response: { 201: data(Type.Ref('ToolInvocation')), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) => {
      const b = req.body;
      return runWrite(req, reply, {
        status: 201,
        write: (inTx) =>
          deps.toolInvocations.create(
            requireAuth(req),
            req.params.id,
            {
              toolName: b.tool_name,
              input: b.input as never,
              output: b.output as never,
              status: b.status,
              messageId: b.message_id,
              startedAt: ms(b.started_at),
              finishedAt: ms(b.finished_at),
            },
            inTx,
          ),
        present: (t) => ({ data: presentTool(t) }),
      });
    },
  );

  app.get(
    '/v1/conversations/:id/tool-invocations',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: toolTags,
        summary: 'List tool invocations in keyset pages',
        params: ConversationParams,
        querystring: PageQuery,
        response: {
          200: dataPage(Type.Ref('ToolInvocation')),
          ...errorResponses(...AUTHED_ERRORS, 'not_found', 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.toolInvocations.list(requireAuth(req), req.params.id, req.query);
      return { data: p.items.map(presentTool), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.get(
    '/v1/conversations/:id/tool-invocations/:tool_id',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: toolTags,
        summary: 'Get one tool invocation',
        params: ToolParams,
        response: { 200: data(Type.Ref('ToolInvocation')), ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req) => ({
      data: presentTool(await deps.toolInvocations.get(requireAuth(req), req.params.id, req.params.tool_id)),
    }),
  );

  app.patch(
    '/v1/conversations/:id/tool-invocations/:tool_id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: toolTags,
        summary: 'Update a tool invocation: output, status, timings',
        params: ToolParams,
        body: PatchToolBody,
        response: { 200: data(Type.Ref('ToolInvocation')), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) => {
      const b = req.body;
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) =>
          deps.toolInvocations.update(
            requireAuth(req),
            req.params.id,
            req.params.tool_id,
            {
              output: b.output as never,
              status: b.status,
              messageId: b.message_id,
              startedAt: msOrNull(b.started_at),
              finishedAt: msOrNull(b.finished_at),
            },
            inTx,
          ),
        present: (t) => ({ data: presentTool(t) }),
      });
    },
  );

  app.get(
    '/v1/audit-events',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Audit'],
        summary: 'Who deleted or changed what, newest first; never content',
        querystring: AuditQuery,
        response: { 200: dataPage(Type.Ref('AuditEvent')), ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor') },
      },
    },
    async (req) => {
      const q = req.query;
      const p = await deps.audit.list(requireAuth(req), {
        cursor: q.cursor,
        limit: q.limit,
        order: q.order,
        action: q.action,
        actorKeyId: q.actor_key_id,
        conversationId: q.conversation_id,
        createdAfter: ms(q.created_after),
        createdBefore: ms(q.created_before),
      });
      return { data: p.items.map(presentAudit), meta: { next_cursor: p.nextCursor } };
    },
  );
}
