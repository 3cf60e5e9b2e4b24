import type { AuthContext, Workspace } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { InstanceWriter } from '../store/types.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import type { CreatedKey, KeysService } from './keys.js';
import { idPage } from './pages.js';

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

  private async createIn(i: InstanceWriter, name: string, instanceAdmin: boolean, actor: AuthContext | null) {
    const now = this.deps.clock.now();
    const workspace: Workspace = { id: newId('workspace', now), name, createdAt: now, trashDays: 0 };
    await i.insertWorkspace(workspace);
    const by = actor === null ? null : actorKeyId(actor);
    const w = i.workspace(workspace.id);
    const created = {
      actor: by,
      action: 'workspace.created',
      targetType: 'workspace',
      targetId: workspace.id,
      at: now,
    };
    await recordAudit(w, created);
    // and in the instance admin's own log, where GET /v1/audit-events shows it to them
    if (actor !== null && !actor.operator && actor.workspaceId !== workspace.id) {
      await recordAudit(i.workspace(actor.workspaceId), created);
    }
    const key = await this.keys.insert(
      w,
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
    return this.deps.store.transactInstance(async (i) => {
      const created = await this.createIn(i, name, false, auth);
      // the answer is stored in the workspace of the key that asked
      if (inTx) await inTx(i.workspace(auth.workspaceId), created);
      return created;
    });
  }

  /** For the CLI: no key needed, whoever holds the database file is the operator. */
  async createAsOperator(name: string): Promise<CreatedWorkspace> {
    return this.deps.store.transactInstance((i) => this.createIn(i, name, false, null));
  }

  /** GET /v1/workspaces: every workspace, oldest first, in keyset pages (instance admin only). */
  async list(
    auth: AuthContext,
    q: { cursor?: string | undefined; limit?: number | undefined },
  ): Promise<WorkspacePage> {
    this.requireInstanceAdmin(auth, 'Listing workspaces');
    if (!this.cursors) throw new Error('WorkspacesService.list needs a cursor codec');
    // the cursor carries its page size: alone, it continues the list
    return idPage(this.cursors, auth.workspaceId, 'workspaces', { cursor: q.cursor, limit: q.limit }, (p) =>
      this.deps.store.instance.listWorkspaces({ after: p.after, order: 'asc', limit: p.limit }),
    );
  }

  /** For the CLI: every workspace, read in batches. */
  async listAsOperator(): Promise<Workspace[]> {
    const out: Workspace[] = [];
    for (;;) {
      const batch = await this.deps.store.instance.listWorkspaces({
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
    const ws = await this.deps.store.instance.getWorkspace(id);
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
    return this.deps.store.transactInstance(async (i) => {
      const current = await i.getWorkspace(id);
      if (!current) throw notFound('Workspace');
      const renamed = { ...current, name };
      if (current.name !== name) {
        await i.renameWorkspace(id, name);
        await recordAudit(i.workspace(id), {
          actor: actorKeyId(auth),
          action: 'workspace.renamed',
          targetType: 'workspace',
          targetId: id,
          at: this.deps.clock.now(),
        });
      }
      // the answer is stored in the workspace of the key that asked
      if (inTx) await inTx(i.workspace(auth.workspaceId), renamed);
      return renamed;
    });
  }

  /**
   * First start: an empty database gets the default workspace and an instance admin key,
   * whose secret is returned exactly once. Later starts return null. Parley.start() calls it
   * only once the port is bound, so a start that fails never mints a key nobody saw.
   */
  async bootstrap(): Promise<CreatedWorkspace | null> {
    return this.deps.store.transactInstance(async (i) => {
      if ((await i.countWorkspaces()) > 0) return null;
      return this.createIn(i, 'default', true, null);
    });
  }
}
