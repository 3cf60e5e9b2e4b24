import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ParleyError } from '../errors.js';

/**
 * Live connections per conversation, counted across instances. DELETE trusts `count`, so
 * `count` throws (service_unavailable) rather than guess when it cannot know.
 */
export interface Presence {
  /** Registers a connection; throws service_unavailable when shared presence is unreachable. */
  add(workspaceId: string, conversationId: string, connectionId: string): Promise<void>;
  /** Never throws: a lease that cannot be removed expires by itself. */
  remove(workspaceId: string, conversationId: string, connectionId: string): Promise<void>;
  count(workspaceId: string, conversationId: string): Promise<number>;
  /** The count without waiting, where it is an in-process read; undefined where it is not. */
  countNow?(workspaceId: string, conversationId: string): number;
  close(): Promise<void>;
}

const key = (w: string, c: string) => `${w}\u0000${c}`;

/** One instance, no Redis: the count is this process's own. */
export class MemoryPresence implements Presence {
  private readonly live = new Map<string, Set<string>>();
  async add(w: string, c: string, id: string): Promise<void> {
    const k = key(w, c);
    let set = this.live.get(k);
    if (!set) {
      set = new Set();
      this.live.set(k, set);
    }
    set.add(id);
  }
  async remove(w: string, c: string, id: string): Promise<void> {
    const k = key(w, c);
    const set = this.live.get(k);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.live.delete(k);
  }
  async count(w: string, c: string): Promise<number> {
    return this.countNow(w, c);
  }
  countNow(w: string, c: string): number {
    return this.live.get(key(w, c))?.size ?? 0;
  }
  async close(): Promise<void> {}
}

// Scores are lease expiries on Redis's own clock (TIME), so instance clocks never matter.
const LEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + lease, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], lease)
return 1`;
const COUNT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

/**
 * Redis presence: one sorted set per conversation, a member per connection
 * (`instance/connection`) scored with its lease expiry. Each instance renews the leases of its
 * own connections every lease/3; a SIGKILLed instance stops renewing, so its connections stop
 * counting at most `leaseMs` after its last renewal (default 30 s, configurable up to 45 s).
 */
export class RedisPresence implements Presence {
  private readonly mine = new Map<string, { w: string; c: string; ids: Set<string> }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(1000, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  private redisKey(w: string, c: string): string {
    return `${this.prefix}presence:{${w}:${c}}`;
  }

  private member(id: string): string {
    return `${this.instanceId}/${id}`;
  }

  async add(w: string, c: string, id: string): Promise<void> {
    const k = key(w, c);
    let entry = this.mine.get(k);
    if (!entry) {
      entry = { w, c, ids: new Set() };
      this.mine.set(k, entry);
    }
    entry.ids.add(id);
    try {
      await this.redis.eval(LEASE_SCRIPT, 1, this.redisKey(w, c), this.leaseMs, this.member(id));
    } catch (err) {
      entry.ids.delete(id);
      if (entry.ids.size === 0) this.mine.delete(k);
      throw unavailable(err);
    }
  }

  async remove(w: string, c: string, id: string): Promise<void> {
    const k = key(w, c);
    const entry = this.mine.get(k);
    if (entry) {
      entry.ids.delete(id);
      if (entry.ids.size === 0) this.mine.delete(k);
    }
    await this.redis.zrem(this.redisKey(w, c), this.member(id)).catch((err: unknown) => {
      this.log.warn({ err }, 'presence lease not removed; it expires by itself');
    });
  }

  async count(w: string, c: string): Promise<number> {
    try {
      return Number(await this.redis.eval(COUNT_SCRIPT, 1, this.redisKey(w, c)));
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async renew(): Promise<void> {
    for (const { w, c, ids } of this.mine.values()) {
      const members = [...ids].map((id) => this.member(id));
      if (members.length === 0) continue;
      await this.redis.eval(LEASE_SCRIPT, 1, this.redisKey(w, c), this.leaseMs, ...members).catch((err: unknown) => {
        this.log.warn({ err }, 'presence lease renewal failed');
      });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}

function unavailable(err: unknown): ParleyError {
  return new ParleyError('service_unavailable', 'Live-connection presence (Redis) is unavailable; retry shortly', {
    retryAfter: 1,
    cause: err,
  });
}
