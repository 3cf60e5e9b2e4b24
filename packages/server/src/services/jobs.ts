import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import type { Logger } from 'pino';
import type { AuthContext, Job, JobKind, JsonObject } from '../domain/types.js';
import { notFound, ParleyError } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { WorkspaceWriter } from '../store/types.js';
import { recordAudit } from './audit.js';
import { actorKeyId, operatorAuth, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import type { JobArtifacts } from './job-artifacts.js';
import { idPage, type Page } from './pages.js';

/** A batch whose job was taken over by another runner (its lease had expired): the batch rolls back. */
export class LeaseLost extends Error {
  constructor() {
    super('the job lease was lost');
    this.name = 'LeaseLost';
  }
}

/** What a kind of job does, one batch at a time. */
export interface JobHandler {
  readonly kind: JobKind;
  /**
   * Runs the job's next batch in one short transaction that also stores the new cursor and
   * progress (`advance`, or `finish` on the last): a crash loses at most the batch in flight,
   * and the next runner resumes at the stored cursor. 'done' once the job has finished.
   */
  step(job: Job, lease: JobLease): Promise<'more' | 'done'>;
}

/** The runner's hold on a job: who it is and until when the lease of each batch runs. */
export interface JobLease {
  owner: string;
  until(): number;
}

/** A new queued job of the writer's workspace. */
export async function enqueueJob(
  w: WorkspaceWriter,
  e: { kind: JobKind; params: JsonObject; total: number | null; createdBy: string | null; at: number },
): Promise<Job> {
  const job: Job = {
    id: newId('job', e.at),
    workspaceId: w.workspaceId,
    kind: e.kind,
    state: 'queued',
    params: e.params,
    progress: { done: 0, total: e.total, counts: {} },
    cursor: null,
    result: null,
    error: null,
    createdBy: e.createdBy,
    createdAt: e.at,
    updatedAt: e.at,
    startedAt: null,
    finishedAt: null,
    leaseOwner: null,
    leaseUntil: null,
    attempts: 0,
  };
  await w.jobs.insert(job);
  return job;
}

/** Stores a batch's cursor and progress while the lease is ours; else the batch rolls back. */
export async function advanceJob(
  w: WorkspaceWriter,
  job: Job,
  lease: JobLease,
  cursor: JsonObject,
  progress: Job['progress'],
  now: number,
): Promise<void> {
  const ok = await w.jobs.advance(job.id, lease.owner, { cursor, progress, leaseUntil: lease.until(), updatedAt: now });
  if (!ok) throw new LeaseLost();
}

/** Reading jobs: one by id, or the workspace's list (admin). */
export class JobsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly cursors: CursorCodec,
    private readonly artifacts: JobArtifacts,
  ) {}

  /**
   * An erase job's export file (export_first), from when it is written until it expires or is
   * deleted; 404 for a job without one, before it is written, and after.
   */
  async openExport(auth: AuthContext, rawId: string): Promise<{ job: Job; file: ReadStream; export: JsonObject }> {
    const job = await this.get(auth, rawId);
    const info = exportOf(job);
    const file = info ? await this.artifacts.open(job.workspaceId, job.id, Date.parse(String(info.expires_at))) : null;
    if (!info || !file) throw notFound('Export');
    return { job, file, export: info };
  }

  /** Deletes an erase job's export file before it expires (audited); 404 when there is none. */
  async deleteExport(auth: AuthContext, rawId: string): Promise<void> {
    const job = await this.get(auth, rawId);
    if (!exportOf(job) || !(await this.artifacts.remove(job.workspaceId, job.id))) throw notFound('Export');
    const now = this.deps.clock.now();
    await this.deps.store.transact(job.workspaceId, (w) =>
      recordAudit(w, {
        actor: actorKeyId(auth),
        action: 'job.export_deleted',
        targetType: 'job',
        targetId: job.id,
        counts: {},
        at: now,
      }),
    );
  }

  async get(auth: AuthContext, rawId: string): Promise<Job> {
    requireAdmin(auth);
    const id = parseId('job', rawId);
    if (id === null) throw notFound('Job');
    const job = await this.deps.store.read(auth.workspaceId, (r) => r.jobs.get(id));
    if (!job) throw notFound('Job');
    return job;
  }

  async list(
    auth: AuthContext,
    q: {
      cursor?: string | undefined;
      limit?: number | undefined;
      kind?: string | undefined;
      state?: string | undefined;
    },
  ): Promise<Page<Job>> {
    requireAdmin(auth);
    const filter = { kind: q.kind, state: q.state };
    return this.deps.store.read(auth.workspaceId, (r) =>
      idPage(
        this.cursors,
        auth.workspaceId,
        `jobs:${JSON.stringify(filter)}`,
        { cursor: q.cursor, limit: q.limit },
        (p) => r.jobs.list({ ...filter, ...p }),
        'desc',
      ),
    );
  }
}

/** What an erase job says of its export file: in its cursor while it runs, in its receipt once done. */
function exportOf(job: Job): JsonObject | null {
  const fromReceipt = (job.result?.receipt as JsonObject | undefined)?.export;
  const fromCursor = job.cursor?.export;
  const e = fromReceipt ?? fromCursor;
  return e !== null && typeof e === 'object' && !Array.isArray(e) ? (e as JsonObject) : null;
}

/** Whom a job acts as: the key that asked for it, or the operator for a scheduled one. */
export function jobActor(job: Job): AuthContext {
  return job.createdBy
    ? { ...operatorAuth(job.workspaceId), keyId: job.createdBy, operator: false }
    : operatorAuth(job.workspaceId);
}

/** Lifecycle administration: the admin scope, and never a key bound to a user. */
export function requireAdmin(auth: AuthContext): void {
  requireScope(auth, 'admin');
  if (auth.userId !== null) {
    throw new ParleyError(
      'insufficient_permissions',
      `This API key is bound to user ${auth.userId} and cannot administer the workspace`,
      {
        extra: { bound_user_id: auth.userId, required_scope: 'admin' },
      },
    );
  }
}

export interface RunnerOptions {
  /** How often an idle runner looks for due jobs. */
  pollMs: number;
  /** How long a claim (and each batch's renewal) holds a job; a dead runner's job is taken over after it. */
  leaseMs: number;
  /** A job that failed this many claims in a row (crashes, unavailable database) is marked failed. */
  maxAttempts: number;
}

/**
 * Claims due jobs (queued, or running with an expired lease) and runs them batch by batch,
 * yielding to the event loop between batches. Several instances may run one each: a claim is a
 * short transaction that hands each job to one runner.
 */
export class JobRunner {
  readonly owner = `run_${randomBytes(8).toString('hex')}`;
  private readonly handlers = new Map<string, JobHandler>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;

  constructor(
    private readonly deps: ServiceDeps & { logger: Logger },
    private readonly opts: RunnerOptions,
  ) {}

  register(handler: JobHandler): void {
    this.handlers.set(handler.kind, handler);
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due jobs now (a job was just queued). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err) => this.deps.logger.warn({ err }, 'job runner pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops claiming; the job in flight stops after its current batch (its lease then lapses). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private lease(): JobLease {
    return { owner: this.owner, until: () => this.deps.clock.now() + this.opts.leaseMs };
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const now = this.deps.clock.now();
      const job = await this.deps.store.transactInstance((i) => i.claimJob(this.owner, now, now + this.opts.leaseMs));
      if (!job) return;
      await this.run(job);
    }
  }

  private async run(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind);
    const log = this.deps.logger.child({ job_id: job.id, kind: job.kind });
    if (!handler) {
      await this.fail(job, { code: 'internal_error', message: `No runner for jobs of kind ${job.kind}` });
      return;
    }
    if (job.attempts > this.opts.maxAttempts) {
      await this.fail(job, {
        code: 'internal_error',
        message: `Gave up after ${job.attempts - 1} interrupted runs`,
      });
      return;
    }
    let current = job;
    for (;;) {
      if (this.stopped) return;
      try {
        if ((await handler.step(current, this.lease())) === 'done') return;
      } catch (err) {
        if (err instanceof LeaseLost) return log.warn('job taken over by another runner');
        if (err instanceof ParleyError && err.status < 500) {
          await this.fail(current, { code: err.code, message: err.message });
          return;
        }
        // the database is away: the lease lapses and a runner retries the batch later
        log.warn({ err }, 'job batch failed; it will be retried');
        return;
      }
      // between batches, other requests get the event loop and the writer
      await new Promise((r) => setImmediate(r));
      const next = await this.deps.store.read(current.workspaceId, (r) => r.jobs.get(current.id));
      if (next?.state !== 'running' || next.leaseOwner !== this.owner) return;
      current = next;
    }
  }

  private async fail(job: Job, error: { code: string; message: string }): Promise<void> {
    const at = this.deps.clock.now();
    await this.deps.store.transact(job.workspaceId, (w) =>
      w.jobs.finish(job.id, this.owner, { state: 'failed', result: null, error, progress: job.progress, at }),
    );
  }
}
