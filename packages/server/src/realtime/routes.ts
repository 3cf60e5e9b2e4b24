import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import type { AuthContext } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import { bearerToken } from '../http/credentials.js';
import { AUTHED_ERRORS, Closed, ConversationParams, errorResponses } from '../http/schemas.js';
import type { App, AppDeps } from '../http/types.js';
import { parseId } from '../ids.js';
import { SERVER_ROOT } from '../paths.js';
import { requireScope } from '../services/context.js';
import { type ConversationEvent, toWire } from './events.js';
import type { Realtime } from './index.js';
import { CLOSE, type SessionTransport } from './session.js';
import { STREAM_TOKEN_DEFAULT_TTL_SECONDS, STREAM_TOKEN_MAX_TTL_SECONDS, StreamTokens } from './stream-tokens.js';

/** The subprotocol a browser offers next to `parley.token.<token>`; the server selects it. */
export const SUBPROTOCOL = 'parley.v1';
const TOKEN_PROTOCOL_PREFIX = 'parley.token.';

const StreamQuery = Closed({
  after_seq: Type.Optional(Type.Integer({ minimum: 0, description: 'Replay events after this seq, then go live' })),
  token: Type.Optional(
    Type.String({ minLength: 1, maxLength: 2048, description: 'A stream token (never an API key)' }),
  ),
});

type StreamRequest = FastifyRequest<{ Params: { id: string }; Querystring: { after_seq?: number; token?: string } }>;

declare module 'fastify' {
  interface FastifyRequest {
    streamAuth: AuthContext | null;
  }
}

/** Close code for an error met after the upgrade. */
export function closeCodeFor(err: unknown): number {
  if (!(err instanceof ParleyError)) return CLOSE.internal;
  switch (err.code) {
    case 'invalid_key':
      return CLOSE.unauthorized;
    case 'insufficient_permissions':
      return CLOSE.forbidden;
    case 'not_found':
      return CLOSE.notFound;
    case 'rate_limited':
    case 'service_unavailable':
      return CLOSE.tryAgainLater;
    default:
      return CLOSE.policy;
  }
}

/** No Origin (not a browser) passes; else the allow-list, or by default the same host. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[] | null) {
  if (origin === undefined) return true;
  if (allowed !== null) return allowed.includes('*') || allowed.includes(origin);
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function protocolToken(req: FastifyRequest): string | undefined {
  const raw = req.headers['sec-websocket-protocol'];
  if (typeof raw !== 'string') return undefined;
  const hit = raw
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return hit?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

export function registerRealtimeRoutes(app: App, deps: AppDeps, rt: Realtime): void {
  const { config } = deps;
  const tags = ['Live streams'];
  app.decorateRequest('streamAuth', null);

  /** A stream token (bound to this conversation) or an API key, to the caller it stands for. */
  async function authenticate(credential: string, rawId: string, fromUrl: boolean): Promise<AuthContext> {
    if (StreamTokens.looksLikeToken(credential)) {
      return rt.tokens.verify(credential, parseId('conversation', rawId) ?? rawId);
    }
    if (fromUrl) {
      throw new ParleyError('invalid_key', 'API keys are not accepted in URLs; mint a stream token instead');
    }
    return deps.keys.authenticate(credential);
  }

  /** Rate limit, scope, existence: what every stream checks before it opens. */
  async function admit(auth: AuthContext, rawId: string, reply: FastifyReply | null): Promise<void> {
    const rate = await deps.limiter.hit(`key:${auth.keyId}`, auth.rateLimit ?? config.limits.rate);
    if (reply) {
      reply.header('X-RateLimit-Limit', rate.limit);
      reply.header('X-RateLimit-Remaining', rate.remaining);
      reply.header('X-RateLimit-Reset', rate.reset);
    }
    if (!rate.allowed) {
      const retry = Math.max(1, rate.reset - Math.floor(deps.clock.now() / 1000));
      throw new ParleyError('rate_limited', 'Rate limit exceeded', { retryAfter: retry });
    }
    requireScope(auth, 'read:ai');
    await deps.events.streamPosition(auth, rawId);
  }

  /** Runs before any upgrade: a refusal here is a plain HTTP 401/403/404/429. */
  async function checkUpgrade(req: StreamRequest, reply: FastifyReply, allowDeferred: boolean): Promise<void> {
    if (allowDeferred && !originAllowed(req.headers.origin, req.headers.host, config.ws.allowedOrigins)) {
      throw new ParleyError('origin_not_allowed', 'This Origin may not open live streams (PARLEY_WS_ALLOWED_ORIGINS)');
    }
    const header = bearerToken(req);
    if (header === '') throw new ParleyError('invalid_key', 'Malformed Authorization header');
    const fromProtocol = allowDeferred ? protocolToken(req) : undefined;
    const fromUrl = req.query.token;
    const credential = header ?? fromProtocol ?? fromUrl;
    if (credential === undefined) {
      // a WebSocket may still authenticate in its first frame, within the deadline
      if (allowDeferred && req.ws) return;
      throw new ParleyError('invalid_key', 'Missing credentials: Authorization: Bearer, or a stream token');
    }
    const auth = await authenticate(credential, req.params.id, credential === fromUrl && header === undefined);
    await admit(auth, req.params.id, reply);
    req.streamAuth = auth;
  }

  // ---- WebSocket --------------------------------------------------------------------------

  function wsTransport(socket: WebSocket): SessionTransport & { ready(conversationId: string, seq: number): void } {
    return {
      ready(conversationId, seq) {
        socket.send(JSON.stringify({ type: 'stream.ready', data: { conversation_id: conversationId, last_seq: seq } }));
      },
      send(e: ConversationEvent) {
        if (socket.readyState !== socket.OPEN) return true;
        socket.send(JSON.stringify(toWire(e)));
        return socket.bufferedAmount <= config.ws.maxBufferedBytes;
      },
      end(code, reason) {
        if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
      },
    };
  }

  async function startWs(socket: WebSocket, auth: AuthContext, rawId: string, afterSeq: number | null) {
    const transport = wsTransport(socket);
    const attached = await rt.attach(auth, rawId, transport);
    socket.once('close', attached.detach);
    if (socket.readyState !== socket.OPEN) return attached.detach();
    transport.ready(attached.conversationId, attached.seq);
    attached.session.start(afterSeq, attached.seq);
    socket.on('message', (data, isBinary) => {
      const frame = parseFrame(data, isBinary);
      if (frame?.type === 'resume' && typeof frame.after_seq === 'number' && Number.isInteger(frame.after_seq)) {
        attached.session.resume(frame.after_seq);
      } else if (frame?.type !== 'ping') {
        attached.session.end(CLOSE.policy, 'unknown frame');
      }
    });
  }

  app.route({
    method: 'GET',
    url: '/v1/conversations/:id/stream',
    config: { scope: 'public' },
    schema: {
      tags,
      summary: 'Live events of a conversation over WebSocket (see docs/realtime.md)',
      description:
        'Authenticate with Authorization: Bearer, a stream token in ?token= or in Sec-WebSocket-Protocol ' +
        `(${TOKEN_PROTOCOL_PREFIX}<token>, offered with ${SUBPROTOCOL}), or in the first frame ` +
        '`{"type":"auth","token":...,"after_seq":N}` within the deadline.',
      params: ConversationParams,
      querystring: StreamQuery,
      response: errorResponses(...AUTHED_ERRORS, 'not_found', 'origin_not_allowed'),
    },
    preHandler: async (req, reply) => checkUpgrade(req as StreamRequest, reply, true),
    handler: async () => {
      throw new ParleyError('validation_failed', 'This endpoint needs a WebSocket upgrade (or use /events for SSE)');
    },
    wsHandler: (socket: WebSocket, request: FastifyRequest) => {
      const req = request as StreamRequest;
      deps.metrics.inflight.dec();
      rt.heartbeat.watch(socket);
      const fail = (err: unknown) => {
        const code = closeCodeFor(err);
        if (code === CLOSE.internal) req.log.error({ err }, 'live stream failed to start');
        if (socket.readyState === socket.OPEN) {
          socket.close(code, err instanceof ParleyError ? err.message.slice(0, 120) : 'internal error');
        }
      };
      const afterSeq = req.query.after_seq ?? null;
      if (req.streamAuth) {
        startWs(socket, req.streamAuth, req.params.id, afterSeq).catch(fail);
        return;
      }
      // deferred authentication: the first frame must carry the credential, before the deadline
      const deadline = setTimeout(() => {
        if (socket.readyState === socket.OPEN) socket.close(CLOSE.unauthorized, 'authentication timeout');
      }, config.ws.authTimeoutMs);
      socket.once('close', () => clearTimeout(deadline));
      socket.once('message', (data, isBinary) => {
        clearTimeout(deadline);
        const frame = parseFrame(data, isBinary);
        if (frame?.type !== 'auth' || typeof frame.token !== 'string') {
          socket.close(CLOSE.unauthorized, 'first frame must be {"type":"auth","token":...}');
          return;
        }
        const after = typeof frame.after_seq === 'number' && Number.isInteger(frame.after_seq) ? frame.after_seq : null;
        const token = frame.token;
        (async () => {
          const auth = await authenticate(token, req.params.id, false);
          await admit(auth, req.params.id, null);
          await startWs(socket, auth, req.params.id, after ?? afterSeq);
        })().catch(fail);
      });
    },
  });

  // ---- Server-Sent Events ----------------------------------------------------------------------

  app.get(
    '/v1/conversations/:id/events',
    {
      config: { scope: 'public' },
      schema: {
        tags,
        summary: 'Live events of a conversation as Server-Sent Events, resumable with Last-Event-ID',
        params: ConversationParams,
        querystring: StreamQuery,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })) }),
        response: errorResponses(...AUTHED_ERRORS, 'not_found'),
      },
      preHandler: async (req, reply) => checkUpgrade(req as StreamRequest, reply, false),
    },
    async (request, reply) => {
      const req = request as StreamRequest;
      const auth = req.streamAuth;
      if (!auth) throw new ParleyError('invalid_key', 'Missing credentials');
      const lastEventId = req.headers['last-event-id'];
      const afterSeq = typeof lastEventId === 'string' ? Number(lastEventId) : (req.query.after_seq ?? null);
      const res: ServerResponse = reply.raw;
      let timer: NodeJS.Timeout | undefined;
      const write = (chunk: string): boolean => {
        if (res.writableEnded || res.destroyed) return true;
        res.write(chunk);
        return res.writableLength <= config.ws.maxBufferedBytes;
      };
      const transport: SessionTransport = {
        send: (e) => {
          const w = toWire(e);
          return write(`id: ${w.seq}\nevent: ${w.type}\ndata: ${JSON.stringify(w)}\n\n`);
        },
        end: (code, reason) => {
          clearInterval(timer);
          if (res.writableEnded || res.destroyed) return;
          if (code === CLOSE.tryAgainLater) {
            res.destroy();
            return;
          }
          write(`event: stream.closed\ndata: ${JSON.stringify({ code, reason })}\n\n`);
          res.end();
        },
      };
      // attach before hijacking, so a refusal (404, 503) is still a normal HTTP answer
      const attached = await rt.attach(auth, req.params.id, transport);
      reply.hijack();
      req.raw.socket.setTimeout(0);
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      res.on('close', () => {
        clearInterval(timer);
        attached.detach();
        // onResponse (which counts the request out) runs only when the response finished
        if (!res.writableFinished) deps.metrics.inflight.dec();
      });
      write(
        `retry: 2000\nevent: stream.ready\ndata: ${JSON.stringify({ conversation_id: attached.conversationId, last_seq: attached.seq })}\n\n`,
      );
      timer = setInterval(() => write(': ping\n\n'), config.ws.heartbeatMs);
      attached.session.start(afterSeq, attached.seq);
    },
  );

  // ---- stream tokens --------------------------------------------------------------------------

  app.post(
    '/v1/conversations/:id/stream-tokens',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags,
        summary: "Mint a short-lived token that opens this conversation's live stream (for browsers)",
        params: ConversationParams,
        body: Closed({
          expires_in: Type.Optional(
            Type.Integer({
              minimum: 10,
              maximum: STREAM_TOKEN_MAX_TTL_SECONDS,
              description: `Seconds, default ${STREAM_TOKEN_DEFAULT_TTL_SECONDS}`,
            }),
          ),
        }),
        response: {
          201: Type.Object({
            data: Type.Object({
              token: Type.String(),
              conversation_id: Type.String(),
              expires_at: Type.String({ format: 'date-time' }),
            }),
          }),
          ...errorResponses(...AUTHED_ERRORS, 'not_found'),
        },
      },
      // the body is optional: an empty POST mints a token with the default lifetime
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      },
    },
    async (req, reply) => {
      const auth = req.auth;
      if (!auth) throw new ParleyError('invalid_key', 'Missing API key');
      const { conversationId } = await deps.events.streamPosition(auth, req.params.id);
      const body = req.body as { expires_in?: number } | undefined;
      const minted = rt.tokens.mint(auth, conversationId, body?.expires_in ?? STREAM_TOKEN_DEFAULT_TTL_SECONDS);
      reply.code(201);
      return {
        data: {
          token: minted.token,
          conversation_id: conversationId,
          expires_at: new Date(minted.expiresAt).toISOString(),
        },
      };
    },
  );

  // ---- the example page -----------------------------------------------------------------------

  const page = readExample();
  app.get(
    '/examples/live',
    {
      config: { scope: 'public' },
      schema: { tags: ['Examples'], summary: 'A small page that shows a conversation live (examples/live.html)' },
    },
    async (req, reply) => {
      if (page === null) throw new ParleyError('not_found', `No route for GET ${req.url.split('?')[0]}`);
      reply.type('text/html; charset=utf-8');
      // img-src data: is for the page's inline SVG favicon; nothing else leaves the server
      reply.header(
        'content-security-policy',
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:",
      );
      return page;
    },
  );
}

function readExample(): string | null {
  try {
    return readFileSync(path.resolve(SERVER_ROOT, '../../examples/live.html'), 'utf8');
  } catch {
    return null;
  }
}

export function parseFrame(data: unknown, isBinary: boolean): Record<string, unknown> | null {
  if (isBinary) return null;
  try {
    const v: unknown = JSON.parse(String(data));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
