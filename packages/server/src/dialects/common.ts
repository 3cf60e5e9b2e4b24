import type { FastifyError, FastifyRequest } from 'fastify';
import type { ParleyError } from '../errors.js';
import { type App, setErrorHeaders, toParleyError } from '../http/route-kit.js';

/** What a product answers for one of our errors: its status (default ours) and its body. */
export type ErrorShape = (e: ParleyError, req: FastifyRequest) => { status?: number; body: unknown };

/** A 5xx never echoes an internal message, in any product's shape. */
export const publicMessage = (e: ParleyError): string =>
  e.status >= 500 && e.code === 'internal_error' ? 'Internal server error' : e.message;

/**
 * Installs a product's error shape on a plugin's routes. Fastify hands every error of a route's
 * lifecycle to the handler of the context the route lives in, including errors thrown by the root
 * onRequest hook (auth, rate limit, scope), so the whole surface answers in one shape.
 */
export function useErrorShape(app: App, shape: ErrorShape): void {
  // refusals made before any route runs (bad URL, over-long parameter, unparseable request) too
  app.surfaceErrors.add(app.prefix, (e, req) => shape(e, req as FastifyRequest));
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const e = toParleyError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    setErrorHeaders(reply, e);
    const out = shape(e, req);
    reply.code(out.status ?? e.status).type('application/json; charset=utf-8');
    return reply.send(out.body);
  });
}

/** ISO 8601 to the second, as the LeadLex and Lexicon pages print timestamps. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const isoSecondsOrNull = (ms: number | null): string | null => (ms === null ? null : isoSeconds(ms));
