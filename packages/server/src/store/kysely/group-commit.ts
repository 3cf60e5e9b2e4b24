import { ParleyError } from '../../errors.js';

/**
 * How writes are grouped: at most `maxWrites` writes in one transaction, which stays open for at
 * most `windowMs` after its BEGIN (it commits sooner when no write is waiting). 1 / 0 turn it off.
 */
export interface GroupCommitSettings {
  maxWrites: number;
  windowMs: number;
}

export const GROUP_COMMIT_OFF: GroupCommitSettings = { maxWrites: 1, windowMs: 0 };

export function groupCommitOn(s: GroupCommitSettings | undefined): s is GroupCommitSettings {
  return s !== undefined && s.maxWrites > 1 && s.windowMs > 0;
}

/** What an engine gives a group: one transaction on one connection, and savepoints in it. */
export interface GroupTransaction<C> {
  /** BEGIN, body, COMMIT on one connection; rolls back and throws when any of them fails. */
  run(body: (conn: C) => Promise<void>): Promise<void>;
  savepoint(conn: C): Promise<void>;
  release(conn: C): Promise<void>;
  /** Undoes the write since its savepoint; throws when the whole transaction is gone. */
  rollbackTo(conn: C): Promise<void>;
  /** A failure worth running the write again in a later group (after its savepoint is undone). */
  retryable?(err: unknown): boolean;
}

interface Pending<C> {
  fn: (conn: C) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  attempts: number;
  ok?: boolean;
  result?: unknown;
  error?: unknown;
}

const lost = (cause: unknown) =>
  new ParleyError('service_unavailable', 'The write could not be committed; retry shortly', { retryAfter: 1, cause });

/**
 * Group commit. Writes that arrive while a transaction is running (or in the same turn of the
 * event loop) run together in the next one: BEGIN, then each write inside its own SAVEPOINT
 * (released when it succeeds, rolled back to when it throws, so it fails alone), then one COMMIT.
 * Every write's promise settles only after that COMMIT, in the order the writes ran, so nothing
 * is acknowledged before it is durable, and events published after it keep their order. When
 * the transaction itself is lost (BEGIN, COMMIT or a rollback failed), every write of the group
 * fails: those that had succeeded with 503 (nothing of them was kept), the one that broke it
 * with its own error.
 */
export class GroupCommitter<C> {
  /** Waiting writes per partition (a workspace on PostgreSQL; one for all on SQLite). */
  private readonly queues = new Map<string, Array<Pending<C>>>();
  /** Partitions with a group running: at most one each, so two groups never wait on each other's rows. */
  private readonly busy = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly tx: GroupTransaction<C>,
    /** Groups that may run at once, over all partitions (1 on SQLite: one writer). */
    private readonly concurrency: number,
    /** Told the size of each committed group. */
    private readonly observe: (size: number) => void,
  ) {}

  run<T>(partition: string, fn: (conn: C) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let queue = this.queues.get(partition);
      if (queue === undefined) {
        queue = [];
        this.queues.set(partition, queue);
      }
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, attempts: 0 });
      this.kick();
    });
  }

  /** Starts groups on the next turn of the event loop, so that writes arriving in this one join them. */
  private kick(): void {
    if (this.scheduled || this.busy.size >= this.concurrency || this.queues.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const [partition, queue] of this.queues) {
        if (this.busy.size >= this.concurrency) break;
        if (this.busy.has(partition)) continue;
        this.busy.add(partition);
        void this.group(queue).finally(() => {
          this.busy.delete(partition);
          if (queue.length === 0 && this.queues.get(partition) === queue) this.queues.delete(partition);
          this.kick();
        });
      }
    });
  }

  private async group(queue: Array<Pending<C>>): Promise<void> {
    const members: Array<Pending<C>> = [];
    try {
      await this.tx.run(async (conn) => {
        const opened = performance.now();
        while (queue.length > 0 && members.length < this.settings.maxWrites) {
          if (members.length > 0 && performance.now() - opened >= this.settings.windowMs) break;
          const p = queue.shift() as Pending<C>;
          members.push(p);
          await this.tx.savepoint(conn);
          try {
            p.result = await p.fn(conn);
            p.ok = true;
            await this.tx.release(conn);
          } catch (err) {
            p.ok = false;
            p.error = err;
            await this.tx.rollbackTo(conn); // throws when the transaction is gone: the group fails
            if (this.tx.retryable?.(err) && p.attempts < 3) {
              // undone; runs again in a later group (a transaction elsewhere held what it needed)
              p.attempts++;
              members.pop();
              queue.push(p);
              break;
            }
          }
        }
      });
    } catch (err) {
      // an error the engine already mapped (a full disk: 507; busy / unavailable: 503) says why
      // nothing of the group was kept, so every write gets it; anything else is a lost commit
      const shared = err instanceof ParleyError ? err : lost(err);
      // the transaction could not even begin (a closed or unreachable database): the waiting
      // writes fail as a single write would, instead of being offered to the next group for ever
      if (members.length === 0) members.push(...queue.splice(0, this.settings.maxWrites));
      for (const p of members) p.reject(p.ok === false ? p.error : shared);
      return;
    }
    this.observe(members.length);
    for (const p of members) {
      if (p.ok) p.resolve(p.result);
      else p.reject(p.error);
    }
  }
}
