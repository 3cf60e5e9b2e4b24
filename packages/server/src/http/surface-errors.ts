import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode, ErrorDetail, ParleyError } from '../errors.js';
import { refuseWrongMethod } from './allowed-methods.js';
import { toParleyError } from './error-mapping.js';
import type { App } from './types.js';

/**
 * How each surface answers an error: the native `{error: {code, message, request_id}}` shape,
 * or a compat product's own, chosen by the path prefix the request names.
 */

/** What a surface answers for an error: its status (default ours) and its body. */
export type ErrorShape = (e: ParleyError, req: { id: string }) => { status?: number; body: unknown };

declare module 'fastify' {
  interface FastifyInstance {
    /** Error shapes by path prefix, for refusals made before a route runs (framework-errors.ts). */
    surfaceErrors: SurfaceErrors;
  }
}

/** Surfaces by path prefix, longest first; the native shape answers everything else. */
export class SurfaceErrors {
  private readonly surfaces: Array<{ prefix: string; shape: ErrorShape }> = [];

  constructor(private readonly native: ErrorShape) {}

  add(prefix: string, shape: ErrorShape): void {
    this.surfaces.push({ prefix, shape });
    this.surfaces.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  shapeFor(path: string): ErrorShape {
    return this.surfaces.find((s) => s.prefix !== '' && path.startsWith(s.prefix))?.shape ?? this.native;
  }
}

/** A 5xx never echoes an internal message, in any surface's shape. */
export const publicMessage = (e: ParleyError): string =>
  e.status >= 500 && e.code === 'internal_error' ? 'Internal server error' : e.message;

/** The native error body. */
export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetail[],
  extra?: Record<string, unknown>,
) {
  // only facts the Error schema declares are shown (conversation_busy's live_connections, legal_hold's held)
  const facts: Record<string, unknown> =
    extra && typeof extra.live_connections === 'number' ? { live_connections: extra.live_connections } : {};
  if (extra && Array.isArray(extra.held)) facts.held = extra.held;
  return { error: { code, message, request_id: requestId, ...(details ? { details } : {}), ...facts } };
}

export const nativeShape: ErrorShape = (e, req) => ({
  body: errorBody(e.code, publicMessage(e), req.id, e.details, e.extra),
});

/** Headers an error answer carries in every surface's shape: Retry-After, Allow. */
export function setErrorHeaders(reply: FastifyReply, e: ParleyError): void {
  if (e.retryAfter !== undefined) reply.header('Retry-After', e.retryAfter);
  if (e.code === 'method_not_allowed' && typeof e.extra?.allow === 'string') reply.header('Allow', e.extra.allow);
}

/**
 * Answers every error of a scope's routes in one shape. Fastify hands every error of a route's
 * lifecycle to the handler of the context the route lives in, including errors thrown by the root
 * onRequest hook (auth, rate limit, scope), so the whole surface answers in one shape.
 */
export function answerErrorsIn(app: App, shape: ErrorShape): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const e = toParleyError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    setErrorHeaders(reply, e);
    const out = shape(e, req);
    reply.code(out.status ?? e.status).type('application/json; charset=utf-8');
    return reply.send(out.body);
  });
}

/** A product's error shape for its prefix: on its routes, and on refusals made before any route runs. */
export function useErrorShape(app: App, shape: ErrorShape): void {
  app.surfaceErrors.add(app.prefix, shape);
  answerErrorsIn(app, shape);
}

/** What a path no route of the scope matches answers: 405 with Allow for a known path, else 404 with `body`. */
export function answerNotFound(app: App, body: (req: FastifyRequest) => unknown): void {
  app.setNotFoundHandler(async (req, reply) => {
    refuseWrongMethod(req);
    reply.code(404);
    return body(req);
  });
}
