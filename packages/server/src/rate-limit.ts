import type { Clock } from './clock.js';

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix epoch seconds when the current window ends. */
  reset: number;
}

/**
 * Fixed windows aligned to the epoch: every instance computes the same Reset for a key, and a
 * shared implementation (Redis) only has to count. `consume: false` reads without counting.
 */
export interface RateLimiter {
  hit(bucket: string, limit: number, consume?: boolean): Promise<RateLimitResult>;
  close(): Promise<void>;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { window: number; count: number }>();
  private lastSweep = 0;

  constructor(
    private readonly windowSeconds: number,
    private readonly clock: Clock,
  ) {}

  async hit(bucket: string, limit: number, consume = true): Promise<RateLimitResult> {
    const nowSec = this.clock.now() / 1000;
    const window = Math.floor(nowSec / this.windowSeconds);
    const reset = (window + 1) * this.windowSeconds;
    if (window !== this.lastSweep) this.sweep(window);
    let entry = this.windows.get(bucket);
    if (!entry || entry.window !== window) {
      entry = { window, count: 0 };
      this.windows.set(bucket, entry);
    }
    const allowed = entry.count < limit;
    if (allowed && consume) entry.count++;
    return { allowed, limit, remaining: Math.max(0, limit - entry.count), reset };
  }

  /** Drops counters of past windows so memory stays bounded by active callers. */
  private sweep(window: number): void {
    this.lastSweep = window;
    for (const [k, v] of this.windows) if (v.window < window) this.windows.delete(k);
  }

  async close(): Promise<void> {}
}
