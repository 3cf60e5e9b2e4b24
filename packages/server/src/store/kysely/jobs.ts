import type { Selectable } from 'kysely';
import type { Job, JobKind, JobState, JsonObject } from '../../domain/types.js';
import type { JobsTable } from '../schema.js';
import type { JobReads, JobWrites, PageQuery } from '../types.js';
import { type Bound, type Conn, sameWorkspace } from './bound.js';
import { num, numOrNull } from './rows.js';

export const JOB_COLUMNS = [
  'workspace_id',
  'id',
  'kind',
  'state',
  'params',
  'progress',
  'cursor',
  'result',
  'error',
  'created_by',
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'lease_owner',
  'lease_until',
  'attempts',
] as const;

const json = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

export function toJob(r: Selectable<JobsTable>): Job {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    kind: r.kind as JobKind,
    state: r.state as JobState,
    params: json<JsonObject>(r.params) ?? {},
    progress: json<Job['progress']>(r.progress) ?? { done: 0, total: null, counts: {} },
    cursor: json<JsonObject>(r.cursor),
    result: json<JsonObject>(r.result),
    error: json<Job['error']>(r.error),
    createdBy: r.created_by,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
    attempts: num(r.attempts),
  };
}

export class JobsReader implements JobReads {
  constructor(protected readonly b: Bound) {}

  async get(id: string): Promise<Job | null> {
    const r = await this.b.db
      .selectFrom('jobs')
      .select(JOB_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toJob(r) : null;
  }

  async list(q: PageQuery & { kind?: string | undefined; state?: string | undefined }): Promise<Job[]> {
    let query = this.b.db.selectFrom('jobs').select(JOB_COLUMNS).where('workspace_id', '=', this.b.ws);
    if (q.kind !== undefined) query = query.where('kind', '=', q.kind);
    if (q.state !== undefined) query = query.where('state', '=', q.state);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toJob);
  }

  async unfinished(kind: string, limit: number): Promise<Job[]> {
    const rows = await this.b.db
      .selectFrom('jobs')
      .select(JOB_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('kind', '=', kind)
      .where('state', 'in', ['queued', 'running'])
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toJob);
  }

  async items(jobId: string): Promise<string[]> {
    const rows = await this.b.db
      .selectFrom('job_items')
      .select('item')
      .where('workspace_id', '=', this.b.ws)
      .where('job_id', '=', jobId)
      .orderBy('seq')
      .execute();
    return rows.map((r) => r.item);
  }
}

/** Rows per INSERT of job items (4 parameters each: well under either engine's limit). */
const ITEMS_PER_INSERT = 500;

export class JobsWriter extends JobsReader implements JobWrites {
  async insert(job: Job): Promise<void> {
    sameWorkspace(this.b, job.workspaceId, 'job');
    await this.b.db
      .insertInto('jobs')
      .values({
        workspace_id: this.b.ws,
        id: job.id,
        kind: job.kind,
        state: job.state,
        params: JSON.stringify(job.params),
        progress: JSON.stringify(job.progress),
        cursor: job.cursor === null ? null : JSON.stringify(job.cursor),
        result: null,
        error: null,
        created_by: job.createdBy,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
        started_at: null,
        finished_at: null,
        lease_owner: null,
        lease_until: null,
        attempts: 0,
      })
      .execute();
  }

  async addItems(jobId: string, items: readonly string[]): Promise<void> {
    if (items.length === 0) return;
    const last = await this.b.db
      .selectFrom('job_items')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('workspace_id', '=', this.b.ws)
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    const first = num(last?.seq ?? 0) + 1;
    for (let at = 0; at < items.length; at += ITEMS_PER_INSERT) {
      const values = items
        .slice(at, at + ITEMS_PER_INSERT)
        .map((item, i) => ({ workspace_id: this.b.ws, job_id: jobId, seq: first + at + i, item }));
      await this.b.db.insertInto('job_items').values(values).execute();
    }
  }

  async dropItems(jobId: string): Promise<void> {
    await this.b.db.deleteFrom('job_items').where('workspace_id', '=', this.b.ws).where('job_id', '=', jobId).execute();
  }

  async advance(
    id: string,
    owner: string,
    patch: { cursor: JsonObject | null; progress: Job['progress']; leaseUntil: number; updatedAt: number },
  ): Promise<boolean> {
    const r = await this.b.db
      .updateTable('jobs')
      .set({
        cursor: patch.cursor === null ? null : JSON.stringify(patch.cursor),
        progress: JSON.stringify(patch.progress),
        lease_until: patch.leaseUntil,
        updated_at: patch.updatedAt,
      })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async finish(
    id: string,
    owner: string,
    end: {
      state: 'succeeded' | 'failed';
      result: JsonObject | null;
      error: Job['error'];
      progress: Job['progress'];
      at: number;
    },
  ): Promise<boolean> {
    const r = await this.b.db
      .updateTable('jobs')
      .set({
        state: end.state,
        result: end.result === null ? null : JSON.stringify(end.result),
        error: end.error === null ? null : JSON.stringify(end.error),
        progress: JSON.stringify(end.progress),
        finished_at: end.at,
        updated_at: end.at,
        lease_owner: null,
        lease_until: null,
      })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}

/** See InstanceWriter.claimJob. */
export async function claimJob(c: Conn, owner: string, now: number, leaseUntil: number): Promise<Job | null> {
  let due = c.db
    .selectFrom('jobs')
    .select(['workspace_id', 'id'])
    .where('state', 'in', ['queued', 'running'])
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('created_at')
    .limit(1);
  // PostgreSQL: another instance's claim in flight skips this row instead of waiting on it
  if (c.lockRows) due = due.forUpdate().skipLocked();
  const pick = await due.executeTakeFirst();
  if (!pick) return null;
  const r = await c.db
    .updateTable('jobs')
    .set((eb) => ({
      state: 'running',
      lease_owner: owner,
      lease_until: leaseUntil,
      started_at: eb.fn.coalesce('started_at', eb.val(now)),
      updated_at: now,
      attempts: eb('attempts', '+', 1),
    }))
    .where('workspace_id', '=', pick.workspace_id)
    .where('id', '=', pick.id)
    .where('state', 'in', ['queued', 'running'])
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .returning(JOB_COLUMNS)
    .executeTakeFirst();
  return r ? toJob(r) : null;
}

/** See InstanceWriter.takeLease. */
export async function takeLease(c: Conn, name: string, owner: string, now: number, until: number): Promise<boolean> {
  const r = await c.db
    .insertInto('leases')
    .values({ name, owner, until })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ owner, until })
        .where((eb) => eb.or([eb('leases.until', '<', now), eb('leases.owner', '=', owner)])),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}
