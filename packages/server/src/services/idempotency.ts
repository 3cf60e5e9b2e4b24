import { createHash } from 'node:crypto';
import { ParleyError } from '../errors.js';
import { ID_PREFIX } from '../ids.js';
import { ERASED_ANSWER_STATUS } from '../store/kysely/idempotency.js';
import type { WorkspaceWriter } from '../store/types.js';
import type { ServiceDeps } from './context.js';

const KEY_RE = /^[\x21-\x7e]{1,255}$/;

export type IdempotencyStart =
  | { kind: 'replay'; statusCode: number; body: string | null }
  | { kind: 'proceed'; key: string; fingerprint: string };

/**
 * A stable digest of what was asked: method, path with query, the body with sorted keys, and the
 * user a user-bound key acts for (so that such a key never replays an answer stored for another
 * caller: it is told the key was used for a different request instead).
 */
export function fingerprint(method: string, url: string, body: unknown, userId: string | null = null): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256')
    .update(`${method} ${url}\n${JSON.stringify(canonical(body ?? null))}${userId === null ? '' : `\nuser ${userId}`}`)
    .digest('hex');
}

/**
 * Idempotency-Key handling. The record is claimed (inserted as running) before the effect; the
 * effect's own transaction marks it done with the stored answer, so effect and record commit
 * together. A crash before that commit leaves only a running record, which expires after
 * the lock time and is taken over by the next retry; the effect never happened, so running it then is right.
 */
export class IdempotencyService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly ttlMs: number,
    /** How long a running request holds its key before another may take it over (its owner died). */
    private readonly lockMs = 60_000,
  ) {}

  static validateKey(raw: string): void {
    if (!KEY_RE.test(raw)) {
      throw new ParleyError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
        details: [{ field: '/header/idempotency-key', message: 'must be 1 to 255 printable ASCII characters' }],
      });
    }
  }

  async begin(workspaceId: string, key: string, fp: string): Promise<IdempotencyStart> {
    const { store, clock } = this.deps;
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = clock.now();
      const fresh = {
        key,
        fingerprint: fp,
        state: 'running' as const,
        statusCode: null,
        responseBody: null,
        createdAt: now,
        lockedUntil: now + this.lockMs,
      };
      // claimed first: a new key (the common case) costs the claim alone; the record is read
      // only when the key is taken
      if (await store.claimIdempotency(workspaceId, fresh)) {
        return { kind: 'proceed', key, fingerprint: fp };
      }
      const existing = await store.read(workspaceId, (r) => r.idempotency.get(key));
      if (existing === null) continue; // released or purged between our insert and read: claim again
      const expired = existing.createdAt < now - this.ttlMs;
      if (!expired) {
        if (existing.fingerprint !== fp) {
          throw new ParleyError(
            'idempotency_key_reused',
            'This Idempotency-Key was already used with a different request',
          );
        }
        if (existing.state === 'done') {
          // erased with its conversation (a tombstone), or about one now in the trash: the same
          // 410 either way, so a trashed conversation's content never comes back through a replay;
          // a restore makes the stored answer replayable again
          if (
            (existing.statusCode === ERASED_ANSWER_STATUS && existing.responseBody === null) ||
            existing.conversationHidden === true
          ) {
            throw new ParleyError(
              'conversation_deleted',
              existing.conversationHidden === true
                ? 'The conversation this Idempotency-Key created or changed is deleted (in the trash); its stored answer is not replayed unless the conversation is restored'
                : 'The conversation this Idempotency-Key created or changed was deleted; its stored answer was erased with it',
            );
          }
          return { kind: 'replay', statusCode: existing.statusCode ?? 200, body: existing.responseBody };
        }
        if (existing.lockedUntil >= now) {
          throw new ParleyError('idempotency_in_progress', 'A request with this Idempotency-Key is still running', {
            retryAfter: 1,
          });
        }
      }
      const stale = { lockedUntil: now, createdBefore: now - this.ttlMs };
      if (await store.transact(workspaceId, (w) => w.idempotency.reclaim(fresh, stale))) {
        return { kind: 'proceed', key, fingerprint: fp };
      }
    }
    throw new ParleyError('idempotency_in_progress', 'A request with this Idempotency-Key is still running', {
      retryAfter: 1,
    });
  }

  /**
   * Called inside the effect's transaction. `result` is what the service returned: when it is (or
   * belongs to) a conversation, the record is tied to it so that deleting the conversation erases
   * the stored answer too.
   */
  async complete(
    w: WorkspaceWriter,
    key: string,
    statusCode: number,
    body: string | null,
    result: unknown,
  ): Promise<void> {
    await w.idempotency.complete(key, statusCode, body, conversationIdOf(result));
  }

  /** The request failed without an effect: free the key so a corrected retry may use it. */
  async release(workspaceId: string, key: string, fp: string): Promise<void> {
    await this.deps.store.transact(workspaceId, (w) => w.idempotency.release(key, fp));
  }

  async purgeExpired(batch = 1000): Promise<number> {
    const before = this.deps.clock.now() - this.ttlMs;
    return this.deps.store.transactInstance((i) => i.purgeIdempotency(before, batch));
  }
}

/**
 * The conversation a write's result is about: a conversation, a result holding one (create, append
 * of several), or a message / tool invocation of one. Null for results about no conversation
 * (keys, workspaces) and for deletes (their answers carry no content).
 */
export function conversationIdOf(result: unknown): string | null {
  if (result === null || typeof result !== 'object') return null;
  const r = result as { conversation?: { id?: unknown }; conversationId?: unknown; id?: unknown };
  if (typeof r.conversation?.id === 'string') return r.conversation.id;
  if (typeof r.conversationId === 'string') return r.conversationId;
  if (typeof r.id === 'string' && r.id.startsWith(ID_PREFIX.conversation)) return r.id;
  return null;
}
