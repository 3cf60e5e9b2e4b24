import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { exportUserJsonl } from './http/export-formats.js';
import type { App } from './http/types.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.js';
import { Realtime } from './realtime/index.js';
import { AuditService } from './services/audit.js';
import { CompatService } from './services/compat.js';
import { ConversationsService } from './services/conversations.js';
import { CursorCodec } from './services/cursor.js';
import { UsersService } from './services/erase.js';
import { EventsService } from './services/events.js';
import { ExportService } from './services/export.js';
import { HoldsService } from './services/holds.js';
import { IdempotencyService } from './services/idempotency.js';
import { JobArtifacts } from './services/job-artifacts.js';
import { JobRunner, JobsService } from './services/jobs.js';
import { KeysService } from './services/keys.js';
import { MessagesService } from './services/messages.js';
import { RetentionService, scheduleRetention } from './services/retention.js';
import { ToolInvocationsService } from './services/tool-invocations.js';
import { Traffic } from './services/traffic.js';
import { transferStore } from './services/transfer-store.js';
import { TrashService } from './services/trash.js';
import { UnitOfWork } from './services/unit-of-work.js';
import { WebhooksService } from './services/webhooks.js';
import { type CreatedWorkspace, WorkspacesService } from './services/workspaces.js';
import { checkRedis, createRedis } from './shared/redis.js';
import { RedisRateLimiter } from './shared/redis-rate-limiter.js';
import { openStore } from './store/open.js';
import type { FullTextCompaction } from './store/sqlite/compaction.js';
import type { Store } from './store/types.js';
import { DeliveryWorker } from './webhooks/worker.js';

export interface ParleyOptions {
  clock?: Clock;
  logger?: Logger;
}

/** `await using parley = await createParley(config)` closes it when the scope ends. */
export interface Parley extends AsyncDisposable {
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
  readonly trash: TrashService;
  readonly holds: HoldsService;
  readonly realtime: Realtime;
  readonly webhooks: WebhooksService;
  /** Sends the webhook outbox; started by start(), stopped by close(). */
  readonly deliveries: DeliveryWorker;
  readonly jobs: JobRunner;
  readonly retention: RetentionService;
  /** When requests last came or went (the metrics hooks mark it; SQLite's erase batches rest by it). */
  readonly traffic: Traffic;
  /** Set by the very first start() only: the default workspace and its instance admin key. */
  readonly bootstrapped: CreatedWorkspace | null;
  /** Listens on config.http.host:port, then bootstraps an empty database; returns the address. */
  start(): Promise<string>;
  /**
   * Takes the instance down; safe to call more than once (every call waits for the one close).
   * Live streams end at once (WebSocket 1001; SSE a stream.closed event), the listener stops
   * accepting, requests in flight get up to `graceMs` (default config.lifecycle.shutdownGraceMs)
   * to finish, then the connections still open are cut; then the limiter, Redis and the store.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** Builds store -> services -> HTTP, in that order; close() takes them down in reverse. */
export async function createParley(config: Config, opts: ParleyOptions = {}): Promise<Parley> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.log);
  // an unreachable Redis stops the start (once running, Redis trouble only means fallback)
  if (config.redis.url !== null) await checkRedis(config.redis.url, config.redis.timeoutMs);
  const store = await openStore({
    databaseUrl: config.database.url,
    pg: config.pg,
    sqliteSynchronous: config.database.sqliteSynchronous,
    ftsCompactionIntervalMs: config.database.ftsCompactionInterval * 1000,
    // on SQLite by default; on PostgreSQL only when asked (PARLEY_PG_GROUP_COMMIT)
    groupCommit:
      config.database.url.startsWith('sqlite:') || config.pg.groupCommit
        ? { maxWrites: config.database.groupCommitMaxWrites, windowMs: config.database.groupCommitWindowMs }
        : undefined,
  });
  let redis: ReturnType<typeof createRedis> | null = null;
  let realtime: Realtime | undefined;
  try {
    await store.transactInstance((i) => i.setMetaIfAbsent('cursor_secret', randomBytes(32).toString('hex')));
    const cursorSecret = await store.instance.getMeta('cursor_secret');
    if (cursorSecret === null) throw new Error('cursor secret missing after creation');
    // when requests come and go (the metrics hooks mark it); erase batches rest by it
    const traffic = new Traffic();
    const deps = { store, clock, traffic };
    if (config.redis.url !== null) {
      // the instance's one command connection: rate limits, presence and PUBLISH share it
      redis = createRedis(config.redis.url, config.redis.timeoutMs);
      await redis.connect().catch(() => undefined); // checked above; a blip now just means fallback
    }
    realtime = await Realtime.create(config, { store, clock, logger, redis });
    const rt0 = realtime;
    const keys = new KeysService(deps);
    const cursors = new CursorCodec(cursorSecret);
    const workspaces = new WorkspacesService(deps, keys, cursors);
    // every write of conversations, messages and tool steps goes through one unit of work
    const deliveries = new DeliveryWorker(
      store,
      clock,
      {
        timeoutMs: config.webhooks.timeoutMs,
        pollMs: config.webhooks.pollMs,
        retryBaseMs: config.webhooks.retryBaseSeconds * 1000,
        retryWindowMs: config.webhooks.retryHours * 3_600_000,
        allowPrivate: config.webhooks.allowPrivate,
      },
      logger.child({ subsystem: 'webhooks' }),
    );
    const uow = new UnitOfWork(store, realtime.hub, { clock, poke: () => deliveries.poke() });
    const conversations = new ConversationsService(deps, uow, cursors);
    const messages = new MessagesService(deps, uow, cursors);
    const toolInvocations = new ToolInvocationsService(deps, uow, cursors);
    const audit = new AuditService(deps, cursors);
    const events = new EventsService(deps);
    const compat = new CompatService(deps, uow);
    const trash = new TrashService(deps, uow, cursors);
    const holds = new HoldsService(deps, uow, cursors);
    const webhooks = new WebhooksService(deps, uow, cursors, {
      allowPrivate: config.webhooks.allowPrivate,
      secretOverlapMs: config.webhooks.secretOverlapHours * 3_600_000,
      wake: () => deliveries.poke(),
    });
    realtime.bind(events, conversations);
    // lifecycle jobs (erase, retention) run on every instance; each job goes to one runner
    const runner = new JobRunner(
      { ...deps, logger: logger.child({ subsystem: 'jobs' }) },
      { pollMs: config.jobs.pollMs, leaseMs: config.jobs.leaseMs, maxAttempts: 10 },
    );
    const kick = () => runner.kick();
    // an erase's export_first file: written by the job, downloadable until it expires
    const artifacts = new JobArtifacts(
      path.join(config.database.dataDir, 'job-artifacts'),
      config.jobs.eraseExportHours * 3_600_000,
      clock,
    );
    const exporter = new ExportService(transferStore(store), clock, logger.child({ subsystem: 'export' }));
    const jobs = new JobsService(deps, cursors, artifacts);
    const users = new UsersService(
      deps,
      uow,
      {
        batchSize: config.jobs.batchSize,
        vacuum: config.jobs.eraseVacuum,
        artifacts,
        exportUser: (auth, userId, at, write) => exportUserJsonl(exporter, auth, userId, at, write),
      },
      kick,
    );
    const retention = new RetentionService(deps, uow, config.jobs.batchSize, kick);
    runner.register(users);
    runner.register(retention);
    const idempotency = new IdempotencyService(
      deps,
      config.idempotency.ttlSeconds * 1000,
      config.idempotency.lockSeconds * 1000,
    );
    const metrics = createMetrics({
      liveStreams: () => rt0.liveHere,
      presenceUp: async () => ((await rt0.presenceState()) === 'unavailable' ? 0 : 1),
    });
    store.observeGroups((size) => metrics.groupCommitSize.observe(size));
    // SQLite: the background full-text compaction after erasures (store/sqlite/compaction.ts)
    const compaction = (store as { compaction?: FullTextCompaction }).compaction;
    if (compaction) {
      const log = logger.child({ subsystem: 'fts-compaction' });
      compaction.observe((e) => {
        if (e.kind === 'slice') {
          metrics.compactionActive.set(1);
          metrics.compactionSlices.inc();
          metrics.compactionSeconds.inc(e.ms / 1000);
          log.trace({ ms: Math.round(e.ms * 10) / 10, pages: e.pages }, 'full-text compaction slice');
        } else if (e.kind === 'done') {
          metrics.compactionActive.set(0);
          metrics.compactionRuns.inc({ outcome: 'done' });
          if ((e.slices ?? 0) > 0)
            log.info({ slices: e.slices, ms: Math.round(e.ms) }, 'full-text compaction done: no tombstone left');
        } else {
          metrics.compactionActive.set(0);
          metrics.compactionRuns.inc({ outcome: 'failed' });
          log.warn({ err: e.error }, 'full-text compaction failed; the next erasure or restart tries again');
        }
      });
      compaction.start();
    }
    let limiter: RateLimiter;
    let readiness: () => Promise<Record<string, unknown>> = async () => ({
      presence: await rt0.presenceState(),
      fanout: rt0.fanoutState,
      live_streams: rt0.liveHere,
    });
    if (redis !== null) {
      const shared = new RedisRateLimiter({
        redis,
        prefix: config.redis.prefix,
        windowSeconds: config.limits.windowSeconds,
        clock,
        logger: logger.child({ subsystem: 'shared-state' }),
        onStateChange: (s) => metrics.sharedState.set(s === 'redis' ? 1 : 0),
      });
      limiter = shared;
      const live = readiness;
      readiness = async () => ({ shared_state: shared.state, ...(await live()) });
    } else {
      limiter = new MemoryRateLimiter(config.limits.windowSeconds, clock);
    }
    const app = buildApp({
      config,
      clock,
      logger,
      store,
      traffic,
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
      trash,
      holds,
      webhooks,
      idempotency,
      jobs,
      users,
      retention,
      readiness,
      realtime,
    });
    await app.ready();
    const rt = realtime;

    // expired idempotency records go in small batches, off the request path
    const purge = setInterval(() => {
      idempotency.purgeExpired().catch((err) => logger.warn({ err }, 'idempotency purge failed'));
      artifacts.sweep().catch((err) => logger.warn({ err }, 'erase export sweep failed'));
    }, 60_000);
    purge.unref();

    // the trash sweep: what is past its window, and permanent deletes a crash left half-done;
    // one at a time per instance, several instances share the work (store claims)
    let sweep: ReturnType<typeof setInterval> | undefined;
    let sweeping: Promise<unknown> | null = null;
    const runSweep = () => {
      if (sweeping) return;
      sweeping = trash
        .sweep()
        .catch((err) => logger.warn({ err }, 'trash purge failed'))
        .finally(() => {
          sweeping = null;
        });
    };

    let retentionTimer: NodeJS.Timeout | undefined;
    const shutdown = async (graceMs: number): Promise<void> => {
      clearInterval(purge);
      if (sweep) clearInterval(sweep);
      clearInterval(retentionTimer);
      // the job in flight stops after its batch; its lease lapses and another runner resumes it
      await runner.close();
      // the delivery worker takes no new rows; an attempt in flight ends within its timeout and is recorded
      const deliveriesClosed = deliveries.close();
      // Streams end first, in this same tick, so that their clients see 1001 (not the WebSocket
      // plugin's own close without a code) and open SSE responses do not hold the server's close.
      const streamsClosed = rt.close();
      // stops accepting; requests already in flight run on (new ones on a kept-alive connection get 503)
      const serverClosed = app.close();
      // a kept-alive connection whose last request is done is let go now, not after keepAliveTimeout
      const reap = setInterval(() => app.server.closeIdleConnections(), 100);
      let deadline: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        deadline = setTimeout(() => resolve('late'), graceMs);
      });
      try {
        if ((await Promise.race([serverClosed, late])) === 'late') {
          logger.warn(
            { graceMs },
            'requests still in flight at the end of the shutdown grace; closing their connections',
          );
          app.server.closeAllConnections();
          await serverClosed;
        }
      } finally {
        clearInterval(reap);
        clearTimeout(deadline);
      }
      await streamsClosed;
      await deliveriesClosed;
      await limiter.close();
      redis?.disconnect();
      // a purge batch under way commits before the store closes
      await sweeping;
      await store.close();
    };
    let closing: Promise<void> | undefined;

    let bootstrapped: CreatedWorkspace | null = null;
    const parley: Parley = {
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
      trash,
      holds,
      webhooks,
      deliveries,
      realtime: rt,
      jobs: runner,
      retention,
      traffic,
      get bootstrapped() {
        return bootstrapped;
      },
      async start() {
        // Bind first, bootstrap after: the instance admin key is minted only once nothing is
        // left that can fail before the banner shows it (a busy port used to leave a key that
        // nobody ever saw). Until then requests find no key at all and answer 401.
        const address = await app.listen({ host: config.http.host, port: config.http.port });
        if (config.lifecycle.bootstrap) {
          try {
            bootstrapped = await workspaces.bootstrap();
          } catch (err) {
            await app.close().catch(() => undefined);
            throw err;
          }
        }
        runSweep();
        sweep = setInterval(runSweep, config.lifecycle.purgeIntervalSeconds * 1000);
        sweep.unref();
        deliveries.start();
        runner.start();
        if (config.jobs.retentionIntervalMs > 0) {
          retentionTimer = setInterval(() => {
            scheduleRetention(deps, retention, runner.owner, config.jobs.retentionIntervalMs).catch((err) =>
              logger.warn({ err }, 'retention scheduling failed'),
            );
          }, config.jobs.retentionIntervalMs);
          retentionTimer.unref();
        }
        return address;
      },
      close(opts = {}) {
        closing ??= shutdown(opts.graceMs ?? config.lifecycle.shutdownGraceMs);
        return closing;
      },
      [Symbol.asyncDispose]() {
        return parley.close();
      },
    };
    return parley;
  } catch (err) {
    await realtime?.close();
    redis?.disconnect();
    await store.close();
    throw err;
  }
}
