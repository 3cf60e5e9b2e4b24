import { Type } from 'typebox';
import { ParleyError } from '../../errors.js';
import { requireAuth } from '../../http/credentials.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { isoSeconds } from '../common.js';
import { errors } from './errors.js';
import { chat, message } from './presenters.js';
import {
  ChatParams,
  ChatSchema,
  ChatWithCount,
  CreateBody,
  MessageSchema,
  offsetPage,
  offsetQuery,
  UserParams,
} from './schemas.js';

export function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  for (const path of ['/v1/chats/', '/v1/chats']) {
    app.post(
      path,
      {
        config: { scope: 'write:ai' },
        schema: {
          summary:
            path === '/v1/chats'
              ? 'Create a chat (alias without the trailing slash)'
              : 'Create a chat for a user (201)',
          body: CreateBody,
          response: { 201: ChatSchema, ...errors(400, 403, 409, 413, 415, 422) },
        },
      },
      async (req, reply) =>
        runWrite(req, reply, {
          status: 201,
          write: (inTx) =>
            svc.create(
              requireAuth(req),
              { userId: req.body.user_id, title: req.body.title, metadata: req.body.metadata as never },
              inTx,
            ),
          present: (d) => chat(d.conversation),
        }),
    );
  }

  app.get(
    '/v1/chats/user/:user_id',
    {
      config: { scope: 'read:ai' },
      schema: {
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
      config: { scope: 'read:ai' },
      schema: {
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
      config: { scope: 'read:ai' },
      schema: {
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
      config: { scope: 'write:ai' },
      schema: {
        summary: 'Delete a chat and all its messages, atomically: 200 {success, message, deleted_at}',
        params: ChatParams,
        response: {
          200: Type.Object({ success: Type.Boolean(), message: Type.String(), deleted_at: Type.String() }),
          ...errors(400, 403, 404, 409, 422),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        // the documented 409 while a socket is attached; the native DELETE deletes anyway
        write: (inTx) => svc.delete(requireAuth(req), req.params.chat_id, inTx, { ifIdle: true }),
        present: () => ({
          success: true,
          message: 'Chat deleted successfully',
          deleted_at: isoSeconds(deps.clock.now()),
        }),
      }),
  );
}
