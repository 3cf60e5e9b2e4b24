import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { registerDialects } from '../dialects/index.js';
import type { AuthContext } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import { acceptRequestId } from '../ids.js';
import { registerRealtimeRoutes, SUBPROTOCOL } from '../realtime/routes.js';
import { fingerprint, IdempotencyService } from '../services/idempotency.js';
import { refuseWrongMethod, trackRouteMethods } from './allowed-methods.js';
import { registerCors } from './cors.js';
import { clientErrorHandler, frameworkErrorHandler, SurfaceErrors } from './framework-errors.js';
import {
  type App,
  type AppDeps,
  errorBody,
  findBadText,
  misplacedKeyHint,
  presentedKey,
  setErrorHeaders,
  setRateHeaders,
  toParleyError,
} from './route-kit.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { registerDocs } from './routes/docs.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerOpsRoutes } from './routes/ops.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { serializerFactory } from './serializer.js';
import { parseQuery, queryProblem, registerStrictJsonParser, strictQueryNumbers } from './strict-input.js';

/** One line per finished request; the path only, since query strings can carry credentials. */
class RequestLogs extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' });
  }
  override incomingRequest(): void {}
  override requestCompleted(_err: unknown, req: FastifyRequest, reply: FastifyReply): void {
    // the line is not built at all when info is off
    const log = reply.log as { isLevelEnabled?: (level: string) => boolean };
    if (log.isLevelEnabled && !log.isLevelEnabled('info')) return;
    reply.log.info(
      {
        method: req.method,
        path: req.url.split('?')[0],
        route: req.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request completed',
    );
  }
}

export function buildApp(deps: AppDeps): App {
  const { config } = deps;
  // Bodies are not coerced (a number where a string belongs is a 400); query strings, params
  // and headers are, since they arrive as text.
  const strict = new Ajv({
    allErrors: true,
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  const lenient = new Ajv({
    allErrors: true,
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  addFormats.default(strict);
  addFormats.default(lenient);
  for (const s of SHARED_SCHEMAS) {
    strict.addSchema(s);
    lenient.addSchema(s);
  }

  // the native shape answers every path no compat surface claims (dialects add theirs: useErrorShape)
  const surfaces = new SurfaceErrors((e, req) => ({
    body: errorBody(e.code, e.status >= 500 ? 'Internal server error' : e.message, req.id, e.details, e.extra),
  }));
  const anonymousRate = async (req: FastifyRequest, reply: FastifyReply) => {
    setRateHeaders(reply, await deps.limiter.hit(`ip:${req.ip}`, config.rateLimitAnonymous, true));
  };
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 72_000,
    genReqId: (req) => acceptRequestId(req.headers['x-request-id']),
    logController: new RequestLogs(),
    frameworkErrors: frameworkErrorHandler(() => surfaces, anonymousRate),
    clientErrorHandler: clientErrorHandler(() => surfaces) as never,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500, querystringParser: parseQuery },
    ajv: { customOptions: { strict: false } },
    schemaController: { compilersFactory: { buildSerializer: serializerFactory() as never } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  trackRouteMethods(app);
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body') return strict.compile(schema);
    const compiled = lenient.compile(schema);
    return httpPart === 'querystring' ? (strictQueryNumbers(schema, compiled) as typeof compiled) : compiled;
  });

  // JSON only: Fastify's built-in text/plain parser would turn a text body into a 400 "must be object"
  // instead of the 415 a wrong content type deserves
  app.removeContentTypeParser('text/plain');
  registerStrictJsonParser(app as unknown as FastifyInstance);

  app.decorate('surfaceErrors', surfaces);
  app.decorateRequest('auth', null);
  app.decorateRequest('idem', null);

  // 0. CORS (when configured): preflights answered before auth; headers on every answer, errors too
  registerCors(app, config.corsOrigins);

  // 1. request id, auth, rate limit, scope: in that order, before any body is read
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-ID', req.id);
    // no response is ever to be sniffed into another type (an error JSON as HTML, say)
    reply.header('X-Content-Type-Options', 'nosniff');
    deps.metrics.inflight.inc();
    const access = req.routeOptions.config.scope;
    const token = presentedKey(req);
    let auth: AuthContext | null = null;
    let authError: ParleyError | null = null;
    if (access !== 'public' && (token !== undefined || access !== undefined)) {
      try {
        auth = await deps.keys.authenticate(token);
      } catch (err) {
        if (!(err instanceof ParleyError)) throw err;
        authError = err;
      }
    }
    const bucket = auth ? `key:${auth.keyId}` : `ip:${req.ip}`;
    const limit = auth ? (auth.rateLimit ?? config.rateLimit) : config.rateLimitAnonymous;
    const rate = await deps.limiter.hit(bucket, limit, access !== 'public');
    setRateHeaders(reply, rate);
    // public routes (health, docs) only report the address's budget: a busy address must not fail its probes
    if (!rate.allowed && access !== 'public') {
      const retry = Math.max(1, rate.reset - Math.floor(deps.clock.now() / 1000));
      throw new ParleyError('rate_limited', 'Rate limit exceeded', { retryAfter: retry });
    }
    if (authError && access !== undefined) throw misplacedKeyHint(req, authError);
    req.auth = auth;
    if (access === undefined || access === 'public' || access === 'authenticated') return;
    if (!auth) throw new ParleyError('invalid_key', 'Missing API key');
    if (!auth.scopes.includes(access) && !auth.scopes.includes('admin')) {
      throw new ParleyError('insufficient_permissions', `This API key is missing the ${access} scope`);
    }
  });

  // 2. text the engines cannot store, anywhere in body or query
  // callback-style: no promise per request for a check that never waits
  app.addHook('preValidation', (req, _reply, done) => {
    // a native route that declares no query parameters refuses any, as a closed query schema would
    if (req.routeOptions.url?.startsWith('/v1/') && !req.routeOptions.schema?.querystring) {
      const unknown = Object.keys((req.query ?? {}) as Record<string, unknown>).slice(0, 20);
      if (unknown.length > 0) {
        const details = unknown.map((k) => ({ field: `/query/${k}`, message: 'is not a known field' }));
        return done(new ParleyError('validation_failed', `/query/${unknown[0]} is not a known field`, { details }));
      }
    }
    const undecodable = queryProblem(req.query);
    if (undecodable) return done(undecodable);
    const bad = findBadText(req.body, '/body') ?? findBadText(req.query, '/query') ?? findBadText(req.params, '/path');
    if (bad) return done(new ParleyError('validation_failed', `${bad.field} ${bad.message}`, { details: [bad] }));
    done();
  });

  // 3. idempotency, after validation so that a replay is only ever of a valid request. Attached
  // to the write routes only (below, onRoute): reads skip both hooks instead of running them
  // to return at once.
  const idempotencyBegin = async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.headers['idempotency-key'];
    if (raw === undefined || !req.auth) return;
    const key = Array.isArray(raw) ? (raw[0] ?? '') : raw;
    IdempotencyService.validateKey(key);
    const fp = fingerprint(req.method, req.url, req.body, req.auth.userId);
    const start = await deps.idempotency.begin(req.auth.workspaceId, key, fp);
    if (start.kind === 'replay') {
      reply.header('Idempotent-Replayed', 'true');
      reply.code(start.statusCode);
      if (start.body === null) return reply.send();
      reply.type('application/json; charset=utf-8');
      return reply.serializer((p: unknown) => p as string).send(start.body);
    }
    req.idem = { key, fingerprint: fp, sealed: false };
  };

  // Label children looked up once per (method, route, status): prom-client would otherwise hash
  // the label object on every observation. Routes and statuses form a small closed set.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(v: number): void }>();
  app.addHook('onResponse', (req, reply, done) => {
    deps.metrics.inflight.dec();
    const method = req.method;
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const routeKey = `${method} ${route}`;
    const countKey = `${routeKey} ${status}`;
    let counter = counted.get(countKey);
    if (counter === undefined) {
      counter = deps.metrics.requests.labels({ method, route, status: String(status) });
      counted.set(countKey, counter);
    }
    counter.inc();
    let timer = timed.get(routeKey);
    if (timer === undefined) {
      timer = deps.metrics.duration.labels({ method, route });
      timed.set(routeKey, timer);
    }
    timer.observe(reply.elapsedTime / 1000);
    done();
  });

  // A request that failed had no effect: free its key BEFORE the answer leaves, so a client
  // retrying at once with the corrected request never races the release.
  const idempotencyRelease = async (req: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
    if (req.idem && !req.idem.sealed && req.auth) {
      req.idem.sealed = true;
      await deps.idempotency.release(req.auth.workspaceId, req.idem.key, req.idem.fingerprint).catch((err) => {
        req.log.warn({ err }, 'could not release idempotency key; it frees itself when its lock expires');
      });
    }
    return payload;
  };

  // Route-level hooks run after the global ones of the same kind, as the global hooks did when
  // registered here; write routes declare none of their own.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH' || m === 'DELETE')) return;
    const prepend = <T>(own: T | T[] | undefined, hook: T): T[] =>
      own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])];
    route.preHandler = prepend(route.preHandler, idempotencyBegin as never);
    route.onSend = prepend(route.onSend, idempotencyRelease as never);
  });

  app.setErrorHandler((err: FastifyError | ParleyError | Error, req, reply) => {
    const e = toParleyError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    setErrorHeaders(reply, e);
    const message = e.status >= 500 && e.code === 'internal_error' ? 'Internal server error' : e.message;
    reply.code(e.status).type('application/json; charset=utf-8');
    return reply.send(errorBody(e.code, message, req.id, e.details, e.extra));
  });

  app.setNotFoundHandler(async (req, reply) => {
    refuseWrongMethod(req);
    reply.code(404);
    return errorBody('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`, req.id);
  });

  // docs first: the OpenAPI generator must see every route declared after it
  registerDocs(app);
  const realtime = deps.realtime;
  if (realtime) {
    app.register(websocket, {
      options: {
        maxPayload: config.wsMaxPayload,
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
    if (realtime) registerRealtimeRoutes(routes, deps, realtime);
    registerDialects(routes, deps);
  });
  return app;
}
