import type { AuthContext, Job, JsonObject, RetentionPolicy, RetentionRule } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import type { ConversationSubject, WorkspaceReader } from '../store/types.js';
import { conversationRef } from '../webhooks/events.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, type ServiceDeps } from './context.js';
import { deleteConversationIn } from './conversations.js';
import { DAY_MS } from './erase.js';
import { advanceJob, enqueueJob, type JobHandler, type JobLease, jobActor, LeaseLost, requireAdmin } from './jobs.js';
import type { UnitOfWork } from './unit-of-work.js';

/** Ids shown per action by a dry run. */
export const DRY_RUN_SAMPLE = 20;

export type RetentionAction = 'delete' | 'archive';

/** The rule that governs a conversation: its user's, else its bot's, else the default. */
export function ruleFor(
  policy: RetentionPolicy,
  c: { userId: string | null; botId: string | null },
): RetentionRule | null {
  return (
    (c.userId !== null ? policy.users[c.userId] : undefined) ??
    (c.botId !== null ? policy.bots[c.botId] : undefined) ??
    policy.default
  );
}

/** What the policy does to a conversation as of `asOf`: delete, archive, or nothing. */
export function verdict(policy: RetentionPolicy, c: ConversationSubject, asOf: number): RetentionAction | null {
  const rule = ruleFor(policy, c);
  if (!rule) return null;
  if (c.updatedAt >= asOf - rule.inactiveDays * DAY_MS) return null;
  if (rule.action === 'archive' && c.archived) return null;
  return rule.action;
}

/** Only conversations older than the shortest rule can be due: the scan starts from there. */
function oldestDue(policy: RetentionPolicy, asOf: number): number {
  const days = [policy.default, ...Object.values(policy.users), ...Object.values(policy.bots)]
    .filter((r): r is RetentionRule => r !== null)
    .map((r) => r.inactiveDays);
  return asOf - Math.min(...days) * DAY_MS;
}

export interface RetentionCounts extends Record<string, number> {
  scanned: number;
  deleted: number;
  archived: number;
  held: number;
}

export interface DryRun {
  asOf: number;
  counts: RetentionCounts;
  sample: { delete: string[]; archive: string[]; held: string[] };
}

const emptyCounts = (): RetentionCounts => ({ scanned: 0, deleted: 0, archived: 0, held: 0 });

/** One batch's verdicts: what would be deleted, archived, or is held. */
async function judge(
  r: WorkspaceReader,
  policy: RetentionPolicy,
  batch: ConversationSubject[],
  asOf: number,
): Promise<Array<{ c: ConversationSubject; action: RetentionAction | 'held' }>> {
  const due = batch.flatMap((c) => {
    const action = verdict(policy, c, asOf);
    return action ? [{ c, action }] : [];
  });
  const held = await r.holds.heldAmong(due.map((d) => d.c));
  return due.map((d) => (held.has(d.c.id) ? { c: d.c, action: 'held' as const } : d));
}

export function validatePolicy(p: RetentionPolicy): void {
  const rules = [p.default, ...Object.values(p.users), ...Object.values(p.bots)];
  if (rules.every((r) => r === null)) {
    throw new ParleyError('validation_failed', 'A policy needs at least one rule; send null to remove it', {
      details: [{ field: '/body/policy', message: 'no rule' }],
    });
  }
}

/**
 * Retention: per workspace, conversations in view inactive (not updated) for a rule's days are
 * deleted (as a DELETE: to the trash when it is on) or archived; held ones are skipped and counted.
 * Runs as a job in batches; a dry run walks the same scan with the same verdicts and changes
 * nothing. Each finished run is audited and announced (retention.ran).
 */
export class RetentionService implements JobHandler {
  readonly kind = 'retention.run' as const;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly batchSize: number,
    private readonly onQueued: () => void = () => {},
  ) {}

  async get(auth: AuthContext): Promise<{ policy: RetentionPolicy | null; updatedAt: number | null }> {
    requireAdmin(auth);
    const p = await this.deps.store.read(auth.workspaceId, (r) => r.retention.get());
    return { policy: p?.policy ?? null, updatedAt: p?.updatedAt ?? null };
  }

  async put(
    auth: AuthContext,
    policy: RetentionPolicy | null,
    inTx?: InTransaction<{ policy: RetentionPolicy | null; updatedAt: number | null }>,
  ): Promise<{ policy: RetentionPolicy | null; updatedAt: number | null }> {
    requireAdmin(auth);
    if (policy !== null) validatePolicy(policy);
    const now = this.deps.clock.now();
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        await w.retention.put(policy, now, actorKeyId(auth));
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'retention.updated',
          targetType: 'workspace',
          targetId: auth.workspaceId,
          counts: policy
            ? {
                default: policy.default ? 1 : 0,
                users: Object.keys(policy.users).length,
                bots: Object.keys(policy.bots).length,
              }
            : {},
          at: now,
        });
        return { policy, updatedAt: policy ? now : null };
      },
      inTx,
    );
  }

  /**
   * What a run now would do: counts and a sample of ids per action, nothing changed. With `draft`,
   * what that policy would do (the console shows it before the policy is saved); `null` is none.
   */
  async dryRun(auth: AuthContext, draft?: RetentionPolicy | null): Promise<DryRun> {
    requireAdmin(auth);
    const asOf = this.deps.clock.now();
    const counts = emptyCounts();
    const sample = { delete: [] as string[], archive: [] as string[], held: [] as string[] };
    const stored =
      draft === undefined
        ? await this.deps.store.read(auth.workspaceId, (r) => r.retention.get())
        : draft && { policy: draft };
    if (!stored) return { asOf, counts, sample };
    const before = oldestDue(stored.policy, asOf);
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.store.read(auth.workspaceId, async (r) => {
        const batch = await r.lifecycle.subjects({
          inView: true,
          updatedBefore: before,
          afterId: after,
          limit: this.batchSize,
        });
        return { batch, verdicts: await judge(r, stored.policy, batch, asOf) };
      });
      counts.scanned += page.batch.length;
      for (const { c, action } of page.verdicts) {
        const key = action === 'delete' ? 'deleted' : action === 'archive' ? 'archived' : 'held';
        counts[key] += 1;
        const list = sample[action];
        if (list.length < DRY_RUN_SAMPLE) list.push(c.id);
      }
      if (page.batch.length < this.batchSize) break;
      after = page.batch[page.batch.length - 1]?.id;
      await new Promise((r) => setImmediate(r));
    }
    return { asOf, counts, sample };
  }

  /** Queues a run (the one queued or running is answered instead of a second). */
  async run(auth: AuthContext | null, workspaceId: string, inTx?: InTransaction<Job>): Promise<Job> {
    if (auth) requireAdmin(auth);
    const job = await this.uow.write(
      workspaceId,
      async ({ w }) => {
        const pending = await w.jobs.unfinished(this.kind, 1);
        if (pending[0]) return pending[0];
        const now = this.deps.clock.now();
        return enqueueJob(w, {
          kind: this.kind,
          params: { as_of: now },
          total: null,
          createdBy: auth ? actorKeyId(auth) : null,
          at: now,
        });
      },
      inTx,
    );
    this.onQueued();
    return job;
  }

  async step(job: Job, lease: JobLease): Promise<'more' | 'done'> {
    const asOf = Number(job.params.as_of);
    const cursor = job.cursor as { after: string | null } | null;
    return this.uow.write(job.workspaceId, async ({ w, emit, announce, notify }) => {
      const now = this.deps.clock.now();
      const stored = await w.retention.get();
      const counts = { ...emptyCounts(), ...job.progress.counts } as RetentionCounts;
      const batch = stored
        ? await w.lifecycle.subjects({
            inView: true,
            updatedBefore: oldestDue(stored.policy, asOf),
            afterId: cursor?.after ?? undefined,
            limit: this.batchSize,
          })
        : [];
      // the run acts for whoever asked for it; a scheduled run is the operator's
      const system = jobActor(job);
      counts.scanned += batch.length;
      for (const { c, action } of stored ? await judge(w, stored.policy, batch, asOf) : []) {
        if (action === 'held') counts.held += 1;
        else if (action === 'archive') {
          const updated = await w.conversations.update(c.id, { archived: true, updatedAt: now });
          if (updated) {
            await emit(c.id, { type: 'conversation.archived', data: updated }, now);
            await notify('conversation.archived', { conversation: conversationRef(updated) });
            counts.archived += 1;
          }
        } else {
          const removed = await deleteConversationIn({ w, notify }, system, c.id, now);
          if (removed) {
            announce(removed.event);
            counts.deleted += 1;
          }
        }
      }
      const progress = { done: counts.scanned, total: null, counts };
      if (batch.length === this.batchSize) {
        await advanceJob(w, job, lease, { after: batch[batch.length - 1]?.id ?? null }, progress, now);
        return 'more';
      }
      await recordAudit(w, {
        actor: job.createdBy,
        action: 'retention.ran',
        targetType: 'workspace',
        targetId: job.workspaceId,
        counts,
        details: { job_id: job.id, as_of: new Date(asOf).toISOString() },
        at: now,
      });
      const result: JsonObject = { counts, as_of: new Date(asOf).toISOString() };
      await notify('retention.ran', { job_id: job.id, ...result });
      const ok = await w.jobs.finish(job.id, lease.owner, {
        state: 'succeeded',
        result,
        error: null,
        progress,
        at: now,
      });
      if (!ok) throw new LeaseLost();
      return 'done';
    });
  }
}

/**
 * Scheduled enforcement: each tick, the instance holding the `retention` lease (one at a time
 * across instances; it lapses after one interval if its holder dies) queues a run for every
 * workspace with a policy. The runs themselves go to whichever runner claims them.
 */
export async function scheduleRetention(
  deps: ServiceDeps,
  retention: RetentionService,
  owner: string,
  intervalMs: number,
): Promise<number> {
  const now = deps.clock.now();
  // a little short of the interval, so the holder's next tick renews it before anyone else may take it
  const held = await deps.store.transactInstance((i) =>
    i.takeLease('retention', owner, now, now + Math.max(1, intervalMs - Math.min(1000, intervalMs / 10))),
  );
  if (!held) return 0;
  const workspaces = await deps.store.instance.retentionWorkspaces();
  for (const ws of workspaces) await retention.run(null, ws);
  return workspaces.length;
}
