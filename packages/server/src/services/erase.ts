import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthContext, Conversation, Hold, Job, JsonObject } from '../domain/types.js';
import { ParleyError, validation } from '../errors.js';
import type { DeleteCounts, HeldCandidate, ReclaimReport, Store, WorkspaceReader } from '../store/types.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, type ServiceDeps } from './context.js';
import type { ExportCounts } from './export.js';
import type { JobArtifacts } from './job-artifacts.js';
import { advanceJob, enqueueJob, type JobHandler, type JobLease, jobActor, LeaseLost, requireAdmin } from './jobs.js';
import type { Traffic } from './traffic.js';
import type { UnitOfWork } from './unit-of-work.js';

// One erase path for every delete: bulk delete, purge and the trash (eraseInBatches, below) and
// erasing a user (UsersService) all remove rows through ConversationWrites.deleteMany (a single
// delete is a set of one), in transactions sized by EraseBatch.

export const DAY_MS = 86_400_000;

/**
 * How long one erase transaction may run before it commits and lets other writers in. SQLite
 * has one writer: a bulk delete or purge must never hold it for more than ~50 ms at a time.
 * Larger transactions cost less per conversation (each rewrites the index pages it touches once):
 * 40 rather than 25 took a 10 k bulk delete from 6.2 to 5.2 s on a quiet machine, its concurrent
 * GETs' p99 from 96 to 121 ms (bench/RESULTS.md).
 */
export const ERASE_BUDGET_MS = 40;

/**
 * SQLite sizes erase transactions by CPU, but a wall time over this many times the budget still
 * counts as over it (I/O waits hold the writer without using CPU): 320 ms for the 40 ms budget.
 */
export const WALL_STRETCH = 8;

/** The longest rest between two SQLite erase transactions (one that stalled for seconds). */
const REST_MAX_MS = 1000;

/**
 * A SQLite eraser's rest ends once no request has arrived or been answered for this long: the
 * clients kept waiting by the transaction have been served and sent what they had to send.
 */
export const QUIET_MS = 2;

/** What a hold may cover on a conversation. */
export function holdCandidate(c: Conversation): HeldCandidate {
  return {
    id: c.id,
    userId: c.userId,
    contactId: typeof c.context.contact_id === 'string' ? c.context.contact_id : null,
    dealId: typeof c.context.deal_id === 'string' ? c.context.deal_id : null,
    matterId: typeof c.context.matter_id === 'string' ? c.context.matter_id : null,
  };
}

/** 409 legal_hold naming each held conversation and the hold that covers it. */
export function legalHoldError(held: Array<{ id: string; hold: Hold; index?: number }>): ParleyError {
  const message =
    held.length === 1
      ? 'An active legal hold covers this conversation; release the hold to delete it'
      : `${held.length} conversations are covered by an active legal hold; nothing was deleted`;
  return new ParleyError('legal_hold', message, {
    details: held.map((h) => ({
      field: h.index === undefined ? '/id' : `/body/ids/${h.index}`,
      message: `conversation ${h.id} is held by ${h.hold.id}`,
    })),
    extra: { held: held.map((h) => ({ id: h.id, hold_id: h.hold.id })) },
  });
}

export const emptyCounts = (): DeleteCounts => ({ messages: 0, tool_invocations: 0, search_entries: 0 });

export function addCounts(into: DeleteCounts, c: DeleteCounts): void {
  into.messages += c.messages;
  into.tool_invocations += c.tool_invocations;
  into.search_entries += c.search_entries;
}

/**
 * PostgreSQL has no single writer: an erase transaction locks only the conversations it erases
 * (already out of view) and, at its very end, the workspace's counter rows. It may run longer, so
 * it pays fewer round trips per conversation.
 */
export const PG_ERASE_BUDGET_MS = 250;

/** CPU time of the calling thread, ms (the main thread: where better-sqlite3 runs SQLite). */
function threadCpuMs(): number {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
}

/**
 * How many conversations the next erase transaction takes, learnt from the last ones: a set-based
 * erase costs per row, so the batch doubles while a transaction ends well inside its budget
 * (ERASE_BUDGET_MS on SQLite, PG_ERASE_BUDGET_MS on PostgreSQL) and halves when one runs over it
 * (conversations differ in size).
 *
 * What a transaction costs is its wall time on PostgreSQL (the work is in the server's backends),
 * but on SQLite the CPU time this thread spent in it: SQLite runs in this thread, so that is the
 * time it holds the writer on a core of its own. Wall time also counts the time a loaded machine
 * kept the process off the cores, which no batch size changes; sized by it, batches fell to a few
 * conversations at load 10+, and an erase's CPU grew ~2x (each small transaction rewrites the index
 * pages it touches: 4 conversations a transaction cost 9.6 s of CPU for 10 k, 64 cost 4.0 s).
 */
export class EraseBatch {
  static readonly MIN = 1;
  static readonly MAX = 1000;
  static readonly FIRST = 16;
  /**
   * The size each store's last erase settled on, where its next eraser starts: a bulk delete, a
   * purge or a job would otherwise climb from FIRST again (six transactions for 1,000; on SQLite,
   * each 1,000-id bulk delete call paid its first small transactions again).
   */
  private static readonly settled = new WeakMap<Store, number>();
  private n: number;

  constructor(
    private readonly budgetMs: number,
    /** SQLite: rest between transactions (see `rest`). */
    private readonly yields: boolean,
    private readonly store?: Store,
    /** SQLite: the request traffic `rest` waits on (absent: a rest as long as the hold). */
    private readonly traffic?: Traffic,
  ) {
    this.n = (store && EraseBatch.settled.get(store)) ?? EraseBatch.FIRST;
  }

  static for(deps: Pick<ServiceDeps, 'store' | 'traffic'>): EraseBatch {
    return deps.store.engine === 'sqlite'
      ? new EraseBatch(ERASE_BUDGET_MS, true, deps.store, deps.traffic)
      : new EraseBatch(PG_ERASE_BUDGET_MS, false, deps.store);
  }

  get size(): number {
    return this.n;
  }

  /**
   * Whether `n` conversations may be erased inside the transaction that takes them out of view
   * (no hide, no second phase): on PostgreSQL when they fit one batch. Never on SQLite, where
   * that transaction must stay short for the one writer.
   */
  fitsOne(n: number): boolean {
    return !this.yields && n <= this.n;
  }

  private wall0 = 0;
  private cpu0 = 0;

  /** Marks the start of an erase transaction's work (call it inside the transaction, first). */
  begin(): void {
    this.wall0 = performance.now();
    this.cpu0 = threadCpuMs();
  }

  /**
   * Ends the transaction `begin` started (call it once it committed): feeds back its cost for
   * `taken` conversations, and returns how long it held the writer (wall ms, for `rest`).
   */
  end(taken: number): number {
    const held = performance.now() - this.wall0;
    this.took(held, taken, threadCpuMs() - this.cpu0);
    return held;
  }

  /**
   * Feeds back what a transaction of `taken` conversations cost: `ms` of wall time holding the
   * writer, `cpuMs` of this thread's CPU (SQLite's measure, when given).
   */
  took(ms: number, taken: number, cpuMs?: number): void {
    // a wall time far past the budget counts even when the CPU was small: the transaction waited
    // on I/O (a checkpoint, a loaded disk) while holding the writer
    const cost = this.yields && cpuMs !== undefined ? Math.max(cpuMs, ms / WALL_STRETCH) : ms;
    if (cost > this.budgetMs) this.n = Math.max(EraseBatch.MIN, Math.floor(Math.min(this.n, taken) / 2));
    else if (cost < this.budgetMs / 2 && taken >= this.n) this.n = Math.min(EraseBatch.MAX, this.n * 2);
    if (this.store) EraseBatch.settled.set(this.store, this.n);
  }

  /**
   * Between two erase transactions. PostgreSQL's queries do not hold the event loop: one turn.
   *
   * On SQLite the transaction held the event loop (better-sqlite3 runs in this thread) and the
   * writer for `heldMs`; the requests that came meanwhile wait in their sockets. One turn of the
   * event loop is not enough for them: a client on a keep-alive connection gets one request answered
   * per turn, so with transactions back to back a few busy connections were served once per
   * transaction, far below their rate, and queued for seconds behind a long erase. So the eraser
   * rests until the requests are served and their clients have caught up — until no request has
   * arrived or been answered for QUIET_MS — and never longer than the hold itself: under traffic
   * that never pauses the requests still get half of the time, however long the transactions take
   * (on a loaded machine a transaction's wall time is several times its CPU). Without a view of
   * the traffic (tools that serve no HTTP) it rests as long as the hold.
   */
  async rest(heldMs: number): Promise<void> {
    if (!this.yields) return new Promise((r) => setImmediate(r));
    const cap = Math.max(1, Math.min(REST_MAX_MS, heldMs));
    if (!this.traffic) return void (await sleep(cap));
    const t0 = performance.now();
    // first a timer: the event loop polls the sockets, so the requests that arrived during the
    // transaction are read (and mark the traffic) before it is looked at
    await sleep(1);
    for (;;) {
      const left = cap - (performance.now() - t0);
      const idle = this.traffic.idleMs();
      if (left <= 0 || idle >= QUIET_MS) return;
      await sleep(Math.max(1, Math.min(left, QUIET_MS - idle)));
    }
  }
}

/**
 * Erases conversations already out of view in short transactions (a set-based `deleteMany` of an
 * EraseBatch each, near ERASE_BUDGET_MS), yielding between them so other requests run. Each
 * conversation goes whole in one transaction: after a crash every one is either erased or still
 * marked, and the purge sweep finishes the marked ones.
 */
export async function eraseInBatches(
  uow: UnitOfWork,
  workspaceId: string,
  ids: readonly string[],
  batch: EraseBatch,
): Promise<{ erased: number; counts: DeleteCounts }> {
  const counts = emptyCounts();
  let erased = 0;
  // in id order (ids are ULIDs: creation order), so each transaction takes neighbours in the
  // indexes keyed by id or time and rewrites fewer of their pages than a scattered set would
  const ordered = [...ids].sort();
  for (let next = 0; next < ordered.length; ) {
    const part = ordered.slice(next, next + batch.size);
    const done = await uow.write(workspaceId, ({ w }) => {
      batch.begin();
      return w.conversations.deleteMany(part);
    });
    // from the transaction's first statement to its commit: the time the writer was held
    const held = batch.end(part.length);
    next += part.length;
    erased += done.conversations.length;
    addCounts(counts, done.rows);
    await batch.rest(held);
  }
  return { erased, counts };
}

// ---- erasing a user: a job of short batches ----------------------------------------------

/** The tables an erasure deletes from (and, on PostgreSQL, VACUUMs at its end). */
export const ERASED_TABLES = [
  'conversations',
  'messages',
  'tool_invocations',
  'conversation_events',
  'idempotency_records',
] as const;

const USER_ID_MAX = 128;
/** VACUUMs again (200 ms, 400 ms, … apart) while an open transaction keeps dead rows. */
const RECLAIM_RETRIES = 5;
/** Held conversations named in a refusal (the count is always whole). */
const HELD_SHOWN = 20;

/**
 * Writes a JSONL export of a user's conversations in view (the format of `GET /v1/export`) piece by
 * piece to `write`, audited as an export by `auth`; the counts of its end record.
 */
export type UserExporter = (
  auth: AuthContext,
  userId: string,
  exportedAt: string,
  write: (piece: Uint8Array) => Promise<void>,
) => Promise<ExportCounts>;

export interface EraseSettings {
  batchSize: number;
  /** PostgreSQL: plain VACUUM, VACUUM FULL, or none at the end of the job. */
  vacuum: 'plain' | 'full' | 'off';
  /** Where `export_first` files go, and what writes them. */
  artifacts: JobArtifacts;
  exportUser: UserExporter;
}

/**
 * The erase job's cursor: where the scan is. What it erased (the ids, for the receipt) is in the
 * job's items, appended by each batch (a job started by a version that kept the ids here, in
 * `erased`, still has those read from it).
 */
interface EraseCursor extends JsonObject {
  phase: 'export' | 'erase' | 'reclaim';
  after: string | null;
  /** With export_first, once written: what the receipt says of the export file. */
  export: JsonObject | null;
}

/** The path an erase job's export file is downloaded from. */
export const exportPath = (jobId: string) => `/v1/jobs/${jobId}/export`;

/**
 * The holds that stop erasing `userId`: a hold on the user, or on any of their conversations
 * (directly or through a context id). Every conversation of the user is looked at.
 */
async function holdsOnUser(
  r: WorkspaceReader,
  userId: string,
  batch: number,
): Promise<{ user: Hold[]; held: Map<string, Hold> }> {
  const user = await r.holds.activeFor('user', userId);
  const held = new Map<string, Hold>();
  let after: string | undefined;
  for (;;) {
    const page = await r.lifecycle.subjects({ userId, afterId: after, limit: batch });
    for (const [id, h] of await r.holds.heldAmong(page)) held.set(id, h);
    if (page.length < batch) break;
    after = page[page.length - 1]?.id;
  }
  return { user, held };
}

function refuseHeld(userId: string, user: Hold[], held: Map<string, Hold>): ParleyError {
  const ids = [...held.keys()];
  const message =
    user.length > 0
      ? `User ${userId} is under a legal hold; nothing was erased`
      : `${ids.length} of user ${userId}'s conversation(s) are under a legal hold; nothing was erased`;
  return new ParleyError('legal_hold', message, {
    details: [
      ...(user.length > 0 ? [{ field: '/user_id', message: 'held' }] : []),
      ...ids.slice(0, HELD_SHOWN).map((id) => ({ field: `/conversations/${id}`, message: 'held' })),
    ],
    extra: { held_conversations: ids.length },
  });
}

/**
 * Erasing a user: every conversation of theirs, with everything derived from it, through the
 * same permanent delete a single DELETE uses (never the trash), in a job of short batches.
 */
export class UsersService implements JobHandler {
  readonly kind = 'user.erase' as const;

  constructor(
    private readonly deps: ServiceDeps & { store: Store },
    private readonly uow: UnitOfWork,
    private readonly settings: EraseSettings,
    private readonly onQueued: () => void = () => {},
  ) {}

  /** Each running job's batch size, learnt from its own transactions (EraseBatch). */
  private readonly batches = new Map<string, EraseBatch>();

  private batchOf(jobId: string): EraseBatch {
    let b = this.batches.get(jobId);
    if (!b) {
      b = EraseBatch.for(this.deps);
      this.batches.set(jobId, b);
    }
    return b;
  }

  /**
   * Queues the erasure of `userId` (202 with the job). Refused up front with 409 legal_hold when
   * the user or any of their conversations is held; an erasure of the user already queued or
   * running is answered instead of a second one.
   */
  async erase(
    auth: AuthContext,
    userId: string,
    opts: { exportFirst?: boolean | undefined } = {},
    inTx?: InTransaction<Job>,
  ): Promise<Job> {
    requireAdmin(auth);
    if (userId.length === 0 || userId.length > USER_ID_MAX) {
      throw validation('/params/user_id', `user_id must be 1 to ${USER_ID_MAX} characters`);
    }
    const job = await this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const { user, held } = await holdsOnUser(w, userId, 1000);
        if (user.length > 0 || held.size > 0) throw refuseHeld(userId, user, held);
        const pending = (await w.jobs.unfinished(this.kind, 1000)).find((j) => j.params.user_id === userId);
        if (pending) return pending;
        const now = this.deps.clock.now();
        return enqueueJob(w, {
          kind: this.kind,
          params: opts.exportFirst ? { user_id: userId, export_first: true } : { user_id: userId },
          total: await w.lifecycle.countOfUser(userId),
          createdBy: actorKeyId(auth),
          at: now,
        });
      },
      inTx,
    );
    this.onQueued();
    return job;
  }

  async step(job: Job, lease: JobLease): Promise<'more' | 'done'> {
    const userId = String(job.params.user_id);
    const cursor = (job.cursor as EraseCursor | null) ?? {
      phase: job.params.export_first === true ? 'export' : 'erase',
      after: null,
      export: null,
    };
    if (cursor.phase === 'export') {
      await this.exportFirst(job, lease, userId);
      return 'more';
    }
    if (cursor.phase === 'erase') {
      const size = this.batchOf(job.id);
      const limit = Math.min(this.settings.batchSize, size.size);
      let taken = 0;
      await this.uow.write(job.workspaceId, async ({ w, announce }) => {
        size.begin();
        const now = this.deps.clock.now();
        const batch = await w.lifecycle.subjects({ userId, afterId: cursor.after ?? undefined, limit });
        taken = batch.length;
        // a hold placed after the request was accepted stops the job here: nothing of it is skipped silently
        const user = await w.holds.activeFor('user', userId);
        const held = await w.holds.heldAmong(batch);
        if (user.length > 0 || held.size > 0) throw refuseHeld(userId, user, held);
        const counts = { ...job.progress.counts };
        const add = (k: string, n: number) => {
          counts[k] = (counts[k] ?? 0) + n;
        };
        // those still in view have live streams to end (one out of view has none left: they ended
        // when it left); then the whole batch is erased at once, in the trash or not
        const ids = batch.map((c) => c.id);
        const live = await w.conversations.getMany(ids);
        const removed = await w.conversations.deleteMany(ids);
        add('conversations', removed.conversations.length);
        add('messages', removed.rows.messages);
        add('tool_invocations', removed.rows.tool_invocations);
        add('search_entries', removed.rows.search_entries);
        add('events', removed.rows.events);
        add('stored_answers', removed.rows.stored_answers);
        await w.jobs.addItems(
          job.id,
          removed.conversations.map((c) => c.id),
        );
        for (const { conversation: c, eventSeq } of live) {
          // the deleted event ends the conversation's live streams on every instance
          announce({
            workspaceId: job.workspaceId,
            conversationId: c.id,
            seq: eventSeq + 1,
            type: 'conversation.deleted',
            payload: JSON.stringify({ id: c.id }),
            createdAt: now,
          });
        }
        const last = batch[batch.length - 1];
        const next: EraseCursor =
          batch.length < limit
            ? { ...cursor, phase: 'reclaim', after: null }
            : { ...cursor, phase: 'erase', after: last?.id ?? cursor.after };
        const done = counts.conversations ?? 0;
        const progress = { done, total: Math.max(job.progress.total ?? 0, done), counts };
        await advanceJob(w, job, lease, next, progress, now);
      });
      const held = size.end(taken);
      await size.rest(held);
      return 'more';
    }
    this.batches.delete(job.id);
    // the rows are gone; now the space they held (outside any transaction), then the receipt
    // SQLite's checkpoint is cheap and always runs; PARLEY_ERASE_VACUUM=off skips PostgreSQL's VACUUM
    // dead rows an open transaction still sees are kept by VACUUM: retried a few times, then
    // reported in the receipt (they go at the next VACUUM once that transaction ends)
    let reclaimed: ReclaimReport = { method: 'none', tables: [], deadRowsKept: 0 };
    if (this.settings.vacuum !== 'off' || this.deps.store.engine === 'sqlite') {
      for (let attempt = 0; ; attempt++) {
        reclaimed = await this.deps.store.reclaim(ERASED_TABLES, this.settings.vacuum === 'full' ? 'full' : 'plain');
        if (reclaimed.deadRowsKept === 0 || attempt >= RECLAIM_RETRIES) break;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
    await this.uow.write(job.workspaceId, async ({ w, notify }) => {
      const now = this.deps.clock.now();
      const counts = job.progress.counts;
      const receipt: JsonObject = {
        user_id: userId,
        counts,
        conversation_ids: [...(Array.isArray(cursor.erased) ? cursor.erased : []), ...(await w.jobs.items(job.id))],
        ...(cursor.export ? { export: cursor.export } : {}),
        started_at: new Date(job.startedAt ?? job.createdAt).toISOString(),
        finished_at: new Date(now).toISOString(),
        storage: { method: reclaimed.method, tables: reclaimed.tables, dead_rows_kept: reclaimed.deadRowsKept },
      };
      await recordAudit(w, {
        actor: job.createdBy,
        action: 'user.erased',
        targetType: 'user',
        targetId: userId,
        counts,
        details: { job_id: job.id, ...receipt },
        at: now,
      });
      // downstream copies learn which conversations went (ids and counts, never content)
      await notify('user.erased', { job_id: job.id, ...receipt });
      const ok = await w.jobs.finish(job.id, lease.owner, {
        state: 'succeeded',
        result: { receipt },
        error: null,
        progress: job.progress,
        at: now,
      });
      if (!ok) throw new LeaseLost();
      // the receipt holds them now
      await w.jobs.dropItems(job.id);
    });
    return 'done';
  }

  /**
   * The export before the erasure: the user's conversations in view, as JSONL, into the job's
   * artifact file (written whole or not at all; a crash writes it again from the start), then the
   * cursor moves on to the erase in the same transaction that records what was written. Run
   * outside any transaction, as the job's creator (the export is audited as theirs).
   */
  private async exportFirst(job: Job, lease: JobLease, userId: string): Promise<void> {
    const auth = jobActor(job);
    const exportedAt = this.deps.clock.now();
    const written = await this.settings.artifacts.write(job.workspaceId, job.id, (write) =>
      this.settings.exportUser(auth, userId, new Date(exportedAt).toISOString(), write),
    );
    await this.uow.write(job.workspaceId, async ({ w }) => {
      const now = this.deps.clock.now();
      const exported: JsonObject = {
        format: 'jsonl',
        ...written.value,
        bytes: written.bytes,
        sha256: written.sha256,
        exported_at: new Date(exportedAt).toISOString(),
        expires_at: new Date(exportedAt + this.settings.artifacts.ttlMs).toISOString(),
        download: exportPath(job.id),
      };
      const counts = { ...job.progress.counts, exported_conversations: written.value.conversations };
      await advanceJob(
        w,
        job,
        lease,
        { phase: 'erase', after: null, export: exported } satisfies EraseCursor,
        { ...job.progress, counts },
        now,
      );
    });
  }
}
