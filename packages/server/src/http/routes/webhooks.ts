import { Type } from 'typebox';
import { requireAuth } from '../credentials.js';
import { presentDelivery, presentWebhook } from '../presenters.js';
import {
  AUTHED_ERRORS,
  CursorMeta,
  DeliveryParams,
  errorResponses,
  NewWebhookBody,
  PageQuery,
  PatchWebhookBody,
  WebhookParams,
  WRITE_ERRORS,
} from '../schemas.js';
import type { App, AppDeps } from '../types.js';
import { runWrite } from '../write.js';

const WithSecret = Type.Object({
  webhook: Type.Ref('Webhook'),
  secret: Type.Union([Type.String(), Type.Null()], {
    description:
      'The signing secret (whsec_…), shown in this response only; null on an idempotent replay (never stored with the answer)',
  }),
});

/** Webhook endpoints and their delivery log (admin keys not bound to a user). */
export function registerWebhookRoutes(app: App, deps: AppDeps): void {
  const tags = ['Webhooks'];
  const one = Type.Object({ data: Type.Ref('Webhook') });

  app.post(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create a webhook endpoint; its signing secret is in this response only',
        body: NewWebhookBody,
        response: {
          201: Type.Object({ data: WithSecret }),
          ...errorResponses(...WRITE_ERRORS, 'webhook_address_not_allowed'),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 201,
        write: (inTx) => deps.webhooks.create(requireAuth(req), req.body, inTx),
        present: (r) => ({ data: { webhook: presentWebhook(r.endpoint), secret: r.secret as string | null } }),
        stored: (b) => ({ data: { ...b.data, secret: null } }),
      }),
  );

  app.get(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'List the workspace’s webhook endpoints (never their secrets)',
        querystring: PageQuery,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Webhook')), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.webhooks.list(requireAuth(req), req.query);
      return { data: p.items.map(presentWebhook), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.get(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Get a webhook endpoint',
        params: WebhookParams,
        response: { 200: one, ...errorResponses(...AUTHED_ERRORS, 'not_found') },
      },
    },
    async (req) => ({ data: presentWebhook(await deps.webhooks.get(requireAuth(req), req.params.id)) }),
  );

  app.patch(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change a webhook endpoint’s url, events, enabled flag or description',
        params: WebhookParams,
        body: PatchWebhookBody,
        response: { 200: one, ...errorResponses(...WRITE_ERRORS, 'not_found', 'webhook_address_not_allowed') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.webhooks.update(requireAuth(req), req.params.id, req.body, inTx),
        present: (e) => ({ data: presentWebhook(e) }),
      }),
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint with its delivery log; pending deliveries are not sent',
        params: WebhookParams,
        response: { 204: Type.Null(), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 204,
        write: (inTx) => deps.webhooks.delete(requireAuth(req), req.params.id, inTx),
        present: () => null,
      }),
  );

  app.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'New signing secret, shown once; the old one still signs during the overlap window',
        params: WebhookParams,
        response: { 200: Type.Object({ data: WithSecret }), ...errorResponses(...WRITE_ERRORS, 'not_found') },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.webhooks.rotateSecret(requireAuth(req), req.params.id, inTx),
        present: (r) => ({ data: { webhook: presentWebhook(r.endpoint), secret: r.secret as string | null } }),
        stored: (b) => ({ data: { ...b.data, secret: null } }),
      }),
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'The endpoint’s deliveries, newest first: event, state, attempts, last answer',
        params: WebhookParams,
        querystring: PageQuery,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('WebhookDelivery')), meta: CursorMeta }),
          ...errorResponses(...AUTHED_ERRORS, 'not_found', 'invalid_cursor'),
        },
      },
    },
    async (req) => {
      const p = await deps.webhooks.deliveries(requireAuth(req), req.params.id, req.query);
      return { data: p.items.map(presentDelivery), meta: { next_cursor: p.nextCursor } };
    },
  );

  app.post(
    '/v1/webhooks/:id/deliveries/:delivery_id/retry',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Send a delivery again now (any state)',
        params: DeliveryParams,
        response: {
          200: Type.Object({ data: Type.Ref('WebhookDelivery') }),
          ...errorResponses(...WRITE_ERRORS, 'not_found'),
        },
      },
    },
    async (req, reply) =>
      runWrite(req, reply, {
        status: 200,
        write: (inTx) => deps.webhooks.retryDelivery(requireAuth(req), req.params.id, req.params.delivery_id, inTx),
        present: (d) => ({ data: presentDelivery(d) }),
      }),
  );
}
