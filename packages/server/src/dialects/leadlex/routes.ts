import { Type } from 'typebox';
import { requireAuth } from '../../http/credentials.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { isoSeconds } from '../common.js';
import { errors } from './errors.js';
import { lexiMessages, listItem, pickContext } from './presenters.js';
import { Ctx, GetQuery, LexiMessage, ListItem, ListQuery, Params, PatchBody } from './schemas.js';

export function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  app.get(
    '/conversations',
    {
      config: { scope: 'read:ai' },
      schema: {
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
