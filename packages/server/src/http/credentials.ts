import type { FastifyRequest } from 'fastify';
import type { AuthContext } from '../domain/types.js';
import { ParleyError } from '../errors.js';

/** Where a request's API key is read from, and the authenticated key a route needs. */

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

export function requireAuth(req: FastifyRequest): AuthContext {
  if (!req.auth) throw new ParleyError('invalid_key', 'Missing API key');
  return req.auth;
}
