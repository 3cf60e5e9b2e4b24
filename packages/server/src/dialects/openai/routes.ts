import { requireAuth } from '../../http/credentials.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { parseId } from '../../ids.js';
import { conversation, item, replacement, toNewMessage } from './items.js';
import {
  ConversationParams,
  ConversationSchema,
  CreateBody,
  DeletedSchema,
  errors,
  IncludeQuery,
  ItemListSchema,
  ItemParams,
  ItemSchema,
  ItemsBody,
  ListQuery,
  UpdateBody,
} from './schemas.js';

type Item = ReturnType<typeof item>;
const list = (data: Item[], hasMore: boolean) => ({
  object: 'list' as const,
  data,
  first_id: data[0]?.id ?? null,
  last_id: data[data.length - 1]?.id ?? null,
  has_more: hasMore,
});

export function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  app.post(
    '/conversations',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'conversations.create: a conversation with up to 20 message items and string metadata',
        body: CreateBody,
        response: { 200: ConversationSchema, ...errors(409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const messages = (req.body.items ?? []).map((raw, i) => toNewMessage(raw as Record<string, unknown>, i));
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => svc.create(requireAuth(req), { metadata: req.body.metadata ?? {}, messages }, inTx),
        present: (d) => conversation(d.conversation),
      });
    },
  );

  app.get(
    '/conversations/:conversation_id',
    {
      config: { scope: 'read:ai' },
      schema: {
        summary: 'conversations.retrieve',
        params: ConversationParams,
        response: { 200: ConversationSchema, ...errors(404) },
      },
    },
    async (req) =>
      conversation((await svc.get(requireAuth(req), req.params.conversation_id, { limit: 1 })).conversation),
  );

  app.post(
    '/conversations/:conversation_id',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'conversations.update: replaces the string metadata (null clears it)',
        params: ConversationParams,
        body: UpdateBody,
        response: { 200: ConversationSchema, ...errors(404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      // the current metadata is read for the merge as part of the write: write:ai is enough, as on PATCH
      const current = await deps.compat.conversationFor(auth, req.params.conversation_id, 'write:ai');
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) =>
          svc.update(auth, current.id, { metadata: replacement(current.metadata, req.body.metadata) }, inTx),
        present: conversation,
      });
    },
  );

  app.delete(
    '/conversations/:conversation_id',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'conversations.delete: the conversation and all its items, atomically',
        params: ConversationParams,
        response: { 200: DeletedSchema, ...errors(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const id = parseId('conversation', req.params.conversation_id) ?? req.params.conversation_id;
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => svc.delete(requireAuth(req), req.params.conversation_id, inTx),
        present: () => ({ id, object: 'conversation.deleted' as const, deleted: true }),
      });
    },
  );

  app.post(
    '/conversations/:conversation_id/items',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'conversations.items.create: appends up to 20 message items, all or none',
        params: ConversationParams,
        querystring: IncludeQuery,
        body: ItemsBody,
        response: { 200: ItemListSchema, ...errors(404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const messages = req.body.items.map((raw, i) => toNewMessage(raw as Record<string, unknown>, i));
      return runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.compat.appendMessages(requireAuth(req), req.params.conversation_id, messages, inTx),
        present: (r) => list(r.messages.map(item), false),
      });
    },
  );

  app.get(
    '/conversations/:conversation_id/items',
    {
      config: { scope: 'read:ai' },
      schema: {
        summary: 'conversations.items.list: newest first by default; page with after = last_id',
        params: ConversationParams,
        querystring: ListQuery,
        response: { 200: ItemListSchema, ...errors(404) },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await deps.compat.listMessagesAfter(requireAuth(req), req.params.conversation_id, {
        after: q.after,
        order: q.order ?? 'desc',
        limit: q.limit ?? 20,
      });
      return list(page.items.map(item), page.hasMore);
    },
  );

  app.get(
    '/conversations/:conversation_id/items/:item_id',
    {
      config: { scope: 'read:ai' },
      schema: {
        summary: 'conversations.items.retrieve',
        params: ItemParams,
        querystring: IncludeQuery,
        response: { 200: ItemSchema, ...errors(404) },
      },
    },
    async (req) => item(await deps.messages.get(requireAuth(req), req.params.conversation_id, req.params.item_id)),
  );

  app.delete(
    '/conversations/:conversation_id/items/:item_id',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'conversations.items.delete: removes one message; answers the conversation',
        params: ItemParams,
        response: { 200: ConversationSchema, ...errors(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const owner = await deps.compat.conversationFor(auth, req.params.conversation_id, 'write:ai');
      return runWrite(req, reply, {
        status: 200,
        // an item of another conversation is not found here, like a missing one
        write: (inTx) => deps.messages.delete(auth, req.params.item_id, inTx, { where: (c) => c.id === owner.id }),
        present: () => conversation(owner),
      });
    },
  );
}
