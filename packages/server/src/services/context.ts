import type { Clock } from '../clock.js';
import type { AuthContext, Scope } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import type { Store, WorkspaceWriter } from '../store/types.js';
import type { Traffic } from './traffic.js';

export interface ServiceDeps {
  store: Store;
  clock: Clock;
  /** Request traffic as the HTTP layer sees it (absent in tools that serve no HTTP): erase batches rest by it. */
  traffic?: Traffic;
}

/**
 * Runs inside a write's transaction, after its effect, with its result: this is how an
 * idempotency record commits together with the effect it stands for.
 */
export type InTransaction<T> = (w: WorkspaceWriter, result: T) => Promise<void>;

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

/**
 * A key bound to a user is a boundary: it reaches that user's conversations only. Another user's
 * conversation, or one without a user, is as missing to it as a missing one.
 */
export function canReach(auth: AuthContext, conversation: { userId: string | null }): boolean {
  return auth.userId === null || conversation.userId === auth.userId;
}

/**
 * The user a request acts for: the one it names, else the key's. A key bound to a user may name
 * only that user (in a body or a filter); naming another is refused, not silently replaced.
 */
export function actingUser(auth: AuthContext, requested: string | undefined, field: string): string | null {
  if (requested === undefined) return auth.userId;
  if (auth.userId !== null && requested !== auth.userId) {
    const message = `This API key is bound to user ${auth.userId} and cannot act for another user`;
    throw new ParleyError('insufficient_permissions', message, {
      details: [{ field, message: 'must be the key’s own user or left out' }],
      extra: { bound_user_id: auth.userId },
    });
  }
  return requested;
}
