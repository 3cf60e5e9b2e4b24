import type { FastifyReply, FastifyRequest } from 'fastify';
import { fingerprint, IdempotencyService } from '../../services/idempotency.js';
import type { App, AppDeps } from '../types.js';

/**
 * Idempotency-Key on writes, after validation so that a replay is only ever of a valid request.
 * Attached to the write routes only (onRoute): reads skip both hooks instead of running them to
 * return at once. The write itself stores its answer through `req.idem.complete` (write.ts).
 */
export function registerIdempotency(app: App, deps: Pick<AppDeps, 'idempotency'>): void {
  const begin = async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.headers['idempotency-key'];
    const auth = req.auth;
    if (raw === undefined || !auth) return;
    const key = Array.isArray(raw) ? (raw[0] ?? '') : raw;
    IdempotencyService.validateKey(key);
    const fp = fingerprint(req.method, req.url, req.body, auth.userId);
    const start = await deps.idempotency.begin(auth.workspaceId, key, fp);
    if (start.kind === 'replay') {
      reply.header('Idempotent-Replayed', 'true');
      reply.code(start.statusCode);
      if (start.body === null) return reply.send();
      reply.type('application/json; charset=utf-8');
      return reply.serializer((p: unknown) => p as string).send(start.body);
    }
    req.idem = {
      key,
      fingerprint: fp,
      sealed: false,
      complete: (tx, status, body, result) => deps.idempotency.complete(tx, key, status, body, result),
    };
  };

  // A request that failed had no effect: free its key BEFORE the answer leaves, so a client
  // retrying at once with the corrected request never races the release.
  const release = async (req: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
    if (req.idem && !req.idem.sealed && req.auth) {
      req.idem.sealed = true;
      await deps.idempotency.release(req.auth.workspaceId, req.idem.key, req.idem.fingerprint).catch((err) => {
        req.log.warn({ err }, 'could not release idempotency key; it frees itself when its lock expires');
      });
    }
    return payload;
  };

  // Route-level hooks run after the global ones of the same kind, as global hooks registered
  // here would; write routes declare none of their own.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH' || m === 'DELETE')) return;
    const prepend = <T>(own: T | T[] | undefined, hook: T): T[] =>
      own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])];
    route.preHandler = prepend(route.preHandler, begin as never);
    route.onSend = prepend(route.onSend, release as never);
  });
}
