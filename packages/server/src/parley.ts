import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { type App, buildApp } from './http/app.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.js';
import { Realtime } from './realtime/index.js';
import { ConversationsService } from './services/conversations.js';
import { CursorCodec } from './services/cursor.js';
import { IdempotencyService } from './services/idempotency.js';
import { type CreatedWorkspace, KeysService, WorkspacesService } from './services/keys.js';
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
  readonly realtime: Realtime;
  /** Set on the very first start only: the default workspace and its instance admin key. */
  readonly bootstrapped: CreatedWorkspace | null;
  /** Listens on config.host:config.port; returns the address. */
  start(): Promise<string>;
  close(): Promise<void>;
}

/** Builds store -> services -> HTTP, in that order; close() takes them down in reverse. */
export async function createParley(config: Config, opts: ParleyOptions = {}): Promise<Parley> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config);
  const store = await openStore(config);
  let realtime: Realtime | undefined;
  try {
    await store.setMetaIfAbsent('cursor_secret', randomBytes(32).toString('hex'));
    const cursorSecret = await store.getMeta('cursor_secret');
    if (cursorSecret === null) throw new Error('cursor secret missing after creation');
    const deps = { store, clock };
    realtime = await Realtime.create(config, { store, clock, logger });
    const keys = new KeysService(deps);
    const workspaces = new WorkspacesService(deps, keys);
    const conversations = new ConversationsService(deps, new CursorCodec(cursorSecret), realtime.hub);
    realtime.bind(conversations);
    const idempotency = new IdempotencyService(deps, config.idempotencyTtlSeconds * 1000);
    const limiter: RateLimiter = new MemoryRateLimiter(config.rateLimitWindowSeconds, clock);
    const metrics = createMetrics();
    const bootstrapped = config.bootstrap ? await workspaces.bootstrap() : null;
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
      idempotency,
      realtime,
    });
    await app.ready();
    const rt = realtime;

    // expired idempotency records go in small batches, off the request path
    const purge = setInterval(() => {
      idempotency.purgeExpired().catch((err) => logger.warn({ err }, 'idempotency purge failed'));
    }, 60_000);
    purge.unref();

    return {
      config,
      app,
      store,
      clock,
      keys,
      workspaces,
      conversations,
      realtime: rt,
      bootstrapped,
      async start() {
        return app.listen({ host: config.host, port: config.port });
      },
      async close() {
        clearInterval(purge);
        // live streams first: open SSE responses would otherwise hold the server's close
        await rt.close();
        await app.close();
        await limiter.close();
        await store.close();
      },
    };
  } catch (err) {
    await realtime?.close();
    await store.close();
    throw err;
  }
}
