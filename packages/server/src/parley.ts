import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import type { App } from './http/types.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.js';
import { Realtime } from './realtime/index.js';
import { AuditService } from './services/audit.js';
import { CompatService } from './services/compat.js';
import { ConversationsService } from './services/conversations.js';
import { CursorCodec } from './services/cursor.js';
import { EventsService } from './services/events.js';
import { IdempotencyService } from './services/idempotency.js';
import { KeysService } from './services/keys.js';
import { MessagesService } from './services/messages.js';
import { ToolInvocationsService } from './services/tool-invocations.js';
import { UnitOfWork } from './services/unit-of-work.js';
import { type CreatedWorkspace, WorkspacesService } from './services/workspaces.js';
import { checkRedis, createRedis } from './shared/redis.js';
import { RedisRateLimiter } from './shared/redis-rate-limiter.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export interface ParleyOptions {
  clock?: Clock;
  logger?: Logger;
}

export interface Parley {
  readonly config: Config;
  readonly app: App;
  readonly store: Store;
  readonly clock: Clock;
  readonly keys: KeysService;
  readonly workspaces: WorkspacesService;
  readonly conversations: ConversationsService;
  readonly messages: MessagesService;
  readonly toolInvocations: ToolInvocationsService;
  readonly compat: CompatService;
  readonly realtime: Realtime;
  /** Set by the very first start() only: the default workspace and its instance admin key. */
  readonly bootstrapped: CreatedWorkspace | null;
  /** Listens on config.host:config.port, then bootstraps an empty database; returns the address. */
  start(): Promise<string>;
  close(): Promise<void>;
}

/** Builds store -> services -> HTTP, in that order; close() takes them down in reverse. */
export async function createParley(config: Config, opts: ParleyOptions = {}): Promise<Parley> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config);
  // an unreachable Redis stops the start (once running, Redis trouble only means fallback)
  if (config.redisUrl !== null) await checkRedis(config.redisUrl, config.redisTimeoutMs);
  const store = await openStore(config);
  let redis: ReturnType<typeof createRedis> | null = null;
  let realtime: Realtime | undefined;
  try {
    await store.transactInstance((i) => i.setMetaIfAbsent('cursor_secret', randomBytes(32).toString('hex')));
    const cursorSecret = await store.instance.getMeta('cursor_secret');
    if (cursorSecret === null) throw new Error('cursor secret missing after creation');
    const deps = { store, clock };
    if (config.redisUrl !== null) {
      // the instance's one command connection: rate limits, presence and PUBLISH share it
      redis = createRedis(config.redisUrl, config.redisTimeoutMs);
      await redis.connect().catch(() => undefined); // checked above; a blip now just means fallback
    }
    realtime = await Realtime.create(config, { store, clock, logger, redis });
    const rt0 = realtime;
    const keys = new KeysService(deps);
    const cursors = new CursorCodec(cursorSecret);
    const workspaces = new WorkspacesService(deps, keys, cursors);
    // every write of conversations, messages and tool steps goes through one unit of work
    const uow = new UnitOfWork(store, realtime.hub);
    const conversations = new ConversationsService(deps, uow, cursors);
    const messages = new MessagesService(deps, uow, cursors);
    const toolInvocations = new ToolInvocationsService(deps, uow, cursors);
    const audit = new AuditService(deps, cursors);
    const events = new EventsService(deps);
    const compat = new CompatService(deps, uow);
    realtime.bind(events, conversations);
    const idempotency = new IdempotencyService(deps, config.idempotencyTtlSeconds * 1000);
    const metrics = createMetrics({
      liveStreams: () => rt0.liveHere,
      presenceUp: async () => ((await rt0.presenceState()) === 'unavailable' ? 0 : 1),
    });
    let limiter: RateLimiter;
    let readiness: () => Promise<Record<string, unknown>> = async () => ({
      presence: await rt0.presenceState(),
      fanout: rt0.fanoutState,
      live_streams: rt0.liveHere,
    });
    if (redis !== null) {
      const shared = new RedisRateLimiter({
        redis,
        prefix: config.redisPrefix,
        windowSeconds: config.rateLimitWindowSeconds,
        clock,
        logger: logger.child({ subsystem: 'shared-state' }),
        onStateChange: (s) => metrics.sharedState.set(s === 'redis' ? 1 : 0),
      });
      limiter = shared;
      const live = readiness;
      readiness = async () => ({ shared_state: shared.state, ...(await live()) });
    } else {
      limiter = new MemoryRateLimiter(config.rateLimitWindowSeconds, clock);
    }
    const app = buildApp({
      config,
      clock,
      logger,
      store,
      limiter,
      metrics,
      keys,
      workspaces,
      conversations,
      messages,
      toolInvocations,
      audit,
      events,
      compat,
      idempotency,
      readiness,
      realtime,
    });
    await app.ready();
    const rt = realtime;

    // expired idempotency records go in small batches, off the request path
    const purge = setInterval(() => {
      idempotency.purgeExpired().catch((err) => logger.warn({ err }, 'idempotency purge failed'));
    }, 60_000);
    purge.unref();

    let bootstrapped: CreatedWorkspace | null = null;
    return {
      config,
      app,
      store,
      clock,
      keys,
      workspaces,
      conversations,
      messages,
      toolInvocations,
      compat,
      realtime: rt,
      get bootstrapped() {
        return bootstrapped;
      },
      async start() {
        // Bind first, bootstrap after: the instance admin key is minted only once nothing is
        // left that can fail before the banner shows it (a busy port used to leave a key that
        // nobody ever saw). Until then requests find no key at all and answer 401.
        const address = await app.listen({ host: config.host, port: config.port });
        if (config.bootstrap) {
          try {
            bootstrapped = await workspaces.bootstrap();
          } catch (err) {
            await app.close().catch(() => undefined);
            throw err;
          }
        }
        return address;
      },
      async close() {
        clearInterval(purge);
        // live streams first: open SSE responses would otherwise hold the server's close
        await rt.close();
        await app.close();
        await limiter.close();
        redis?.disconnect();
        await store.close();
      },
    };
  } catch (err) {
    await realtime?.close();
    redis?.disconnect();
    await store.close();
    throw err;
  }
}
