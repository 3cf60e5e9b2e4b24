import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { AuthContext, Scope } from '../domain/types.js';
import { type ErrorCode, type ErrorDetail, ParleyError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter, RateLimitResult } from '../rate-limit.js';
import type { Realtime } from '../realtime/index.js';
import type { AuditService } from '../services/audit.js';
import type { CompatService } from '../services/compat.js';
import type { ConversationsService } from '../services/conversations.js';
import type { EventsService } from '../services/events.js';
import type { IdempotencyService } from '../services/idempotency.js';
import type { KeysService } from '../services/keys.js';
import type { MessagesService } from '../services/messages.js';
import type { ToolInvocationsService } from '../services/tool-invocations.js';
import type { WorkspacesService } from '../services/workspaces.js';
import type { Store, WorkspaceWriter } from '../store/types.js';
import type { SurfaceErrors } from './framework-errors.js';

/**
 * What routes, dialects and live streams need from the HTTP layer — the app's types, the request's
 * auth, the write helper, the error mapping — kept apart from the module that builds the app and
 * registers them (app.ts), so that no registered module imports its registrar.
 */
export interface AppDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  limiter: RateLimiter;
  metrics: Metrics;
  keys: KeysService;
  workspaces: WorkspacesService;
  conversations: ConversationsService;
  messages: MessagesService;
  toolInvocations: ToolInvocationsService;
  audit: AuditService;
  events: EventsService;
  /** Use cases only a compatible surface needs (each names its product). */
  compat: CompatService;
  idempotency: IdempotencyService;
  /** Live streams (WebSocket, SSE, presence); absent in tools that serve no HTTP streams. */
  realtime?: Realtime;
  /** Extra readiness facts (e.g. Redis fallback) for /readyz. */
  readiness?: () => Promise<Record<string, unknown>>;
}

/** What a route declares about itself. */
export interface RouteAccess {
  /** Scope the key needs; 'public' routes need no key and are never rate limited. */
  scope?: Scope | 'public' | 'authenticated';
  /** Where the key arrives: `Authorization: Bearer` (default) or a compat product's `X-API-Key`. */
  keyHeader?: 'bearer' | 'x-api-key';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Error shapes by path prefix, for refusals made before a route runs (framework-errors.ts). */
    surfaceErrors: SurfaceErrors;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
    idem: { key: string; fingerprint: string; sealed: boolean } | null;
  }
  interface FastifyContextConfig {
    scope?: RouteAccess['scope'];
    keyHeader?: RouteAccess['keyHeader'];
  }
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** Body problems that are the caller's: Fastify's own codes mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/**
 * Lone surrogates and NUL can't be stored by PostgreSQL; both engines refuse them the same way.
 * Numbers must be finite and within ±(2^53 − 1): JSON allows `1e400` (Infinity, which would be
 * stored as null) and integers a double cannot hold exactly (which would be stored changed).
 */
export function findBadText(value: unknown, where: string, depth = 0): ErrorDetail | null {
  if (depth > 64) return { field: where, message: 'nested too deeply (max 64 levels)' };
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
      return {
        field: where,
        message: 'must be a finite number between -9007199254740991 and 9007199254740991 (send larger ones as strings)',
      };
    }
    return null;
  }
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { field: where, message: 'must not contain NUL characters' };
    if (!value.isWellFormed()) return { field: where, message: 'must not contain lone UTF-16 surrogates' };
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadText(value[i], `${where}/${i}`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const keyBad = findBadText(k, `${where}/${k}`, depth + 1);
      if (keyBad) return keyBad;
      const bad = findBadText(v, `${where}/${k}`, depth + 1);
      if (bad) return bad;
    }
  }
  return null;
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetail[],
  extra?: Record<string, unknown>,
) {
  // only facts the Error schema declares are shown (conversation_busy's live_connections)
  const facts = extra && typeof extra.live_connections === 'number' ? { live_connections: extra.live_connections } : {};
  return { error: { code, message, request_id: requestId, ...(details ? { details } : {}), ...facts } };
}

/** Headers an error answer carries in every surface's shape: Retry-After, Allow. */
export function setErrorHeaders(reply: FastifyReply, e: ParleyError): void {
  if (e.retryAfter !== undefined) reply.header('Retry-After', e.retryAfter);
  if (e.code === 'method_not_allowed' && typeof e.extra?.allow === 'string') reply.header('Allow', e.extra.allow);
}

export function setRateHeaders(reply: FastifyReply, r: RateLimitResult): void {
  reply.header('X-RateLimit-Limit', r.limit);
  reply.header('X-RateLimit-Remaining', r.remaining);
  reply.header('X-RateLimit-Reset', r.reset);
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(h);
  return m ? m[1] : '';
}

/** The key as the route expects it; '' for a header present but not a key. */
export function presentedKey(req: FastifyRequest): string | undefined {
  if (req.routeOptions.config.keyHeader !== 'x-api-key') return bearerToken(req);
  const h = req.headers['x-api-key'];
  if (h === undefined) return undefined;
  return typeof h === 'string' ? h.trim() : '';
}

/**
 * A key sent as X-API-Key to a route that reads `Authorization: Bearer` is told where it belongs
 * instead of being called missing.
 */
export function misplacedKeyHint(req: FastifyRequest, err: ParleyError): ParleyError {
  if (presentedKey(req) !== undefined || req.headers['x-api-key'] === undefined) return err;
  return new ParleyError(
    'invalid_key',
    'Missing API key: this API reads the key from the Authorization header (Authorization: Bearer <key>), not X-API-Key',
  );
}

interface AjvIssue {
  keyword?: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv's words, except where they hide what the caller should send: name the allowed values. */
function validationMessage(v: AjvIssue): string {
  if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) {
    return `must be one of ${v.params.allowedValues.map(String).join(', ')}`;
  }
  if (v.keyword === 'const' && v.params && 'allowedValue' in v.params) {
    return `must be ${String(v.params.allowedValue)}`;
  }
  return v.message ?? 'is invalid';
}

export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const fe = err as FastifyError & {
    validation?: AjvIssue[];
    validationContext?: string;
  };
  if (fe.validation) {
    const part =
      fe.validationContext === 'querystring'
        ? 'query'
        : fe.validationContext === 'params'
          ? 'path'
          : (fe.validationContext ?? 'body');
    // a value outside a closed list also fails its `type`; the list of allowed values says more
    const listed = new Set(fe.validation.filter((v) => v.keyword === 'enum').map((v) => v.instancePath));
    const details = fe.validation
      .filter((v) => !(v.keyword === 'type' && listed.has(v.instancePath)))
      .slice(0, 20)
      .map((v) => {
        const extra = v.params && 'additionalProperty' in v.params ? `/${String(v.params.additionalProperty)}` : '';
        const field = `/${part}${v.instancePath}${extra}`;
        const message = extra ? 'is not a known field' : validationMessage(v);
        return { field, message };
      });
    const first = details[0];
    return new ParleyError('validation_failed', first ? `${first.field} ${first.message}` : 'Invalid request', {
      details,
    });
  }
  if (fe.code && FASTIFY_CODES[fe.code]) {
    const code = FASTIFY_CODES[fe.code] as ErrorCode;
    const message =
      code === 'invalid_json'
        ? 'The request body is not valid JSON'
        : code === 'unsupported_media_type'
          ? 'The body must be JSON: send Content-Type: application/json'
          : fe.message;
    return new ParleyError(code, message);
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || (fe instanceof SyntaxError && fe.statusCode === 400)) {
    return new ParleyError('invalid_json', 'The request body is not valid JSON');
  }
  if (fe.message?.includes('__proto__') || fe.message?.includes('constructor')) {
    return new ParleyError(
      'invalid_json',
      'The request body uses a forbidden property name (__proto__ or constructor.prototype)',
    );
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ParleyError('validation_failed', fe.message);
  }
  return new ParleyError('internal_error', 'Internal server error', { cause: err });
}

/**
 * Runs a write: when the request carries an Idempotency-Key, the presented answer is stored in
 * the same transaction as the effect. Returns the body for the route to send.
 */
export async function runWrite<T, B>(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: Pick<AppDeps, 'idempotency'>,
  status: number,
  run: (inTx: ((tx: WorkspaceWriter, result: unknown) => Promise<void>) | undefined) => Promise<T>,
  present: (result: T) => B,
  /** What the idempotency record keeps, when it must differ from the answer (never a secret). */
  stored: (body: B) => unknown = (b) => b,
): Promise<B | undefined> {
  const idem = req.idem;
  const auth = req.auth;
  let body: B | undefined;
  let presented = false;
  const inTx =
    idem && auth
      ? async (tx: WorkspaceWriter, result: unknown) => {
          body = present(result as T);
          presented = true;
          await deps.idempotency.complete(
            tx,
            idem.key,
            status,
            status === 204 ? null : JSON.stringify(stored(body)),
            result,
          );
        }
      : undefined;
  const result = await run(inTx);
  if (idem) idem.sealed = true;
  if (!presented) body = present(result);
  reply.code(status);
  return status === 204 ? undefined : body;
}

export function requireAuth(req: FastifyRequest): AuthContext {
  if (!req.auth) throw new ParleyError('invalid_key', 'Missing API key');
  return req.auth;
}
