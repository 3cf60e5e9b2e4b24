import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey, AuthContext, Scope } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { WorkspaceWriter } from '../store/types.js';
import { recordAudit } from './audit.js';
import { actingUser, actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';

/** Parley keys: `prl_` + 43 url-safe characters (256 random bits). Only the SHA-256 is stored. */
export const KEY_PREFIX = 'prl_';
const KEY_RE = /^prl_[A-Za-z0-9_-]{43}$/;

export const hashKey = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function mintSecret(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Who a stored key lets call, or null while it is revoked or expired (checked on every use). */
export function authContextOf(key: ApiKey, now: number): AuthContext | null {
  if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) return null;
  return {
    workspaceId: key.workspaceId,
    keyId: key.id,
    scopes: key.scopes,
    userId: key.userId,
    instanceAdmin: key.instanceAdmin,
    rateLimit: key.rateLimit,
  };
}

export interface NewKeyInput {
  name: string;
  scopes: Scope[];
  userId?: string | null | undefined;
  expiresAt?: number | null | undefined;
  rateLimit?: number | null | undefined;
}

export interface CreatedKey {
  key: ApiKey;
  secret: string;
}

/** `last_used_at` is kept to this precision: at most one write per key per minute. */
export const LAST_USED_PRECISION_MS = 60_000;
/** Keys whose last write this instance remembers; past this many the memory starts afresh. */
const LAST_USED_MEMORY = 10_000;

export class KeysService {
  /** key id -> when this instance last wrote its last_used_at (saves even the conditional UPDATE). */
  private readonly lastUseWritten = new Map<string, number>();

  constructor(private readonly deps: ServiceDeps) {}

  /** Resolves a presented secret to who is calling, or throws invalid_key. */
  async authenticate(secret: string | undefined): Promise<AuthContext> {
    if (secret === undefined || !KEY_RE.test(secret)) {
      throw new ParleyError('invalid_key', secret === undefined ? 'Missing API key' : 'Malformed API key');
    }
    const key = await this.deps.store.instance.findApiKeyByHash(hashKey(secret));
    const now = this.deps.clock.now();
    const auth = key === null ? null : authContextOf(key, now);
    // one message for unknown, revoked and expired: no oracle for which keys exist
    if (key === null || auth === null) throw new ParleyError('invalid_key', 'Invalid or expired API key');
    this.noteUse(key, now);
    return auth;
  }

  /**
   * Records the key's last use, to the minute, off the response path: a write per request would
   * queue every request behind SQLite's one writer. The UPDATE is conditional (several instances
   * share the column) and its failure only leaves the column a little older.
   */
  private noteUse(key: ApiKey, now: number): void {
    const since = now - LAST_USED_PRECISION_MS;
    if (key.lastUsedAt !== null && key.lastUsedAt > since) return;
    const written = this.lastUseWritten.get(key.id);
    if (written !== undefined && written > since) return;
    if (this.lastUseWritten.size >= LAST_USED_MEMORY) this.lastUseWritten.clear();
    this.lastUseWritten.set(key.id, now);
    this.deps.store.transact(key.workspaceId, (w) => w.keys.touchLastUsed(key.id, now, since)).catch(() => undefined);
  }

  /**
   * Inserts a key in an open transaction (used by workspace creation too), with its audit event:
   * the acting key's id, or null when the operator (CLI, first start) made it.
   */
  async insert(
    w: WorkspaceWriter,
    input: NewKeyInput & { instanceAdmin?: boolean },
    actor: string | null = null,
  ): Promise<CreatedKey> {
    const now = this.deps.clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw validation('/body/expires_at', 'expires_at must be in the future');
    }
    const secret = mintSecret();
    const key: ApiKey = {
      id: newId('apiKey', now),
      workspaceId: w.workspaceId,
      name: input.name,
      prefix: secret.slice(0, 12),
      scopes: [...new Set(input.scopes)],
      userId: input.userId ?? null,
      instanceAdmin: input.instanceAdmin ?? false,
      rateLimit: input.rateLimit ?? null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      createdAt: now,
      lastUsedAt: null,
    };
    await w.keys.insert(key, hashKey(secret));
    await recordAudit(w, { actor, action: 'api_key.created', targetType: 'api_key', targetId: key.id, at: now });
    return { key, secret };
  }

  async create(auth: AuthContext, input: NewKeyInput, inTx?: InTransaction<CreatedKey>): Promise<CreatedKey> {
    requireScope(auth, 'admin');
    // a key bound to a user mints keys bound to that user only: none may reach further than itself
    const bound = { ...input, userId: actingUser(auth, input.userId ?? undefined, '/body/user_id') };
    return this.deps.store.transact(auth.workspaceId, async (w) => {
      const created = await this.insert(w, bound, actorKeyId(auth));
      if (inTx) await inTx(w, created);
      return created;
    });
  }

  /**
   * `parley keys create --instance-admin`: a new instance admin key in the default workspace.
   * Access to the database is the proof, as on first start; this is how a lost key is replaced.
   */
  async createInstanceAdminAsOperator(name: string): Promise<CreatedKey> {
    return this.deps.store.transactInstance(async (i) => {
      const workspaceId = await i.firstWorkspaceId();
      if (workspaceId === null) throw notFound('Default workspace');
      return this.insert(
        i.workspace(workspaceId),
        { name, scopes: ['admin', 'read:ai', 'write:ai'], instanceAdmin: true },
        null,
      );
    });
  }

  async list(auth: AuthContext): Promise<ApiKey[]> {
    requireScope(auth, 'admin');
    return this.deps.store.read(auth.workspaceId, (r) => r.keys.list());
  }

  async get(auth: AuthContext, rawId: string): Promise<ApiKey> {
    requireScope(auth, 'admin');
    const id = parseId('apiKey', rawId);
    const key = id ? await this.deps.store.read(auth.workspaceId, (r) => r.keys.get(id)) : null;
    if (!key) throw notFound('API key');
    return key;
  }

  /**
   * Revocation takes effect on the next request: authentication reads the row every time.
   * The last active admin key of a workspace is kept (409 last_admin_key): without it nobody
   * could manage the workspace's keys again. The instance admin may revoke it anyway, and so may
   * the operator with `force` (`parley keys revoke --force`); both can mint a new one.
   */
  async revoke(
    auth: AuthContext,
    rawId: string,
    inTx?: InTransaction<ApiKey>,
    opts: { force?: boolean } = {},
  ): Promise<ApiKey> {
    requireScope(auth, 'admin');
    const id = parseId('apiKey', rawId);
    if (!id) throw notFound('API key');
    return this.deps.store.transact(auth.workspaceId, async (w) => {
      const now = this.deps.clock.now();
      const existing = await w.keys.get(id);
      if (!existing) throw notFound('API key');
      if (existing.revokedAt === null && !auth.instanceAdmin && !opts.force) {
        const admins = await w.keys.activeAdminIds(now);
        if (admins.length === 1 && admins[0] === id) {
          throw new ParleyError(
            'last_admin_key',
            'This is the last active admin key of the workspace; create another admin key before revoking it',
          );
        }
      }
      if (existing.revokedAt === null) {
        await w.keys.revoke(id, now);
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'api_key.revoked',
          targetType: 'api_key',
          targetId: id,
          at: now,
        });
      }
      const key = { ...existing, revokedAt: existing.revokedAt ?? now };
      if (inTx) await inTx(w, key);
      return key;
    });
  }
}
