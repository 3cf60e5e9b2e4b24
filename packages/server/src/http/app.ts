import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { dialectDocs, registerDialect } from '../dialects/register.js';
import { DIALECTS } from '../dialects/registry.js';
import { acceptRequestId } from '../ids.js';
import { registerRealtimeRoutes, SUBPROTOCOL } from '../realtime/routes.js';
import { trackRouteMethods } from './allowed-methods.js';
import { registerCors } from './cors.js';
import { clientErrorHandler, frameworkErrorHandler } from './framework-errors.js';
import { addressRate, registerAccess } from './hooks/access.js';
import { registerIdempotency } from './hooks/idempotency.js';
import { registerMetrics } from './hooks/metrics.js';
import { registerTextGuard } from './hooks/text-guard.js';
import { RequestLogs } from './request-log.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { registerDocs } from './routes/docs.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerLifecycleRoutes } from './routes/lifecycle.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerTransferRoutes } from './routes/transfer.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { serializerFactory } from './serializer.js';
import { parseQuery, registerStrictJsonParser } from './strict-input.js';
import { answerErrorsIn, answerNotFound, errorBody, nativeShape, SurfaceErrors } from './surface-errors.js';
import type { App, AppDeps } from './types.js';
import { registerValidators } from './validators.js';

/** The HTTP server: Fastify configured, then its hooks and routes registered in order. */
export function buildApp(deps: AppDeps): App {
  const { config } = deps;
  // the native shape answers every path no compat surface claims (dialects add theirs: useErrorShape)
  const surfaces = new SurfaceErrors(nativeShape);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: config.http.bodyLimit,
    trustProxy: config.http.trustProxy,
    // Slow clients are held by explicit bounds: the headers, the whole request, an idle socket.
    // Node checks the first two on an interval, so it is kept well under the headers bound.
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.http.headersTimeoutMs / 4))),
    },
    genReqId: (req) => acceptRequestId(req.headers['x-request-id']),
    logController: new RequestLogs(),
    frameworkErrors: frameworkErrorHandler(() => surfaces, addressRate(deps)),
    clientErrorHandler: clientErrorHandler(() => surfaces) as never,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500, querystringParser: parseQuery },
    ajv: { customOptions: { strict: false } },
    schemaController: { compilersFactory: { buildSerializer: serializerFactory() as never } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  trackRouteMethods(app);
  registerValidators(app);
  // JSON only: Fastify's built-in text/plain parser would turn a text body into a 400 "must be object"
  // instead of the 415 a wrong content type deserves
  app.removeContentTypeParser('text/plain');
  registerStrictJsonParser(app as unknown as FastifyInstance);

  app.decorate('surfaceErrors', surfaces);
  app.decorateRequest('auth', null);
  app.decorateRequest('idem', null);

  // hooks, in the order they run: CORS (preflights answered before auth; headers on every answer,
  // errors too), then request id, auth, rate limit and scope, then the text guard after parsing,
  // then idempotency on write routes
  registerCors(app, config.http.corsOrigins);
  registerMetrics(app, deps);
  registerAccess(app, deps);
  registerTextGuard(app);
  registerIdempotency(app, deps);

  answerErrorsIn(app, nativeShape);
  answerNotFound(app, (req) => errorBody('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`, req.id));

  // docs first: the OpenAPI generator must see every route declared after it
  registerDocs(app, dialectDocs(DIALECTS));
  const realtime = deps.realtime;
  if (realtime) {
    app.register(websocket, {
      options: {
        maxPayload: config.ws.maxPayload,
        // browsers that pass a stream token as a subprotocol offer parley.v1 too; it is the one echoed
        handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      },
    });
  }
  app.register(async (scope) => {
    const routes = scope as unknown as App;
    registerOpsRoutes(routes, deps);
    registerConversationRoutes(routes, deps);
    registerKeyRoutes(routes, deps);
    registerConsoleRoutes(routes);
    registerTransferRoutes(routes, deps);
    registerLifecycleRoutes(routes, deps);
    registerWebhookRoutes(routes, deps);
    if (realtime) registerRealtimeRoutes(routes, deps, realtime);
    for (const dialect of DIALECTS) registerDialect(routes, deps, dialect);
  });
  return app;
}
