import type { ApiKey, Job, Workspace } from '../../domain/types.js';
import type {
  ClaimedDelivery,
  DeliveryAttempt,
  InstanceReader,
  InstanceWriter,
  PageQuery,
  WorkspaceWriter,
} from '../types.js';
import type { Conn } from './bound.js';
import { purgeIdempotency } from './idempotency.js';
import { claimJob, takeLease } from './jobs.js';
import { findKeyByHash } from './keys.js';
import { num } from './rows.js';
import { claimDeliveries, settleDelivery } from './webhooks.js';
import { KyselyWorkspaceWriter } from './workspace.js';

/** The tenants themselves, instance metadata, and the key lookup that finds a request's tenant. */
export class KyselyInstanceReader implements InstanceReader {
  constructor(protected readonly c: Conn) {}

  findApiKeyByHash(keyHash: string): Promise<ApiKey | null> {
    return findKeyByHash(this.c, keyHash);
  }

  async getWorkspace(id: string): Promise<Workspace | null> {
    const r = await this.c.db
      .selectFrom('workspaces')
      .select(['id', 'name', 'created_at', 'trash_days'])
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? { id: r.id, name: r.name, createdAt: num(r.created_at), trashDays: num(r.trash_days) } : null;
  }

  async countWorkspaces(): Promise<number> {
    const r = await this.c.db
      .selectFrom('workspaces')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return num(r.n);
  }

  async listWorkspaces(q: PageQuery): Promise<Workspace[]> {
    let query = this.c.db.selectFrom('workspaces').select(['id', 'name', 'created_at', 'trash_days']);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: num(r.created_at), trashDays: num(r.trash_days) }));
  }

  async firstWorkspaceId(): Promise<string | null> {
    const r = await this.c.db
      .selectFrom('workspaces')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return r?.id ?? null;
  }

  async getMeta(key: string): Promise<string | null> {
    const r = await this.c.db.selectFrom('instance_meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }

  async workspacesWithDue(dueBy: number, limit: number): Promise<string[]> {
    const rows = await this.c.db
      .selectFrom('conversations')
      .select('workspace_id')
      .distinct()
      .where('deleted_state', 'is not', null)
      .where('purge_at', '<=', dueBy)
      .limit(limit)
      .execute();
    return rows.map((r) => r.workspace_id);
  }

  async retentionWorkspaces(): Promise<string[]> {
    const rows = await this.c.db
      .selectFrom('retention_policies')
      .select('workspace_id')
      .orderBy('workspace_id')
      .execute();
    return rows.map((r) => r.workspace_id);
  }
}

export class KyselyInstanceWriter extends KyselyInstanceReader implements InstanceWriter {
  async insertWorkspace(ws: Workspace): Promise<void> {
    await this.c.db
      .insertInto('workspaces')
      .values({ id: ws.id, name: ws.name, created_at: ws.createdAt, trash_days: ws.trashDays })
      .execute();
  }

  async renameWorkspace(id: string, name: string): Promise<boolean> {
    const r = await this.c.db.updateTable('workspaces').set({ name }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<void> {
    await this.c.db
      .insertInto('instance_meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }

  purgeIdempotency(createdBefore: number, limit: number): Promise<number> {
    return purgeIdempotency(this.c.db, createdBefore, limit);
  }

  claimDeliveries(q: { now: number; limit: number; owner: string; leaseUntil: number }): Promise<ClaimedDelivery[]> {
    return claimDeliveries(this.c, q);
  }

  settleDelivery(a: DeliveryAttempt): Promise<boolean> {
    return settleDelivery(this.c, a);
  }

  claimJob(owner: string, now: number, leaseUntil: number): Promise<Job | null> {
    return claimJob(this.c, owner, now, leaseUntil);
  }

  takeLease(name: string, owner: string, now: number, until: number): Promise<boolean> {
    return takeLease(this.c, name, owner, now, until);
  }

  workspace(workspaceId: string): WorkspaceWriter {
    return new KyselyWorkspaceWriter({ ...this.c, ws: workspaceId });
  }
}
