import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey, AuthContext, Scope, Workspace } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { Repo } from '../store/types.js';
import { actingUser, type InTransaction, requireScope, type ServiceDeps } from './context.js';

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

export class KeysService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Resolves a presented secret to who is calling, or throws invalid_key. */
  async authenticate(secret: string | undefined): Promise<AuthContext> {
    if (secret === undefined || !KEY_RE.test(secret)) {
      throw new ParleyError('invalid_key', secret === undefined ? 'Missing API key' : 'Malformed API key');
    }
    const key = await this.deps.store.findApiKeyByHash(hashKey(secret));
    const auth = key === null ? null : authContextOf(key, this.deps.clock.now());
    // one message for unknown, revoked and expired: no oracle for which keys exist
    if (auth === null) throw new ParleyError('invalid_key', 'Invalid or expired API key');
    return auth;
  }

  /** Inserts a key in an open transaction (used by workspace creation too). */
  async insert(tx: Repo, workspaceId: string, input: NewKeyInput & { instanceAdmin?: boolean }): Promise<CreatedKey> {
    const now = this.deps.clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw validation('/body/expires_at', 'expires_at must be in the future');
    }
    const secret = mintSecret();
    const key: ApiKey = {
      id: newId('apiKey', now),
      workspaceId,
      name: input.name,
      prefix: secret.slice(0, 12),
      scopes: [...new Set(input.scopes)],
      userId: input.userId ?? null,
      instanceAdmin: input.instanceAdmin ?? false,
      rateLimit: input.rateLimit ?? null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      createdAt: now,
    };
    await tx.insertApiKey(key, hashKey(secret));
    await tx.insertAuditEvent({
      id: newId('audit', now),
      workspaceId,
      actorKeyId: null,
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: key.id,
      counts: {},
      createdAt: now,
    });
    return { key, secret };
  }

  async create(auth: AuthContext, input: NewKeyInput, inTx?: InTransaction<CreatedKey>): Promise<CreatedKey> {
    requireScope(auth, 'admin');
    // a key bound to a user mints keys bound to that user only: none may reach further than itself
    const bound = { ...input, userId: actingUser(auth, input.userId ?? undefined, '/body/user_id') };
    return this.deps.store.transaction(async (tx) => {
      const created = await this.insert(tx, auth.workspaceId, bound);
      if (inTx) await inTx(tx, created);
      return created;
    });
  }

  async list(auth: AuthContext): Promise<ApiKey[]> {
    requireScope(auth, 'admin');
    return this.deps.store.listApiKeys(auth.workspaceId);
  }

  async get(auth: AuthContext, rawId: string): Promise<ApiKey> {
    requireScope(auth, 'admin');
    const id = parseId('apiKey', rawId);
    const key = id ? await this.deps.store.getApiKey(auth.workspaceId, id) : null;
    if (!key) throw notFound('API key');
    return key;
  }

  /** Revocation takes effect on the next request: authentication reads the row every time. */
  async revoke(auth: AuthContext, rawId: string, inTx?: InTransaction<ApiKey>): Promise<ApiKey> {
    requireScope(auth, 'admin');
    const id = parseId('apiKey', rawId);
    if (!id) throw notFound('API key');
    return this.deps.store.transaction(async (tx) => {
      const now = this.deps.clock.now();
      const existing = await tx.getApiKey(auth.workspaceId, id);
      if (!existing) throw notFound('API key');
      if (existing.revokedAt === null) {
        await tx.revokeApiKey(auth.workspaceId, id, now);
        await tx.insertAuditEvent({
          id: newId('audit', now),
          workspaceId: auth.workspaceId,
          actorKeyId: auth.keyId,
          action: 'api_key.revoked',
          targetType: 'api_key',
          targetId: id,
          counts: {},
          createdAt: now,
        });
      }
      const key = { ...existing, revokedAt: existing.revokedAt ?? now };
      if (inTx) await inTx(tx, key);
      return key;
    });
  }
}

export interface CreatedWorkspace {
  workspace: Workspace;
  key: CreatedKey;
}

export class WorkspacesService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly keys: KeysService,
  ) {}

  private async createIn(tx: Repo, name: string, instanceAdmin: boolean): Promise<CreatedWorkspace> {
    const now = this.deps.clock.now();
    const workspace: Workspace = { id: newId('workspace', now), name, createdAt: now };
    await tx.insertWorkspace(workspace);
    const key = await this.keys.insert(tx, workspace.id, {
      name: instanceAdmin ? 'instance admin' : 'workspace admin',
      scopes: ['admin', 'read:ai', 'write:ai'],
      instanceAdmin,
    });
    return { workspace, key };
  }

  /** POST /v1/workspaces: only the instance admin key may create tenants. */
  async create(auth: AuthContext, name: string, inTx?: InTransaction<CreatedWorkspace>): Promise<CreatedWorkspace> {
    if (!auth.instanceAdmin) {
      throw new ParleyError('insufficient_permissions', 'Creating workspaces needs the instance admin key', {
        extra: { required_scope: 'admin' },
      });
    }
    return this.deps.store.transaction(async (tx) => {
      const created = await this.createIn(tx, name, false);
      if (inTx) await inTx(tx, created);
      return created;
    });
  }

  /** For the CLI: no key needed, whoever holds the database file is the operator. */
  async createAsOperator(name: string): Promise<CreatedWorkspace> {
    return this.deps.store.transaction((tx) => this.createIn(tx, name, false));
  }

  /**
   * First start: an empty database gets the default workspace and an instance admin key,
   * whose secret is returned exactly once. Later starts return null.
   */
  async bootstrap(): Promise<CreatedWorkspace | null> {
    return this.deps.store.transaction(async (tx) => {
      if ((await tx.countWorkspaces()) > 0) return null;
      return this.createIn(tx, 'default', true);
    });
  }
}
