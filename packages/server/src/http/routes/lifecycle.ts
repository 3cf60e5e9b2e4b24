import { type TSchema, Type } from 'typebox';
import type { Hold, RetentionPolicy, RetentionRule, Workspace } from '../../domain/types.js';
import { ParleyError } from '../../errors.js';
import { BULK_DELETE_MAX, type BulkDeleteResult } from '../../services/conversations.js';
import { HOLD_TARGET_TYPES } from '../../services/holds.js';
import { TRASH_DAYS_MAX } from '../../services/trash.js';
import { requireAuth } from '../credentials.js';
import { presentConversation, presentJob, presentRetentionPolicy, presentWorkspace } from '../presenters.js';
import {
  AUTHED_ERRORS,
  Closed,
  ConversationParams,
  CursorMeta,
  errorResponses,
  OneOf,
  PageQuery,
  RetentionPolicySchema,
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

const JobParams = Closed({ job_id: Type.String({ minLength: 1, maxLength: 128, description: 'Job id' }) });
const UserParams = Closed({
  user_id: Type.String({ minLength: 1, maxLength: 128, description: 'The user whose conversations are erased' }),
});
const JobData = Type.Object({ data: Type.Ref('Job') });
/** The erase's export file, sent as written (a whole file ends with its {"type":"end"} line). */
const jobExportResponse = {
  description: 'The JSONL export the erase job wrote before erasing, as a file (Content-Disposition).',
  content: {
    'application/x-ndjson': {
      schema: { type: 'string', description: 'JSONL: one typed record per line (README, Export and import)' },
    },
  },
};

type WireRule = { action: 'delete' | 'archive'; inactive_days: number };
const rule = (r: WireRule): RetentionRule => ({ action: r.action, inactiveDays: r.inactive_days });
const rules = (m: Record<string, WireRule>) => Object.fromEntries(Object.entries(m).map(([k, r]) => [k, rule(r)]));

/** An empty policy (no rule at all) removes the workspace's policy. */
function policyFromWire(b: {
  default: WireRule | null;
  users: Record<string, WireRule>;
  bots: Record<string, WireRule>;
}) {
  const p: RetentionPolicy = {
    default: b.default ? rule(b.default) : null,
    users: rules(b.users),
    bots: rules(b.bots),
  };
  return p.default === null && Object.keys(p.users).length === 0 && Object.keys(p.bots).length === 0 ? null : p;
}

const RetentionData = Type.Object({
  data: Type.Object({
    ...RetentionPolicySchema.properties,
    updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }),
});

/**
 * Bulk delete, trash and restore, purge, legal holds, the workspace's trash setting; jobs,
 * erase-a-user and retention policies.
 */
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
        // the change's transaction stores the answer for an Idempotency-Key: it is the workspace
        // (read before: only trash_days changes), never the bare number setTrashDays returns
        write: async (inTx) => {
          const before = await deps.workspaces.get(auth, auth.workspaceId);
          const after = (days: number): Workspace => ({ ...before, trashDays: days });
          const days = await deps.trash.setTrashDays(auth, req.body.trash_days, inTx && ((w, d) => inTx(w, after(d))));
          return after(days);
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

  // jobs, erase-a-user and retention
  const tags = ['Data lifecycle'];

  app.get(
    '/v1/jobs/:job_id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'A job: state, progress (done of total, counts), timestamps and, when finished, its result',
        params: JobParams,
        response: { 200: JobData, ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req) => ({ data: presentJob(await deps.jobs.get(requireAuth(req), req.params.job_id)) }),
  );

  app.get(
    '/v1/jobs/:job_id/export',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary:
          "An erase job's export (export_first): the user's conversations as JSONL, from when the job wrote it until it expires or is deleted (404 before and after)",
        params: JobParams,
        response: { 200: jobExportResponse, ...errorResponses(...AUTHED_ERRORS, 'not_found') } as Record<
          number,
          TSchema
        >,
      },
    },
    async (req, reply) => {
      const opened = await deps.jobs.openExport(requireAuth(req), req.params.job_id);
      const user = String(opened.job.params.user_id ?? 'user').replace(/[^A-Za-z0-9._-]/g, '_');
      reply.header('Content-Type', 'application/x-ndjson; charset=utf-8');
      reply.header('Content-Disposition', `attachment; filename="erase-${user}-${opened.job.id}.jsonl"`);
      reply.header('Cache-Control', 'no-store');
      return reply.send(opened.file);
    },
  );

  app.delete(
    '/v1/jobs/:job_id/export',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "Delete an erase job's export file before it expires (audited as job.export_deleted)",
        params: JobParams,
        response: { 204: Type.Null(), ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req, reply) => {
      await deps.jobs.deleteExport(requireAuth(req), req.params.job_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/jobs',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "The workspace's jobs, newest first (keyset pages)",
        querystring: Closed({
          cursor: Type.Optional(Type.String({ maxLength: 2048 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          kind: Type.Optional(OneOf(['user.erase', 'retention.run'] as const)),
          state: Type.Optional(OneOf(['queued', 'running', 'succeeded', 'failed'] as const)),
        }),
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Job')), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.jobs.list(requireAuth(req), req.query);
      return { data: p.items.map(presentJob), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.post(
    '/v1/users/:user_id/erase',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary:
          'Erase a user: a job that permanently deletes every conversation of theirs with everything derived from it, and ends with a receipt (409 legal_hold if anything of theirs is held; nothing is erased then)',
        description:
          'Every conversation of the user goes, those in the trash included. With export_first, the job first ' +
          'writes a JSONL export of their conversations in view (the format of GET /v1/export) to a file that ' +
          'GET /v1/jobs/{job_id}/export serves until it expires (PARLEY_ERASE_EXPORT_HOURS) or is deleted; ' +
          'the receipt names its size and SHA-256. A hold placed while the job runs stops it (failed, legal_hold).',
        params: UserParams,
        body: Type.Optional(
          Closed({
            export_first: Type.Optional(
              Type.Boolean({
                default: false,
                description: 'Write a JSONL export of the user first, downloadable from the job',
              }),
            ),
          }),
        ),
        response: { 202: JobData, ...errorResponses(...WRITE_ERRORS, 'legal_hold') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 202,
        write: (inTx) =>
          deps.users.erase(requireAuth(req), req.params.user_id, { exportFirst: req.body?.export_first }, inTx),
        present: (j) => ({ data: presentJob(j) }),
      }),
  );

  app.get(
    '/v1/retention',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "The workspace's retention policy (no rule at all when none is set)",
        response: { 200: RetentionData, ...errorResponses(...AUTHED_ERRORS) },
      },
    },
    async (req) => {
      const r = await deps.retention.get(requireAuth(req));
      return { data: { ...presentRetentionPolicy(r.policy), updated_at: isoOrNull(r.updatedAt) } };
    },
  );

  app.put(
    '/v1/retention',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "Replace the workspace's retention policy; a policy without any rule removes it",
        body: RetentionPolicySchema,
        response: { 200: RetentionData, ...errorResponses(...WRITE_ERRORS) },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.retention.put(requireAuth(req), policyFromWire(req.body), inTx),
        present: (r) => ({ data: { ...presentRetentionPolicy(r.policy), updated_at: isoOrNull(r.updatedAt) } }),
      }),
  );

  app.post(
    '/v1/retention/run',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary:
          'Enforce the retention policy now, as a job (202); with dry_run=true, answer what it would do (counts and a sample of ids) and change nothing (200)',
        description:
          'A dry run may name a policy in the body (`policy`, the shape PUT /v1/retention takes): it answers what ' +
          'that policy would do, without saving it. A real run always enforces the saved policy: `policy` without ' +
          'dry_run=true is refused (validation_failed).',
        querystring: Closed({ dry_run: Type.Optional(Type.Boolean()) }),
        body: Type.Optional(
          Closed({
            policy: Type.Optional(RetentionPolicySchema),
          }),
        ),
        response: {
          200: Type.Object({
            data: Type.Object({
              dry_run: Type.Literal(true),
              as_of: Type.String({ format: 'date-time' }),
              counts: Type.Object({
                scanned: Type.Integer({ description: 'Conversations old enough for the shortest rule' }),
                deleted: Type.Integer(),
                archived: Type.Integer(),
                held: Type.Integer({ description: 'Due, but under a legal hold: skipped' }),
              }),
              sample: Type.Object({
                delete: Type.Array(Type.String()),
                archive: Type.Array(Type.String()),
                held: Type.Array(Type.String()),
              }),
            }),
          }),
          202: JobData,
          ...errorResponses(...WRITE_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const auth = requireAuth(req);
      const draft = req.body?.policy;
      if (req.query.dry_run === true) {
        const d = await deps.retention.dryRun(auth, draft === undefined ? undefined : policyFromWire(draft));
        reply.code(200);
        return {
          data: { dry_run: true as const, as_of: new Date(d.asOf).toISOString(), counts: d.counts, sample: d.sample },
        };
      }
      if (draft !== undefined) {
        throw new ParleyError(
          'validation_failed',
          'A real run enforces the saved policy; `policy` goes with dry_run=true',
          {
            details: [{ field: '/body/policy', message: 'only with dry_run=true' }],
          },
        );
      }
      return runWrite(req, reply, {
        status: 202,
        write: (inTx) => deps.retention.run(auth, auth.workspaceId, inTx),
        present: (j) => ({ data: presentJob(j) }),
      });
    },
  );
}
