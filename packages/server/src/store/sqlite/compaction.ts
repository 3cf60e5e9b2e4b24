import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The background full-text compaction (SQLite). Both FTS5 tables are contentless with
 * contentless_delete: removing a row only adds a tombstone (its rowid) to the segment that holds
 * it, and the row's postings — its terms — stay in that segment until the segment is merged.
 * Migration 12 stopped deletes from triggering those merges inside the deleting transaction
 * (`deletemerge` = 0), so this does them afterwards: once erasures have been quiet for `quietMs`,
 * it runs FTS5's `merge` command with a negative page count (every segment is eligible, even
 * alone) in slices of one short write transaction each, resting between them, until no segment
 * of either table carries a tombstone. Then the deleted rows' postings, and terms that only they
 * held, are gone from the index. A new erasure pauses it (it waits for quiet again).
 *
 * Stateless: FTS5 keeps the merge's progress in the index itself, so after a restart the
 * compaction just looks for tombstones again (`start` schedules a first look).
 */

/** Tombstone pages live at rowid (segid + 2^16) << 37 of `<table>_data`; every segment page below 2^53. */
const TOMBSTONE_ROWID_MIN = '9007199254740992';

/** A slice whose wall time is over this many times the budget counts as over it, whatever its CPU (as EraseBatch). */
const WALL_STRETCH = 8;

/** The longest rest after a slice (one that stalled for seconds). */
const REST_MAX_MS = 1000;

/** CPU time of the calling thread, ms. */
function threadCpuMs(): number {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
}

export const FTS_TABLES = ['message_idx', 'title_idx'] as const;

export interface CompactionEvent {
  /** `slice`: one transaction of merge work; `done`: a run found no tombstone left; `failed`. */
  kind: 'slice' | 'done' | 'failed';
  /** The slice's time holding the writer; for `done`, the run's wall time. */
  ms: number;
  /** Pages asked of FTS5 per table in that slice (the slice size). */
  pages?: number;
  /** For `done`: slices the run took. */
  slices?: number;
  error?: unknown;
}

export interface CompactionSettings {
  /** Erasures must have been quiet this long before a slice runs. */
  quietMs: number;
  /** A slice should hold the writer about this long (the erase budget). */
  budgetMs: number;
  /**
   * A run starts at least this long after the previous one ended: each run rewrites the segments
   * holding tombstones (on a large index, most of it), so erasures are gathered for a while
   * rather than compacted one burst at a time. The first run after a start is not held back.
   */
  intervalMs: number;
}

export const COMPACTION_DEFAULTS: CompactionSettings = { quietMs: 1000, budgetMs: 25, intervalMs: 600_000 };

type Tx = <T>(fn: (db: Kysely<Database>) => Promise<T>) => Promise<T>;

export class FullTextCompaction {
  private lastRemovalAt = 0;
  /** When the last run ended (performance.now()); none yet: the first run is not held back. */
  private lastDoneAt = Number.NEGATIVE_INFINITY;
  private started = false;
  private closed = false;
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** FTS5 pages merged per table per slice, learnt like EraseBatch (by CPU): doubles under half the budget, halves over it. */
  private pages = 16;
  private observers: Array<(e: CompactionEvent) => void> = [];
  /** Slices run since this store opened (tests, metrics). */
  slices = 0;

  constructor(
    private readonly tx: Tx,
    private readonly settings: CompactionSettings = COMPACTION_DEFAULTS,
  ) {}

  observe(fn: (e: CompactionEvent) => void): void {
    this.observers.push(fn);
  }

  /** Called by the search index whenever a removal left a tombstone (in a transaction that may yet roll back: harmless). */
  noteRemoval(): void {
    this.lastRemovalAt = performance.now();
    if (this.started) this.schedule();
  }

  /** Begins compacting in the background (the server; not tests that drive `runNow`, nor CLI commands). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.schedule();
  }

  get active(): boolean {
    return this.running !== null;
  }

  /** Compacts now, without waiting for quiet, until no tombstone is left; joins a run under way. */
  async runNow(): Promise<void> {
    if (this.running) await this.running;
    this.running = this.run(false).finally(() => {
      this.running = null;
    });
    await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // a slice under way commits; the loop stops at its next check
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.closed || this.running || this.timer) return;
    const wait = Math.max(this.settings.quietMs, this.lastDoneAt + this.settings.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed || this.running) return;
      this.running = this.run(true)
        .catch((error) => this.emit({ kind: 'failed', ms: 0, error }))
        .finally(() => {
          this.running = null;
        });
    }, wait);
    this.timer.unref();
  }

  private emit(e: CompactionEvent): void {
    for (const fn of this.observers) fn(e);
  }

  private async run(waitForQuiet: boolean): Promise<void> {
    const t0 = performance.now();
    let slices = 0;
    while (!this.closed) {
      if (waitForQuiet) {
        const since = performance.now() - this.lastRemovalAt;
        if (since < this.settings.quietMs) {
          await sleep(this.settings.quietMs - since);
          continue;
        }
      }
      let began = 0;
      let cpu0 = 0;
      const pages = this.pages;
      const worked = await this.tx(async (db) => {
        began = performance.now();
        cpu0 = threadCpuMs();
        let any = false;
        for (const table of FTS_TABLES) {
          if (!(await hasTombstones(db, table))) continue;
          any = true;
          await sql`INSERT INTO ${sql.table(table)} (${sql.raw(table)}, rank) VALUES ('merge', ${-pages})`.execute(db);
        }
        return any;
      });
      const held = performance.now() - began;
      // sized by the CPU the slice took (SQLite runs in this thread), as EraseBatch does: wall time
      // also counts the time a loaded machine kept the process off the cores
      // (a wall time over WALL_STRETCH times the budget counts too: I/O waits hold the writer)
      const cost = Math.max(threadCpuMs() - cpu0, held / WALL_STRETCH);
      if (!worked) break;
      slices++;
      this.slices++;
      if (cost > this.settings.budgetMs) this.pages = Math.max(1, Math.floor(pages / 2));
      else if (cost < this.settings.budgetMs / 2) this.pages = Math.min(4096, pages * 2);
      this.emit({ kind: 'slice', ms: held, pages });
      // background work: at most half of the writer's time (rest as long as the slice held it)
      await sleep(Math.max(2, Math.min(REST_MAX_MS, held)));
    }
    // a run that found nothing to merge does not hold the next one back
    if (slices > 0) this.lastDoneAt = performance.now();
    if (!this.closed) this.emit({ kind: 'done', ms: performance.now() - t0, slices });
  }
}

/** Whether any segment of the table carries tombstones (deleted rows whose postings it still holds). */
export async function hasTombstones(db: Kysely<Database>, table: (typeof FTS_TABLES)[number]): Promise<boolean> {
  const r = await sql<{ e: number }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(`${table}_data`)}
    WHERE id >= ${sql.raw(TOMBSTONE_ROWID_MIN)}) AS e`.execute(db);
  return r.rows[0]?.e === 1;
}
