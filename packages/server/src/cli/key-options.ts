// What `keys create` takes on the command line, checked the same way for the local (operator) and
// the remote form. Kept apart from local-admin.ts so that a remote command does not load the store.
import { SCOPES, type Scope } from '../domain/types.js';
import { fail } from './output.js';

/** The scopes of `--scopes a,b`, each one known; a usage error names the known ones. */
export function parseScopes(raw: string | undefined): Scope[] {
  if (!raw) {
    fail(`keys create needs --scopes, a comma-separated list of: ${SCOPES.join(', ')} (admin implies the other two)`);
  }
  const scopes = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) {
    fail(`unknown scope(s) ${unknown.join(', ') || '(none given)'}; known: ${SCOPES.join(', ')}`);
  }
  return scopes as Scope[];
}

/** `--expires` as epoch ms, `--rate-limit` as a positive whole number; usage errors otherwise. */
export function parseKeyLimits(opts: { expires?: string; rateLimit?: string }): {
  expiresAt: number | undefined;
  rateLimit: number | undefined;
} {
  const expiresAt = opts.expires ? Date.parse(opts.expires) : undefined;
  if (expiresAt !== undefined && Number.isNaN(expiresAt)) fail('--expires must be an ISO 8601 date');
  const rateLimit = opts.rateLimit ? Number(opts.rateLimit) : undefined;
  if (rateLimit !== undefined && (!Number.isInteger(rateLimit) || rateLimit < 1)) {
    fail('--rate-limit must be a positive whole number');
  }
  return { expiresAt, rateLimit };
}
