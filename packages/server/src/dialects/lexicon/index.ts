import { type TSchema, Type } from 'typebox';
import type { Conversation, Message } from '../../domain/types.js';
import { ParleyError } from '../../errors.js';
import { refuseWrongMethod } from '../../http/allowed-methods.js';
import { type App, type AppDeps, requireAuth, runWrite } from '../../http/route-kit.js';
import { Closed, OneOf } from '../../http/schemas.js';
import { isoSeconds, isoSecondsOrNull, publicMessage, useErrorShape } from '../common.js';
import { chatId, messageId } from './ids.js';
import { registerLexiconSocket } from './ws.js';

export { chatId } from './ids.js';

/**
 * Lexicon Labs chats (delete from its seed page; create, get, list-by-user and messages from its sibling
 * pages), keyed by `X-API-Key`, and the WebSocket /ws/chat (ws.ts). A socket there is live
 * presence, so DELETE answers 409 while one is attached (quirk 7).
 */
const TAGS = ['Lexicon Labs'];

/** The body FastAPI gives an HTTPException; Lexicon's pages show none, so this is our choice. */
const Detail = Type.Object({ detail: Type.String() }, { description: 'FastAPI-style error: {"detail": "..."}' });
const errors = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...statuses, 401, 429, 500].map((s) => [s, Detail]));

export function detailFor(e: ParleyError): string {
  if (e.code === 'invalid_key') return 'Invalid or missing API key';
  if (e.code === 'method_not_allowed') return 'Method Not Allowed';
  if (e.code === 'conversation_busy') return 'Chat cannot be deleted: it has active WebSocket connections';
  if (e.code === 'not_found' && e.message === 'Conversation not found') return 'Chat not found';
  return publicMessage(e);
}

const ChatSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  user_id: Type.Union([Type.String(), Type.Null()]),
  tenant_id: Type.String({ description: 'The workspace id' }),
  title: Type.Union([Type.String(), Type.Null()]),
  config: Type.Object({ metadata: Type.Record(Type.String(), Type.Unknown()) }),
  created_at: Type.String(),
  updated_at: Type.String(),
  last_message_at: Type.Union([Type.String(), Type.Null()]),
});
const ChatWithCount = Type.Object({ ...ChatSchema.properties, message_count: Type.Integer() });

const MessageSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  chat_id: Type.String({ format: 'uuid' }),
  content: Type.String(),
  sender_role: Type.String({ description: 'user, assistant, system or tool' }),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String(),
});

const Id = Type.String({ minLength: 1, maxLength: 128 });
const ChatParams = Closed({ chat_id: Type.String({ minLength: 1, maxLength: 255, description: 'Chat UUID' }) });
const UserParams = Closed({ user_id: Id });
const Order = OneOf(['asc', 'desc']);

const CreateBody = Closed({
  user_id: Id,
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

function chat(c: Conversation) {
  return {
    id: chatId(c),
    user_id: c.userId,
    tenant_id: c.workspaceId,
    title: c.title,
    config: { metadata: c.metadata },
    created_at: isoSeconds(c.createdAt),
    updated_at: isoSeconds(c.updatedAt),
    last_message_at: isoSecondsOrNull(c.lastMessageAt),
  };
}

function message(m: Message, c: Conversation) {
  return {
    id: messageId(m),
    chat_id: chatId(c),
    content: m.content,
    sender_role: m.role,
    metadata: m.metadata,
    created_at: isoSeconds(m.createdAt),
  };
}

export function registerLexicon(app: App, deps: AppDeps): void {
  app.register(
    async (scope) => {
      const r = scope as unknown as App;
      useErrorShape(r, (e) => ({ body: { detail: detailFor(e) } }));
      r.setNotFoundHandler(async (req, reply) => {
        refuseWrongMethod(req);
        reply.code(404);
        return { detail: 'Not Found' };
      });
      routes(r, deps);
    },
    { prefix: '/api' },
  );
  if (deps.realtime) registerLexiconSocket(app, deps, deps.realtime);
}

/** Lexicon's offset/limit/order query (offsets bounded so a page never scans without end). */
const offsetQuery = (maxOffset: number) =>
  Closed({
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: maxOffset, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    order: Type.Optional(Order),
  });

/** Lexicon's page envelope: the items under their own key, then total, offset, limit, has_more. */
const offsetPage = <K extends string, T extends TSchema>(key: K, item: T) =>
  Type.Object({
    [key]: Type.Array(item),
    total: Type.Integer(),
    offset: Type.Integer(),
    limit: Type.Integer(),
    has_more: Type.Boolean(),
  } as Record<K, ReturnType<typeof Type.Array<T>>> &
    Record<'total' | 'offset' | 'limit', ReturnType<typeof Type.Integer>> & {
      has_more: ReturnType<typeof Type.Boolean>;
    });

function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;
  const config = { keyHeader: 'x-api-key' } as const;
  const security = [{ lexiconKey: [] }];

  for (const path of ['/v1/chats/', '/v1/chats']) {
    app.post(
      path,
      {
        config: { ...config, scope: 'write:ai' },
        schema: {
          tags: TAGS,
          security,
          summary:
            path === '/v1/chats'
              ? 'Create a chat (alias without the trailing slash)'
              : 'Create a chat for a user (201)',
          body: CreateBody,
          response: { 201: ChatSchema, ...errors(400, 403, 409, 413, 415, 422) },
        },
      },
      async (req, reply) =>
        runWrite(
          req,
          reply,
          deps,
          201,
          (inTx) =>
            svc.create(
              requireAuth(req),
              { userId: req.body.user_id, title: req.body.title, metadata: req.body.metadata as never },
              inTx,
            ),
          (d) => chat(d.conversation),
        ),
    );
  }

  app.get(
    '/v1/chats/user/:user_id',
    {
      config: { ...config, scope: 'read:ai' },
      schema: {
        tags: TAGS,
        security,
        summary: "List a user's chats (offset/limit, by created_at); 404 when the user has none",
        params: UserParams,
        querystring: offsetQuery(10_000),
        response: {
          200: offsetPage('chats', ChatWithCount),
          ...errors(400, 403, 404),
        },
      },
    },
    async (req) => {
      const offset = req.query.offset ?? 0;
      const limit = req.query.limit ?? 50;
      const page = await svc.list(requireAuth(req), {
        userId: req.params.user_id,
        page: 1,
        offset,
        perPage: limit,
        archived: 'true',
        orderBy: 'created_at',
        order: req.query.order ?? 'desc',
      });
      // Lexicon answers an empty list with 404 (its list page documents this)
      if (page.total.total === 0) {
        throw new ParleyError('not_found', 'User not found or no chats exist for this user');
      }
      return {
        chats: page.items.map((c) => ({ ...chat(c), message_count: c.messageCount })),
        total: page.total.total,
        offset,
        limit,
        has_more: offset + page.items.length < page.total.total,
      };
    },
  );

  app.get(
    '/v1/chats/:chat_id',
    {
      config: { ...config, scope: 'read:ai' },
      schema: {
        tags: TAGS,
        security,
        summary: 'Get a chat',
        params: ChatParams,
        response: { 200: ChatWithCount, ...errors(400, 403, 404) },
      },
    },
    async (req) => {
      const d = await svc.get(requireAuth(req), req.params.chat_id, { limit: 1 });
      return { ...chat(d.conversation), message_count: d.conversation.messageCount };
    },
  );

  app.get(
    '/v1/chats/:chat_id/messages',
    {
      config: { ...config, scope: 'read:ai' },
      schema: {
        tags: TAGS,
        security,
        summary: 'List the messages of a chat (offset/limit, oldest first by default)',
        params: ChatParams,
        querystring: offsetQuery(1_000_000),
        response: {
          200: offsetPage('messages', MessageSchema),
          ...errors(400, 403, 404),
        },
      },
    },
    async (req) => {
      const offset = req.query.offset ?? 0;
      const limit = req.query.limit ?? 50;
      const p = await deps.compat.listMessagesAt(requireAuth(req), req.params.chat_id, {
        offset,
        limit,
        order: req.query.order ?? 'asc',
      });
      return {
        messages: p.items.map((m) => message(m, p.conversation)),
        total: p.total,
        offset,
        limit,
        has_more: offset + p.items.length < p.total,
      };
    },
  );

  app.delete(
    '/v1/chats/:chat_id',
    {
      config: { ...config, scope: 'write:ai' },
      schema: {
        tags: TAGS,
        security,
        summary: 'Delete a chat and all its messages, atomically: 200 {success, message, deleted_at}',
        params: ChatParams,
        response: {
          200: Type.Object({ success: Type.Boolean(), message: Type.String(), deleted_at: Type.String() }),
          ...errors(400, 403, 404, 409, 422),
        },
      },
    },
    async (req, reply) =>
      runWrite(
        req,
        reply,
        deps,
        200,
        // the documented 409 while a socket is attached (quirk 7); the native DELETE deletes anyway
        (inTx) => svc.delete(requireAuth(req), req.params.chat_id, inTx, { ifIdle: true }),
        () => ({ success: true, message: 'Chat deleted successfully', deleted_at: isoSeconds(deps.clock.now()) }),
      ),
  );
}
