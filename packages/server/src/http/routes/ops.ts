import { Type } from 'typebox';
import { errorResponses } from '../schemas.js';
import type { App, AppDeps } from '../types.js';

export function registerOpsRoutes(app: App, deps: AppDeps): void {
  const tags = ['Operations'];
  app.get(
    '/healthz',
    {
      config: { scope: 'public' },
      schema: {
        tags,
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { scope: 'public' },
      schema: {
        tags,
        summary: 'Readiness: the database answers',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), engine: Type.String() }, { additionalProperties: true }),
          ...errorResponses('service_unavailable'),
        },
      },
    },
    async () => {
      await deps.store.ping();
      const extra = deps.readiness ? await deps.readiness() : {};
      return { status: 'ready' as const, engine: deps.store.engine, ...extra };
    },
  );

  app.get(
    '/metrics',
    { config: { scope: 'public' }, schema: { tags, summary: 'Prometheus metrics', hide: false } },
    async (_req, reply) => {
      reply.type(deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );
}
