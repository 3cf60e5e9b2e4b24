import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey, AuthContext, Scope, Workspace } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { Repo } from '../store/types.js';
import { actingUser, actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import { type CursorCodec, isIdCursor } from './cursor.js';

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
    const key = await this.deps.store.findApiKeyByHash(hashKey(secret));
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
    this.deps.store.touchApiKeyLastUsed(key.workspaceId, key.id, now, since).catch(() => undefined);
  }

  /**
   * Inserts a key in an open transaction (used by workspace creation too), with its audit event:
   * the acting key's id, or null when the operator (CLI, first start) made it.
   */
  async insert(
    tx: Repo,
    workspaceId: string,
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
      lastUsedAt: null,
    };
    await tx.insertApiKey(key, hashKey(secret));
    await tx.insertAuditEvent({
      id: newId('audit', now),
      workspaceId,
      actorKeyId: actor,
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
      const created = await this.insert(tx, auth.workspaceId, bound, actorKeyId(auth));
      if (inTx) await inTx(tx, created);
      return created;
    });
  }

  /**
   * `parley keys create --instance-admin`: a new instance admin key in the default workspace.
   * Access to the database is the proof, as on first start; this is how a lost key is replaced.
   */
  async createInstanceAdminAsOperator(name: string): Promise<CreatedKey> {
    return this.deps.store.transaction(async (tx) => {
      const workspaceId = await tx.findFirstWorkspaceId();
      if (workspaceId === null) throw notFound('Default workspace');
      return this.insert(
        tx,
        workspaceId,
        { name, scopes: ['admin', 'read:ai', 'write:ai'], instanceAdmin: true },
        null,
      );
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
    return this.deps.store.transaction(async (tx) => {
      const now = this.deps.clock.now();
      const existing = await tx.getApiKey(auth.workspaceId, id);
      if (!existing) throw notFound('API key');
      if (existing.revokedAt === null && !auth.instanceAdmin && !opts.force) {
        const admins = await tx.activeAdminKeyIds(auth.workspaceId, now);
        if (admins.length === 1 && admins[0] === id) {
          throw new ParleyError(
            'last_admin_key',
            'This is the last active admin key of the workspace; create another admin key before revoking it',
          );
        }
      }
      if (existing.revokedAt === null) {
        await tx.revokeApiKey(auth.workspaceId, id, now);
        await tx.insertAuditEvent({
          id: newId('audit', now),
          workspaceId: auth.workspaceId,
          actorKeyId: actorKeyId(auth),
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

export interface WorkspacePage {
  items: Workspace[];
  nextCursor: string | null;
}

const WORKSPACE_NAME_MAX = 200;

/**
 * Tenants. Creating, listing and renaming them is the instance admin's (or the operator's);
 * a workspace admin key may read its own workspace, and another one is 404 like a missing one.
 */
export class WorkspacesService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly keys: KeysService,
    private readonly cursors?: CursorCodec,
  ) {}

  private async createIn(tx: Repo, name: string, instanceAdmin: boolean, actor: AuthContext | null) {
    const now = this.deps.clock.now();
    const workspace: Workspace = { id: newId('workspace', now), name, createdAt: now };
    await tx.insertWorkspace(workspace);
    const by = actor === null ? null : actorKeyId(actor);
    const created = (at: string) =>
      tx.insertAuditEvent({
        id: newId('audit', now),
        workspaceId: at,
        actorKeyId: by,
        action: 'workspace.created',
        targetType: 'workspace',
        targetId: workspace.id,
        counts: {},
        createdAt: now,
      });
    await created(workspace.id);
    // and in the instance admin's own log, where GET /v1/audit-events shows it to them
    if (actor !== null && !actor.operator && actor.workspaceId !== workspace.id) await created(actor.workspaceId);
    const key = await this.keys.insert(
      tx,
      workspace.id,
      {
        name: instanceAdmin ? 'instance admin' : 'workspace admin',
        scopes: ['admin', 'read:ai', 'write:ai'],
        instanceAdmin,
      },
      by,
    );
    return { workspace, key };
  }

  private requireInstanceAdmin(auth: AuthContext, what: string): void {
    if (!auth.instanceAdmin && !auth.operator) {
      throw new ParleyError('insufficient_permissions', `${what} needs the instance admin key`, {
        extra: { required_scope: 'admin' },
      });
    }
  }

  /** POST /v1/workspaces: only the instance admin key may create tenants. */
  async create(auth: AuthContext, name: string, inTx?: InTransaction<CreatedWorkspace>): Promise<CreatedWorkspace> {
    this.requireInstanceAdmin(auth, 'Creating workspaces');
    return this.deps.store.transaction(async (tx) => {
      const created = await this.createIn(tx, name, false, auth);
      if (inTx) await inTx(tx, created);
      return created;
    });
  }

  /** For the CLI: no key needed, whoever holds the database file is the operator. */
  async createAsOperator(name: string): Promise<CreatedWorkspace> {
    return this.deps.store.transaction((tx) => this.createIn(tx, name, false, null));
  }

  /** GET /v1/workspaces: every workspace, oldest first, in keyset pages (instance admin only). */
  async list(
    auth: AuthContext,
    q: { cursor?: string | undefined; limit?: number | undefined },
  ): Promise<WorkspacePage> {
    this.requireInstanceAdmin(auth, 'Listing workspaces');
    if (!this.cursors) throw new Error('WorkspacesService.list needs a cursor codec');
    const kind = 'workspaces';
    // the cursor carries its page size: alone, it continues the list
    const c = q.cursor !== undefined ? this.cursors.decode(auth.workspaceId, kind, q.cursor, isIdCursor) : undefined;
    const limit = q.limit ?? c?.n ?? 50;
    const rows = await this.deps.store.listWorkspaces({ after: c?.i, order: 'asc', limit: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? this.cursors.encode(auth.workspaceId, kind, { i: last.id, o: 'asc', n: limit })
        : null;
    return { items, nextCursor };
  }

  /** For the CLI: every workspace, read in batches. */
  async listAsOperator(): Promise<Workspace[]> {
    const out: Workspace[] = [];
    for (;;) {
      const batch = await this.deps.store.listWorkspaces({
        after: out[out.length - 1]?.id,
        order: 'asc',
        limit: 1000,
      });
      out.push(...batch);
      if (batch.length < 1000) return out;
    }
  }

  /** GET /v1/workspaces/{id}: the instance admin sees any; a workspace admin only its own. */
  async get(auth: AuthContext, rawId: string): Promise<Workspace> {
    requireScope(auth, 'admin');
    const id = parseId('workspace', rawId);
    if (id === null || (!auth.instanceAdmin && !auth.operator && id !== auth.workspaceId)) {
      throw notFound('Workspace');
    }
    const ws = await this.deps.store.getWorkspace(id);
    if (!ws) throw notFound('Workspace');
    return ws;
  }

  /** PATCH /v1/workspaces/{id}: renames (instance admin only); audited without the name. */
  async rename(auth: AuthContext, rawId: string, name: string, inTx?: InTransaction<Workspace>): Promise<Workspace> {
    this.requireInstanceAdmin(auth, 'Renaming workspaces');
    if (name.trim().length === 0 || Array.from(name).length > WORKSPACE_NAME_MAX) {
      throw validation('/body/name', `name must be 1 to ${WORKSPACE_NAME_MAX} characters`);
    }
    const id = parseId('workspace', rawId);
    if (id === null) throw notFound('Workspace');
    return this.deps.store.transaction(async (tx) => {
      const current = await tx.getWorkspace(id);
      if (!current) throw notFound('Workspace');
      const renamed = { ...current, name };
      if (current.name !== name) {
        await tx.renameWorkspace(id, name);
        const now = this.deps.clock.now();
        await tx.insertAuditEvent({
          id: newId('audit', now),
          workspaceId: id,
          actorKeyId: actorKeyId(auth),
          action: 'workspace.renamed',
          targetType: 'workspace',
          targetId: id,
          counts: {},
          createdAt: now,
        });
      }
      if (inTx) await inTx(tx, renamed);
      return renamed;
    });
  }

  /**
   * First start: an empty database gets the default workspace and an instance admin key,
   * whose secret is returned exactly once. Later starts return null. Parley.start() calls it
   * only once the port is bound, so a start that fails never mints a key nobody saw.
   */
  async bootstrap(): Promise<CreatedWorkspace | null> {
    return this.deps.store.transaction(async (tx) => {
      if ((await tx.countWorkspaces()) > 0) return null;
      return this.createIn(tx, 'default', true, null);
    });
  }
}
