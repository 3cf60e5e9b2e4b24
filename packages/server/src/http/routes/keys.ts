import { Type } from 'typebox';
import { requireAuth } from '../credentials.js';
import { presentKey, presentWorkspace } from '../presenters.js';
import {
  AUTHED_ERRORS,
  CursorMeta,
  errorResponses,
  KeyParams,
  NewKeyBody,
  NewWorkspaceBody,
  PatchWorkspaceBody,
  WorkspaceParams,
  WRITE_ERRORS,
} from '../schemas.js';
import type { App, AppDeps } from '../types.js';
import { runWrite } from '../write.js';

const CreatedKeySchema = Type.Object({
  ...Type.Object({ key: Type.Ref('ApiKey') }).properties,
  secret: Type.Union([Type.String(), Type.Null()], {
    description: 'The key itself, shown in this response only; null on an idempotent replay (secrets are never stored)',
  }),
});

export function registerKeyRoutes(app: App, deps: AppDeps): void {
  const tags = ['API keys'];

  app.post(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create an API key; the secret is in this response only',
        body: NewKeyBody,
        response: { 201: Type.Object({ data: CreatedKeySchema }), ...errorResponses(...WRITE_ERRORS) },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 201,
        write: (inTx) =>
          deps.keys.create(
            requireAuth(req),
            {
              name: req.body.name,
              scopes: req.body.scopes,
              userId: req.body.user_id,
              expiresAt: req.body.expires_at === undefined ? undefined : Date.parse(req.body.expires_at),
              rateLimit: req.body.rate_limit,
            },
            inTx,
          ),
        present: (k) => ({ data: { key: presentKey(k.key), secret: k.secret as string | null } }),
        stored: (b) => ({ data: { ...b.data, secret: null } }),
      }),
  );

  app.get(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'List the workspace’s API keys (never their secrets)',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('ApiKey')) }), ...errorResponses(...AUTHED_ERRORS) },
      },
    },
    async (req) => ({ data: (await deps.keys.list(requireAuth(req))).map(presentKey) }),
  );

  app.get(
    '/v1/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Get one API key (never its secret)',
        params: KeyParams,
        response: { 200: Type.Object({ data: Type.Ref('ApiKey') }), ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req) => ({ data: presentKey(await deps.keys.get(requireAuth(req), req.params.id)) }),
  );

  app.delete(
    '/v1/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Revoke an API key; the next request with it is refused',
        params: KeyParams,
        response: {
          200: Type.Object({ data: Type.Ref('ApiKey') }),
          ...errorResponses(...WRITE_ERRORS, 'not_found', 'last_admin_key'),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.keys.revoke(requireAuth(req), req.params.id, inTx),
        present: (k) => ({ data: presentKey(k) }),
      }),
  );

  app.post(
    '/v1/workspaces',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'Create a workspace and its first admin key (instance admin key only)',
        body: NewWorkspaceBody,
        response: {
          201: Type.Object({
            data: Type.Object({
              workspace: Type.Ref('Workspace'),
              key: Type.Ref('ApiKey'),
              secret: Type.Union([Type.String(), Type.Null()], { description: 'null on an idempotent replay' }),
            }),
          }),
          ...errorResponses(...WRITE_ERRORS),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 201,
        write: (inTx) => deps.workspaces.create(requireAuth(req), req.body.name, inTx),
        present: (w) => ({
          data: {
            workspace: presentWorkspace(w.workspace),
            key: presentKey(w.key.key),
            secret: w.key.secret as string | null,
          },
        }),
        stored: (b) => ({ data: { ...b.data, secret: null } }),
      }),
  );

  app.get(
    '/v1/workspaces',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'List every workspace, oldest first (instance admin key only)',
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 2048 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Workspace')), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.workspaces.list(requireAuth(req), req.query);
      return { data: p.items.map(presentWorkspace), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.get(
    '/v1/workspaces/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'Get a workspace: any with the instance admin key, its own with a workspace admin key',
        params: WorkspaceParams,
        response: {
          200: Type.Object({ data: Type.Ref('Workspace') }),
          ...errorResponses(...AUTHED_ERRORS, 'not_found'),
        },
      },
    },
    async (req) => ({ data: presentWorkspace(await deps.workspaces.get(requireAuth(req), req.params.id)) }),
  );

  app.patch(
    '/v1/workspaces/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Workspaces'],
        summary: 'Rename a workspace (instance admin key only)',
        params: WorkspaceParams,
        body: PatchWorkspaceBody,
        response: {
          200: Type.Object({ data: Type.Ref('Workspace') }),
          ...errorResponses(...WRITE_ERRORS, 'not_found'),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.workspaces.rename(requireAuth(req), req.params.id, req.body.name, inTx),
        present: (w) => ({ data: presentWorkspace(w) }),
      }),
  );
}
