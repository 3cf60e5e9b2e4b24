import { Type } from 'typebox';
import type { AuthContext, Conversation, Json, JsonObject } from '../../domain/types.js';
import { notFound } from '../../errors.js';
import { requireAuth } from '../../http/credentials.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { errors } from './errors.js';
import { contentOf, conversation, merged, message, messageInput, stringMap, tagQuery, tagsOf } from './presenters.js';
import {
  ConversationSchema,
  CreateMessageBody,
  EmptyAnswer,
  GetOrCreateConversationBody,
  GetOrCreateMessageBody,
  Headers,
  IdParams,
  ListConversationsQuery,
  ListMessagesQuery,
  MessageSchema,
  PAGE,
  UpdateConversationBody,
  UpdateMessageBody,
} from './schemas.js';

/** How far getOrCreateMessage looks for a match, newest first. */
const MESSAGE_SCAN = 1000;

export function routes(app: App, deps: AppDeps): void {
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
        summary: 'listConversations: most recent first, nextToken pages',
        headers: Headers,
        querystring: ListConversationsQuery,
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
        summary: 'getOrCreateConversation: by channel, integration and the discriminating tags',
        headers: Headers,
        body: GetOrCreateConversationBody,
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
        summary:
          'updateConversation: currentTaskId, tags and properties (merged; null or an empty string removes a key)',
        headers: Headers,
        params: IdParams,
        body: UpdateConversationBody,
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
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => svc.update(auth, req.params.id, { metadata: patch }, inTx),
        present: (c) => ({ conversation: conversation(c) }),
      });
    },
  );

  app.delete(
    '/conversations/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'deleteConversation: permanently deletes it and its messages; 200 {}',
        headers: Headers,
        params: IdParams,
        response: {
          200: EmptyAnswer,
          ...errors(404, 409, 422),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const c = await own(auth, req.params.id, botOf(req), 'write:ai');
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => svc.delete(auth, c.id, inTx),
        present: () => ({}),
      });
    },
  );

  app.get(
    '/messages',
    {
      config: { scope: 'read:ai' },
      schema: {
        summary: 'listMessages of a conversation, most recent first, nextToken pages',
        headers: Headers,
        querystring: ListMessagesQuery,
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
        summary:
          'createMessage: 201 {message}; outgoing from a bot, incoming when x-integration-id is sent (an integration relays a user)',
        headers: Headers,
        body: CreateMessageBody,
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
      return runWrite(req, reply, {
        status: 201,
        write: (inTx) => deps.messages.append(auth, c.id, input, inTx),
        present: (m) => ({ message: message(m, c) }),
      });
    },
  );

  app.post(
    '/messages/get-or-create',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary:
          'getOrCreateMessage: the newest message of the conversation whose discriminating tags match, else a new one; {message, meta:{created}}',
        headers: Headers,
        body: GetOrCreateMessageBody,
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
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.messages.append(auth, c.id, input, inTx),
        present: (m) => ({ message: message(m, c), meta: { created: true } }),
      });
    },
  );

  app.put(
    '/messages/:id',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'updateMessage: tags merged (null or an empty string removes a key), payload replaced; {message}',
        headers: Headers,
        params: IdParams,
        body: UpdateMessageBody,
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
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) =>
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
        present: (r) => ({ message: message(r.message, r.conversation) }),
      });
    },
  );

  app.get(
    '/messages/:id',
    {
      config: { scope: 'read:ai' },
      schema: {
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
        summary: 'deleteMessage: permanently deletes one message; 200 {}',
        headers: Headers,
        params: IdParams,
        response: {
          200: EmptyAnswer,
          ...errors(404, 409, 422),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const botId = botOf(req);
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.messages.delete(auth, req.params.id, inTx, { where: (c) => c.botId === botId }),
        present: () => ({}),
      });
    },
  );
}
