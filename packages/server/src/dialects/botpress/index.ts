import { randomBytes } from 'node:crypto';
import { type TSchema, Type } from 'typebox';
import type { AuthContext, Conversation, Json, JsonObject, Message } from '../../domain/types.js';
import { notFound, type ParleyError } from '../../errors.js';
import { refuseWrongMethod } from '../../http/allowed-methods.js';
import { iso } from '../../http/presenters.js';
import { type App, type AppDeps, requireAuth, runWrite } from '../../http/route-kit.js';
import { Closed, OneOf } from '../../http/schemas.js';
import { publicMessage, useErrorShape } from '../common.js';

/**
 * Botpress Runtime API conversations and messages (deleteConversation from its seed page; list, get,
 * get-or-create, update, and the message calls from its sibling pages and the official client).
 * Channel, integration, tags and the current task live in the conversation's metadata; x-bot-id is
 * stamped as its bot_id and partitions the surface: a bot sees only its own conversations.
 */
const TAGS = ['Botpress'];
const PAGE = 20;

/** Botpress error types by HTTP status, as its generated client names them. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'InvalidPayload',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'ResourceNotFound',
  405: 'MethodNotFound',
  409: 'ResourceLockedConflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'InvalidPayload',
  429: 'RateLimited',
  500: 'Internal',
  503: 'Internal',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** `err_<YYYYMMDDHHMMSS>x<8 hex>`, the id format of Botpress errors. */
export function botpressErrorId(now: number): string {
  const d = new Date(now);
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `err_${stamp}x${randomBytes(4).toString('hex')}`;
}

export const BotpressError = Type.Object({
  id: Type.String({ description: 'err_<YYYYMMDDHHMMSS>x<8 hex>' }),
  code: Type.Integer(),
  type: Type.String(),
  message: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
});
const errors = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...statuses, 400, 401, 403, 429, 500].map((s) => [s, BotpressError]));

const Tags = Type.Record(Type.String(), Type.String());
/** Request maps: the official client sends `null` to remove a key (an empty string does too). */
const NullableTags = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]));
const ConversationSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  channel: Type.String(),
  integration: Type.String(),
  tags: Tags,
  messageCount: Type.Integer(),
  currentTaskId: Type.Optional(Type.String()),
  currentWorkflowId: Type.Optional(Type.String()),
  properties: Type.Optional(Tags),
});
const MessageSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  type: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  direction: OneOf(['incoming', 'outgoing']),
  userId: Type.String(),
  conversationId: Type.String(),
  tags: Tags,
  origin: Type.Optional(Type.Literal('synthetic')),
});

const Headers = Type.Object(
  {
    'x-bot-id': Type.String({ minLength: 1, maxLength: 128, description: 'Bot id (required)' }),
    'x-integration-id': Type.Optional(Type.String({ maxLength: 128 })),
    'x-integration-alias': Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: true },
);
const IdParams = Closed({ id: Type.String({ minLength: 1, maxLength: 255 }) });

const str = (v: Json | undefined, dflt: string): string => (typeof v === 'string' ? v : dflt);
function stringMap(t: Json | undefined): Record<string, string> {
  if (t === null || t === undefined || typeof t !== 'object' || Array.isArray(t)) return {};
  return Object.fromEntries(Object.entries(t).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
const tagsOf = (c: Conversation) => stringMap(c.metadata.tags);

/** Applies a request map onto the stored one: null or '' removes a key. */
function merged(current: Record<string, string>, change: Record<string, string | null>): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(change)) {
    if (v === null || v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

function conversation(c: Conversation) {
  const task = c.metadata.currentTaskId;
  const flow = c.metadata.currentWorkflowId;
  return {
    id: c.id,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    channel: str(c.metadata.channel, 'channel'),
    integration: str(c.metadata.integration, 'parley'),
    tags: tagsOf(c),
    messageCount: c.messageCount,
    ...(typeof task === 'string' ? { currentTaskId: task } : {}),
    ...(typeof flow === 'string' ? { currentWorkflowId: flow } : {}),
    ...(c.metadata.properties !== undefined ? { properties: stringMap(c.metadata.properties) } : {}),
  };
}

function message(m: Message, c: Conversation) {
  const payload = m.metadata.payload;
  const type = m.metadata.type;
  return {
    id: m.id,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.createdAt),
    type: typeof type === 'string' ? type : 'text',
    payload:
      payload !== null && typeof payload === 'object' && !Array.isArray(payload)
        ? (payload as JsonObject)
        : { text: m.content },
    direction: m.role === 'user' ? ('incoming' as const) : ('outgoing' as const),
    userId: str(m.metadata.userId, c.userId ?? ''),
    conversationId: c.id,
    tags: stringMap(m.metadata.tags),
    // the official client types origin as 'synthetic' or absent
    ...(m.metadata.origin === 'synthetic' ? { origin: 'synthetic' as const } : {}),
  };
}

/**
 * Tag filters from the query: `tags.key=value` is what the official @botpress/client sends (qs
 * with allowDots); `tags[key]=value` (deepObject) is accepted too.
 */
function tagQuery(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    const m = /^tags(?:\[(.+)\]|\.(.+))$/.exec(k);
    const name = m?.[1] ?? m?.[2];
    if (name && typeof v === 'string') out[name] = v;
  }
  return out;
}

export function registerBotpress(app: App, deps: AppDeps): void {
  const shape = (e: ParleyError) => ({
    id: botpressErrorId(deps.clock.now()),
    code: e.status,
    type: TYPE_BY_STATUS[e.status] ?? 'Unknown',
    message: publicMessage(e),
    metadata: {},
  });
  app.register(
    async (scope) => {
      const r = scope as unknown as App;
      useErrorShape(r, (e) => ({ body: shape(e) }));
      r.setNotFoundHandler(async (req, reply) => {
        refuseWrongMethod(req);
        reply.code(404);
        return {
          id: botpressErrorId(deps.clock.now()),
          code: 404,
          type: 'MethodNotFound',
          message: `No route for ${req.method} ${req.url.split('?')[0]}`,
          metadata: {},
        };
      });
      routes(r, deps);
    },
    { prefix: '/v1/chat' },
  );
}

/** A message's content in Parley (what search and the other surfaces read): payload.text, else the payload as JSON. */
function contentOf(payload: JsonObject): string {
  return typeof payload.text === 'string' ? payload.text : JSON.stringify(payload);
}

/** How far getOrCreateMessage looks for a match, newest first. */
const MESSAGE_SCAN = 1000;

/** What createMessage stores: the payload and Botpress fields in metadata, the text as content. */
function messageInput(
  b: {
    payload: JsonObject;
    userId: string;
    type: string;
    tags: Record<string, string | null>;
    origin?: 'synthetic' | undefined;
  },
  incoming: boolean,
) {
  return {
    role: incoming ? ('user' as const) : ('assistant' as const),
    content: contentOf(b.payload),
    metadata: {
      type: b.type,
      payload: b.payload,
      userId: b.userId,
      tags: merged({}, b.tags),
      ...(b.origin !== undefined ? { origin: b.origin } : {}),
    },
  };
}

function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;
  const botOf = (req: { headers: { 'x-bot-id': string } }) => req.headers['x-bot-id'];
  /**
   * The bot's own conversation; another bot's answers exactly like a missing one. A conversation's
   * bot never changes after creation, so a write that checked here cannot act on another bot's.
   */
  const own = async (
    auth: AuthContext,
    rawId: string,
    botId: string,
    scope: 'read:ai' | 'write:ai' = 'read:ai',
  ): Promise<Conversation> => {
    const conversation = await deps.compat.conversationFor(auth, rawId, scope);
    if (conversation.botId !== botId) throw notFound();
    return conversation;
  };

  app.get(
    '/conversations',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'listConversations: most recent first, nextToken pages',
        headers: Headers,
        querystring: Type.Object(
          {
            nextToken: Type.Optional(Type.String({ maxLength: 2048 })),
            pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Default ${PAGE}` })),
            sortField: Type.Optional(OneOf(['createdAt', 'updatedAt'])),
            sortDirection: Type.Optional(OneOf(['asc', 'desc'])),
            participantIds: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
            integrationName: Type.Optional(Type.String()),
            channel: Type.Optional(Type.String()),
          },
          { additionalProperties: true, description: 'tags[key]=value filters are accepted too' },
        ),
        response: {
          200: Type.Object({
            conversations: Type.Array(ConversationSchema),
            meta: Type.Object({ nextToken: Type.Optional(Type.String()) }),
          }),
          ...errors(),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const tags = tagQuery(q as Record<string, unknown>);
      const page = await svc.list(requireAuth(req), {
        botId: botOf(req),
        cursor: q.nextToken,
        perPage: q.pageSize ?? PAGE,
        archived: 'true',
        orderBy: q.sortField === 'createdAt' ? 'created_at' : 'updated_at',
        order: q.sortDirection ?? 'desc',
      });
      // filters Parley does not index apply within the page; nextToken still walks every page
      const items = page.items.filter((c) => {
        const view = conversation(c);
        if (q.channel !== undefined && view.channel !== q.channel) return false;
        if (q.integrationName !== undefined && view.integration !== q.integrationName) return false;
        if (q.participantIds && !(c.userId !== null && q.participantIds.includes(c.userId))) return false;
        return Object.entries(tags).every(([k, v]) => view.tags[k] === v);
      });
      return {
        conversations: items.map(conversation),
        meta: page.nextCursor ? { nextToken: page.nextCursor } : {},
      };
    },
  );

  app.post(
    '/conversations/get-or-create',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'getOrCreateConversation: by channel, integration and the discriminating tags',
        headers: Headers,
        body: Closed({
          channel: Type.String({ minLength: 1, maxLength: 200 }),
          tags: NullableTags,
          integrationName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          properties: Type.Optional(NullableTags),
          discriminateByTags: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
        }),
        response: { 200: Type.Object({ conversation: ConversationSchema }), ...errors() },
      },
    },
    async (req) => {
      const b = req.body;
      const botId = req.headers['x-bot-id'];
      const tags = merged({}, b.tags);
      const keys = b.discriminateByTags ?? Object.keys(b.tags);
      const { conversation: c } = await deps.compat.findOrCreate(
        requireAuth(req),
        {
          botId,
          matches: (c) => {
            const view = conversation(c);
            return (
              view.channel === b.channel &&
              // without integrationName (a bot's own call) any integration matches
              (b.integrationName === undefined || view.integration === b.integrationName) &&
              keys.every((k) => view.tags[k] === tags[k])
            );
          },
        },
        {
          botId,
          metadata: {
            channel: b.channel,
            ...(b.integrationName !== undefined ? { integration: b.integrationName } : {}),
            tags,
            ...(b.properties !== undefined ? { properties: merged({}, b.properties) } : {}),
          },
        },
      );
      return { conversation: conversation(c) };
    },
  );

  app.get(
    '/conversations/:id',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'getConversation',
        headers: Headers,
        params: IdParams,
        response: { 200: Type.Object({ conversation: ConversationSchema }), ...errors(404) },
      },
    },
    async (req) => ({ conversation: conversation(await own(requireAuth(req), req.params.id, botOf(req))) }),
  );

  app.put(
    '/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary:
          'updateConversation: currentTaskId, tags and properties (merged; null or an empty string removes a key)',
        headers: Headers,
        params: IdParams,
        body: Closed({
          currentTaskId: Type.Optional(Type.String({ maxLength: 200 })),
          tags: Type.Optional(NullableTags),
          properties: Type.Optional(NullableTags),
        }),
        response: { 200: Type.Object({ conversation: ConversationSchema }), ...errors(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const b = req.body;
      const current = await own(auth, req.params.id, botOf(req), 'write:ai');
      const patch: Record<string, Json> = {};
      if (b.currentTaskId !== undefined) patch.currentTaskId = b.currentTaskId;
      if (b.tags !== undefined) patch.tags = merged(tagsOf(current), b.tags);
      if (b.properties !== undefined) patch.properties = merged(stringMap(current.metadata.properties), b.properties);
      if (Object.keys(patch).length === 0) return { conversation: conversation(current) };
      return runWrite(
        req,
        reply,
        deps,
        200,
        (inTx) => svc.update(auth, req.params.id, { metadata: patch }, inTx),
        (c) => ({ conversation: conversation(c) }),
      );
    },
  );

  app.delete(
    '/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'deleteConversation: permanently deletes it and its messages; 200 {}',
        headers: Headers,
        params: IdParams,
        response: {
          200: Type.Object({}, { additionalProperties: false, description: 'Always {}' }),
          ...errors(404, 409, 422),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const c = await own(auth, req.params.id, botOf(req), 'write:ai');
      return runWrite(
        req,
        reply,
        deps,
        200,
        (inTx) => svc.delete(auth, c.id, inTx),
        () => ({}),
      );
    },
  );

  app.get(
    '/messages',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'listMessages of a conversation, most recent first, nextToken pages',
        headers: Headers,
        querystring: Type.Object(
          {
            conversationId: Type.String({ minLength: 1, maxLength: 255 }),
            nextToken: Type.Optional(Type.String({ maxLength: 2048 })),
            pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Default ${PAGE}` })),
          },
          { additionalProperties: true },
        ),
        response: {
          200: Type.Object({
            messages: Type.Array(MessageSchema),
            meta: Type.Object({ nextToken: Type.Optional(Type.String()) }),
          }),
          ...errors(404),
        },
      },
    },
    async (req) => {
      const auth = requireAuth(req);
      const c = await own(auth, req.query.conversationId, botOf(req));
      const tags = tagQuery(req.query as Record<string, unknown>);
      const p = await deps.messages.list(auth, c.id, {
        cursor: req.query.nextToken,
        limit: req.query.pageSize ?? PAGE,
        order: 'desc',
      });
      return {
        // like the conversation filters, tags apply within the page; nextToken walks every page
        messages: p.items
          .map((m) => message(m, c))
          .filter((m) => Object.entries(tags).every(([k, v]) => m.tags[k] === v)),
        meta: p.nextCursor ? { nextToken: p.nextCursor } : {},
      };
    },
  );

  app.post(
    '/messages',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary:
          'createMessage: 201 {message}; outgoing from a bot, incoming when x-integration-id is sent (an integration relays a user)',
        headers: Headers,
        body: Closed({
          payload: Type.Record(Type.String(), Type.Unknown()),
          userId: Type.String({ minLength: 1, maxLength: 255 }),
          conversationId: Type.String({ minLength: 1, maxLength: 255 }),
          type: Type.String({ minLength: 1, maxLength: 100 }),
          tags: Tags,
          origin: Type.Optional(OneOf(['synthetic'])),
          schedule: Type.Optional(
            Closed({
              dateTime: Type.Optional(Type.String({ maxLength: 64 })),
              delay: Type.Optional(Type.Number({ minimum: 0 })),
            }),
          ),
        }),
        response: { 201: Type.Object({ message: MessageSchema }), ...errors(404, 409, 413, 422) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const b = req.body;
      const c = await own(auth, b.conversationId, botOf(req), 'write:ai');
      const input = messageInput(
        { ...b, payload: b.payload as JsonObject },
        req.headers['x-integration-id'] !== undefined,
      );
      return runWrite(
        req,
        reply,
        deps,
        201,
        (inTx) => deps.messages.append(auth, c.id, input, inTx),
        (m) => ({ message: message(m, c) }),
      );
    },
  );

  app.post(
    '/messages/get-or-create',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary:
          'getOrCreateMessage: the newest message of the conversation whose discriminating tags match, else a new one; {message, meta:{created}}',
        headers: Headers,
        body: Closed({
          payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          userId: Type.String({ minLength: 1, maxLength: 255 }),
          conversationId: Type.String({ minLength: 1, maxLength: 255 }),
          type: Type.String({ minLength: 1, maxLength: 100 }),
          tags: NullableTags,
          origin: Type.Optional(OneOf(['synthetic'])),
          schedule: Type.Optional(
            Closed({
              dateTime: Type.Optional(Type.String({ maxLength: 64 })),
              delay: Type.Optional(Type.Number({ minimum: 0 })),
            }),
          ),
          discriminateByTags: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })),
        }),
        response: {
          200: Type.Object({ message: MessageSchema, meta: Type.Object({ created: Type.Boolean() }) }),
          ...errors(404, 409, 413, 422),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const b = req.body;
      const c = await own(auth, b.conversationId, botOf(req), 'write:ai');
      const tags = merged({}, b.tags);
      const keys = b.discriminateByTags ?? Object.keys(tags);
      // without a discriminating tag nothing identifies a message: always create
      if (keys.length > 0) {
        const recent = await deps.messages.list(auth, c.id, { limit: MESSAGE_SCAN, order: 'desc' });
        const found = recent.items.find((m) => {
          const mine = stringMap(m.metadata.tags);
          return keys.every((k) => mine[k] === tags[k]);
        });
        if (found) return { message: message(found, c), meta: { created: false } };
      }
      const input = messageInput(
        { ...b, payload: (b.payload ?? {}) as JsonObject, tags },
        req.headers['x-integration-id'] !== undefined,
      );
      return runWrite(
        req,
        reply,
        deps,
        200,
        (inTx) => deps.messages.append(auth, c.id, input, inTx),
        (m) => ({ message: message(m, c), meta: { created: true } }),
      );
    },
  );

  app.put(
    '/messages/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'updateMessage: tags merged (null or an empty string removes a key), payload replaced; {message}',
        headers: Headers,
        params: IdParams,
        body: Closed({
          tags: Type.Optional(NullableTags),
          payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        }),
        response: { 200: Type.Object({ message: MessageSchema }), ...errors(404, 409, 413, 422) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const botId = botOf(req);
      const b = req.body;
      if (b.tags === undefined && b.payload === undefined) {
        const { conversation: c, message: m } = await deps.messages.find(auth, req.params.id);
        if (c.botId !== botId) throw notFound('Message');
        return { message: message(m, c) };
      }
      return runWrite(
        req,
        reply,
        deps,
        200,
        (inTx) =>
          deps.messages.update(
            auth,
            req.params.id,
            (current) => {
              const metadata: JsonObject = { ...current.metadata };
              let content = current.content;
              if (b.tags !== undefined) metadata.tags = merged(stringMap(current.metadata.tags), b.tags);
              if (b.payload !== undefined) {
                metadata.payload = b.payload as JsonObject;
                content = contentOf(b.payload as JsonObject);
              }
              return { content, metadata };
            },
            inTx,
            { where: (c) => c.botId === botId },
          ),
        (r) => ({ message: message(r.message, r.conversation) }),
      );
    },
  );

  app.get(
    '/messages/:id',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'getMessage: {message}',
        headers: Headers,
        params: IdParams,
        response: { 200: Type.Object({ message: MessageSchema }), ...errors(404) },
      },
    },
    async (req) => {
      const { conversation: c, message: m } = await deps.messages.find(requireAuth(req), req.params.id);
      if (c.botId !== botOf(req)) throw notFound('Message');
      return { message: message(m, c) };
    },
  );

  app.delete(
    '/messages/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'deleteMessage: permanently deletes one message; 200 {}',
        headers: Headers,
        params: IdParams,
        response: {
          200: Type.Object({}, { additionalProperties: false, description: 'Always {}' }),
          ...errors(404, 409, 422),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const botId = botOf(req);
      return runWrite(
        req,
        reply,
        deps,
        200,
        (inTx) => deps.messages.delete(auth, req.params.id, inTx, { where: (c) => c.botId === botId }),
        () => ({}),
      );
    },
  );
}

export const BOTPRESS_PAGE_SIZE = PAGE;
