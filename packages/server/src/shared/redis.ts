import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis settings for shared state that must never hold a request: commands fail fast when the
 * connection is down (no offline queue piling up) and time out when Redis stalls (SIGSTOP, a
 * network black hole); the client keeps reconnecting in the background.
 */
export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, timeoutMs * 4),
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: true,
  };
}

export function createRedis(url: string, timeoutMs: number, overrides: RedisOptions = {}): Redis {
  const redis = new Redis(url, { ...redisOptions(timeoutMs), ...overrides });
  // errors surface on the commands that hit them; without a listener ioredis would print them all
  redis.on('error', () => undefined);
  return redis;
}

/** Boot check: a wrong or unreachable PARLEY_REDIS_URL stops the start with one clear line. */
export async function checkRedis(url: string, timeoutMs: number): Promise<void> {
  const redis = new Redis(url, {
    ...redisOptions(Math.max(timeoutMs, 2000)),
    retryStrategy: () => null,
  });
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    const e = (lastError ?? err) as { message?: string; code?: string };
    let where = 'Redis';
    try {
      const u = new URL(url);
      where = `Redis at ${u.hostname}:${u.port || '6379'}`;
    } catch {
      // keep it generic; the URL may carry a password
    }
    throw new Error(`cannot use ${where}: ${e.message || e.code || String(err)}`);
  } finally {
    redis.disconnect();
  }
}
