import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../../domain/types.js';
import { ParleyError } from '../../errors.js';
import type { RateLimitResult } from '../../rate-limit.js';
import { misplacedKeyHint, presentedKey } from '../credentials.js';
import type { App, AppDeps } from '../types.js';

export function setRateHeaders(reply: FastifyReply, r: RateLimitResult): void {
  reply.header('X-RateLimit-Limit', r.limit);
  reply.header('X-RateLimit-Remaining', r.remaining);
  reply.header('X-RateLimit-Reset', r.reset);
}

/** The address's budget, reported on refusals made before any route runs (it is never spent there). */
export const addressRate =
  (deps: Pick<AppDeps, 'limiter' | 'config'>) =>
  async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    setRateHeaders(reply, await deps.limiter.hit(`ip:${req.ip}`, deps.config.limits.rateAnonymous, true));
  };

/**
 * Request id, auth, rate limit, scope: in that order, before any body is read. The key is read
 * where the route says (`keyHeader`); the route's `scope` says what it must allow.
 */
export function registerAccess(app: App, deps: AppDeps): void {
  const { config } = deps;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-ID', req.id);
    // no response is ever to be sniffed into another type (an error JSON as HTML, say)
    reply.header('X-Content-Type-Options', 'nosniff');
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
    const limit = auth ? (auth.rateLimit ?? config.limits.rate) : config.limits.rateAnonymous;
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
}
