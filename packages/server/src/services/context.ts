import type { Clock } from '../clock.js';
import type { AuthContext, Scope } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import type { Repo, Store } from '../store/types.js';

export interface ServiceDeps {
  store: Store;
  clock: Clock;
}

/**
 * Runs inside a write's transaction, after its effect, with its result: this is how an
 * idempotency record commits together with the effect it stands for.
 */
export type InTransaction<T> = (tx: Repo, result: T) => Promise<void>;

export function requireScope(auth: AuthContext, scope: Scope): void {
  if (auth.scopes.includes(scope) || auth.scopes.includes('admin')) return;
  throw new ParleyError('insufficient_permissions', `This API key is missing the ${scope} scope`, {
    extra: { required_scope: scope },
  });
}

/** The audit actor of a call: the key's id, or null for the operator (the CLI). */
export const actorKeyId = (auth: AuthContext): string | null => (auth.operator ? null : auth.keyId);

/** What the CLI acts as: whoever holds the database administers every workspace, with no key. */
export function operatorAuth(workspaceId: string): AuthContext {
  return {
    workspaceId,
    keyId: 'operator',
    scopes: ['admin'],
    userId: null,
    instanceAdmin: false,
    rateLimit: null,
    operator: true,
  };
}
