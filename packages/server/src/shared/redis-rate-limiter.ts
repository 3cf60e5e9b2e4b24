import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { MemoryRateLimiter, type RateLimiter, type RateLimitResult } from '../rate-limit.js';

/**
 * Fixed epoch-aligned windows counted in Redis, on Redis's clock (TIME), so every instance sees
 * one count and reports one Reset. Same rule as MemoryRateLimiter: admitted while count < limit.
 * The bucket is in a hash tag so the key lands on one slot in a Redis Cluster.
 * Returns {allowed 0/1, count after, reset epoch seconds}.
 */
const SCRIPT = `
local t = redis.call('TIME')
local win = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local w = math.floor(tonumber(t[1]) / win)
local key = KEYS[1] .. ':' .. w
local count = tonumber(redis.call('GET', key) or '0')
local allowed = 0
if count < limit then
  allowed = 1
  if ARGV[3] == '1' then
    count = redis.call('INCR', key)
    if count == 1 then redis.call('EXPIRE', key, win + 5) end
  end
end
return {allowed, count, (w + 1) * win}
`;

export type SharedState = 'redis' | 'fallback';

export interface RedisRateLimiterOptions {
  redis: Redis;
  prefix: string;
  windowSeconds: number;
  clock: Clock;
  logger: Logger;
  /** Told on every switch between Redis and the per-instance fallback (metrics gauge). */
  onStateChange?: (state: SharedState) => void;
  /** How often to try Redis again while in fallback. */
  probeMs?: number;
}

/**
 * A RateLimiter that counts in Redis and, when Redis is down or stalls, counts per instance
 * (MemoryRateLimiter) instead: requests never fail or wait because of Redis. While in fallback a
 * background PING probes Redis and the limiter returns to it by itself.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback: MemoryRateLimiter;
  private current: SharedState = 'redis';
  private probe: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: RedisRateLimiterOptions) {
    this.fallback = new MemoryRateLimiter(o.windowSeconds, o.clock);
    o.redis.defineCommand('parleyRateHit', { numberOfKeys: 1, lua: SCRIPT });
    o.onStateChange?.('redis');
  }

  get state(): SharedState {
    return this.current;
  }

  async hit(bucket: string, limit: number, consume = true): Promise<RateLimitResult> {
    if (this.current === 'redis') {
      try {
        const cmd = (this.o.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).parleyRateHit;
        const r = (await cmd?.call(
          this.o.redis,
          `${this.o.prefix}rl:{${bucket}}`,
          this.o.windowSeconds,
          limit,
          consume ? '1' : '0',
        )) as [number, number, number];
        const [allowed, count, reset] = r;
        return { allowed: allowed === 1, limit, remaining: Math.max(0, limit - count), reset };
      } catch (err) {
        this.enterFallback(err);
      }
    }
    return this.fallback.hit(bucket, limit, consume);
  }

  private enterFallback(err: unknown): void {
    if (this.current === 'fallback' || this.closed) return;
    this.current = 'fallback';
    this.o.onStateChange?.('fallback');
    this.o.logger.warn(
      { err: (err as Error)?.message },
      'Redis unavailable: rate limits are per instance until it answers again',
    );
    this.probe = setInterval(() => this.tryRedis(), this.o.probeMs ?? 500);
    this.probe.unref();
  }

  private tryRedis(): void {
    this.o.redis.ping().then(
      () => {
        if (this.current !== 'fallback' || this.closed) return;
        if (this.probe) clearInterval(this.probe);
        this.probe = null;
        this.current = 'redis';
        this.o.onStateChange?.('redis');
        this.o.logger.info('Redis is back: rate limits are shared again');
      },
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    await this.fallback.close();
  }
}
