import type { FastifyInstance } from 'fastify';

/** Request headers a browser may send (asked in a preflight's Access-Control-Request-Headers). */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'X-API-Key',
  'x-bot-id',
  'X-Request-ID',
].join(', ');

/** Response headers a page may read: request id, rate limit, retry hints, idempotent replays. */
export const CORS_EXPOSED_HEADERS = [
  'X-Request-ID',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'Idempotent-Replayed',
].join(', ');

// PUT: the Botpress surface updates conversations with it
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/**
 * CORS for browsers that call the API directly (PARLEY_CORS_ORIGINS). Runs before auth, so that
 * preflights (which carry no key) are answered and errors (401, 429) stay readable by the page.
 * Keys travel in headers, never cookies: Access-Control-Allow-Credentials is never sent, so
 * neither `*` nor a reflected origin ever lets a page spend a visitor's ambient credentials.
 * No origins configured: no hook, no CORS header anywhere.
 */
export function registerCors(app: FastifyInstance, origins: readonly string[] | null): void {
  if (origins === null || origins.length === 0) return;
  const any = origins.includes('*');
  const listed = new Set(origins);
  app.addHook('onRequest', async (req, reply) => {
    // the answer depends on Origin when origins are listed (with or without one): caches must not share it
    if (!any) reply.header('Vary', 'Origin');
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return;
    if (!any && !listed.has(origin)) return;
    reply.header('Access-Control-Allow-Origin', any ? '*' : origin);
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      reply.header('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS);
      return;
    }
    reply.header('Access-Control-Allow-Methods', ALLOWED_METHODS);
    reply.header('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS);
    reply.header('Access-Control-Max-Age', '600');
    reply.code(204);
    return reply.send();
  });
}
