import { performance } from 'node:perf_hooks';

/**
 * When this instance's HTTP layer last saw a request arrive or its answer go out. Background
 * writers on SQLite's one writer (erase batches: bulk delete, purge, erasing a user) run on the
 * event loop that serves requests; between two of their transactions they rest while requests are
 * being served (services/erase.ts, EraseBatch.rest), and no longer than that: a rest of a fixed
 * length paid its whole length even with nobody waiting.
 */
export class Traffic {
  private last = performance.now();

  /** A request arrived or was answered (the HTTP layer's hooks). */
  touch(): void {
    this.last = performance.now();
  }

  /** Milliseconds since a request last arrived or was answered. */
  idleMs(): number {
    return performance.now() - this.last;
  }
}
