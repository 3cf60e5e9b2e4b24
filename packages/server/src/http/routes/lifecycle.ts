import { Type } from 'typebox';
import type { Hold, Workspace } from '../../domain/types.js';
import { BULK_DELETE_MAX, type BulkDeleteResult } from '../../services/conversations.js';
import { HOLD_TARGET_TYPES } from '../../services/holds.js';
import { TRASH_DAYS_MAX } from '../../services/trash.js';
import { requireAuth } from '../credentials.js';
import { presentConversation, presentWorkspace } from '../presenters.js';
import {
  AUTHED_ERRORS,
  Closed,
  ConversationParams,
  CursorMeta,
  errorResponses,
  OneOf,
  PageQuery,
  WRITE_ERRORS,
} from '../schemas.js';
import type { App, AppDeps } from '../types.js';
import { runWrite } from '../write.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const HoldSchema = Type.Object({
  id: Type.String(),
  target_type: OneOf([...HOLD_TARGET_TYPES]),
  target_value: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  created_by: Type.Union([Type.String(), Type.Null()], {
    description: 'The API key that placed it; null: the operator',
  }),
  released_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  released_by: Type.Union([Type.String(), Type.Null()]),
});

function presentHold(h: Hold) {
  return {
    id: h.id,
    target_type: h.targetType,
    target_value: h.targetValue,
    reason: h.reason,
    active: h.releasedAt === null,
    created_at: iso(h.createdAt),
    created_by: h.createdBy,
    released_at: isoOrNull(h.releasedAt),
    released_by: h.releasedBy,
  };
}

const BulkResult = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String(),
      status: OneOf(['deleted', 'not_found', 'held']),
      hold_id: Type.Optional(Type.String({ description: 'With held: the hold that covers it' })),
    }),
  ),
  meta: Type.Object({
    deleted: Type.Integer(),
    not_found: Type.Integer(),
    held: Type.Integer(),
    trashed: Type.Boolean({ description: 'true: the deleted conversations went to the trash (restorable)' }),
  }),
});

function presentBulk(r: BulkDeleteResult) {
  return {
    data: r.results.map((x) =>
      x.holdId ? { id: x.id, status: x.status, hold_id: x.holdId } : { id: x.id, status: x.status },
    ),
    meta: { deleted: r.deleted, not_found: r.notFound, held: r.held, trashed: r.trashed },
  };
}

const TrashedSchema = Type.Object({
  conversation: Type.Ref('Conversation'),
  trashed_at: Type.String({ format: 'date-time' }),
  purge_at: Type.String({
    format: 'date-time',
    description: 'When it is erased for good (unless a legal hold covers it)',
  }),
});

/** Bulk delete, trash and restore, purge, legal holds, and the workspace's trash setting. */
export function registerLifecycleRoutes(app: App, deps: AppDeps): void {
  app.post(
    '/v1/conversations/bulk-delete',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: ['Conversations'],
        summary: `Delete up to ${BULK_DELETE_MAX} conversations: atomic by default, a result per id`,
        description:
          'Each id answers deleted, not_found (missing, or another workspace’s: indistinguishable) or held. ' +
          'atomic (default true): when any id is covered by a legal hold nothing is deleted (409 legal_hold, ' +
          'details per held id); not_found ids never block. atomic=false deletes what it can. With the trash ' +
          'on, they go to the trash. A repeat with the same Idempotency-Key replays the answer; a repeat ' +
          'without one answers not_found for the ids already deleted.',
        body: Closed({
          ids: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: BULK_DELETE_MAX }),
          atomic: Type.Optional(Type.Boolean({ default: true })),
        }),
        response: { 200: BulkResult, ...errorResponses(...WRITE_ERRORS, 'legal_hold') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.conversations.bulkDelete(requireAuth(req), req.body.ids, req.body.atomic !== false, inTx),
        present: presentBulk,
      }),
  );

  app.post(
    '/v1/conversations/:id/restore',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: ['Trash'],
        summary: 'Bring a conversation back from the trash, exactly as it was (404 past its window)',
        params: ConversationParams,
        response: {
          200: Type.Object({ data: Type.Ref('Conversation') }),
          ...errorResponses(...WRITE_ERRORS, 'not_found'),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.conversations.restore(requireAuth(req), req.params.id, inTx),
        present: (c) => ({ data: presentConversation(c) }),
      }),
  );

  app.get(
    '/v1/trash',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: ['Trash'],
        summary: 'Conversations in the trash, by id (a user-bound key: its user’s only)',
        querystring: PageQuery,
        response: {
          200: Type.Object({ data: Type.Array(TrashedSchema), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.trash.list(requireAuth(req), req.query);
      return {
        data: p.items.map((t) => ({
          conversation: presentConversation(t.conversation),
          trashed_at: iso(t.trashedAt),
          purge_at: iso(t.purgeAt),
        })),
        meta: { next_cursor: p.nextCursor },
      };
    },
  );

  app.post(
    '/v1/trash/purge',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Trash'],
        summary: 'Erase for good now what is due in the trash, or everything in it with all=true (held ones stay)',
        body: Type.Optional(Closed({ all: Type.Optional(Type.Boolean({ default: false })) })),
        response: {
          200: Type.Object({
            data: Type.Object({ purged: Type.Integer(), held: Type.Integer(), messages: Type.Integer() }),
          }),
          ...errorResponses(...WRITE_ERRORS),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: () => deps.trash.purgeNow(requireAuth(req), req.body?.all === true),
        present: (r) => ({ data: { purged: r.purged, held: r.held, messages: r.counts.messages } }),
      }),
  );

  app.get(
    '/v1/workspace',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'The calling key’s own workspace, with its settings',
        response: { 200: Type.Object({ data: Type.Ref('Workspace') }), ...errorResponses(...AUTHED_ERRORS) },
      },
    },
    async (req) => {
      const auth = requireAuth(req);
      return { data: presentWorkspace(await deps.workspaces.get(auth, auth.workspaceId)) };
    },
  );

  app.patch(
    '/v1/workspace',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'Change the calling key’s own workspace settings: trash_days (0: deletes erase at once)',
        body: Closed({
          trash_days: Type.Integer({
            minimum: 0,
            maximum: TRASH_DAYS_MAX,
            description:
              'Days a deleted conversation stays restorable in the trash; 0 (default) deletes for good at once',
          }),
        }),
        response: { 200: Type.Object({ data: Type.Ref('Workspace') }), ...errorResponses(...WRITE_ERRORS) },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      return runWrite(req, reply, {
        status: 200,
        write: async (inTx) => {
          // the stored idempotent answer is the workspace, as the first answer is, not the bare number
          const ws = await deps.workspaces.get(auth, auth.workspaceId);
          const withDays = (days: number): Workspace => ({ ...ws, trashDays: days });
          const days = await deps.trash.setTrashDays(
            auth,
            req.body.trash_days,
            inTx && ((tx, d) => inTx(tx, withDays(d))),
          );
          return withDays(days);
        },
        present: (w) => ({ data: presentWorkspace(w) }),
      });
    },
  );

  // ---- legal holds --------------------------------------------------------------------------

  const holdTags = ['Legal holds'];
  const HoldParams = Closed({ id: Type.String({ minLength: 1, maxLength: 200, description: 'Hold id' }) });

  app.post(
    '/v1/holds',
    {
      config: { scope: 'admin' },
      schema: {
        tags: holdTags,
        summary: 'Place a legal hold on a conversation, a user, or a context id: no delete, purge or erase of it',
        body: Closed({
          target_type: OneOf([...HOLD_TARGET_TYPES]),
          target_value: Type.String({ minLength: 1, maxLength: 200 }),
          reason: Type.Optional(Type.String({ maxLength: 2000, description: 'Why (for the people who release it)' })),
        }),
        response: { 201: Type.Object({ data: HoldSchema }), ...errorResponses(...WRITE_ERRORS) },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 201,
        write: (inTx) =>
          deps.holds.create(
            requireAuth(req),
            { targetType: req.body.target_type, targetValue: req.body.target_value, reason: req.body.reason },
            inTx,
          ),
        present: (h) => ({ data: presentHold(h) }),
      }),
  );

  app.get(
    '/v1/holds',
    {
      config: { scope: 'admin' },
      schema: {
        tags: holdTags,
        summary: 'Active legal holds, oldest first (include_released=true: released ones too)',
        querystring: Closed({
          ...PageQuery.properties,
          include_released: Type.Optional(OneOf(['true', 'false'])),
        }),
        response: {
          200: Type.Object({ data: Type.Array(HoldSchema), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const p = await deps.holds.list(requireAuth(req), {
        includeReleased: q.include_released === 'true',
        cursor: q.cursor,
        limit: q.limit,
        order: q.order,
      });
      return { data: p.items.map(presentHold), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.get(
    '/v1/holds/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: holdTags,
        summary: 'One legal hold',
        params: HoldParams,
        response: { 200: Type.Object({ data: HoldSchema }), ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req) => ({ data: presentHold(await deps.holds.get(requireAuth(req), req.params.id)) }),
  );

  app.post(
    '/v1/holds/:id/release',
    {
      config: { scope: 'admin' },
      schema: {
        tags: holdTags,
        summary: 'Release a legal hold (idempotent: a released hold answers as it is)',
        params: HoldParams,
        response: { 200: Type.Object({ data: HoldSchema }), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.holds.release(requireAuth(req), req.params.id, inTx),
        present: (h) => ({ data: presentHold(h) }),
      }),
  );
}
