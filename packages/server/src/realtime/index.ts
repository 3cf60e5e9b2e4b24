import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { type Config, redact } from '../config.js';
import type { AuthContext } from '../domain/types.js';
import { notFound } from '../errors.js';
import { parseId } from '../ids.js';
import type { LiveCount } from '../services/conversations.js';
import type { EventsService } from '../services/events.js';
import { RedisFanout } from '../shared/fanout.js';
import { createRedis } from '../shared/redis.js';
import type { Store } from '../store/types.js';
import { type Bus, InProcessBus, RedisBus } from './bus.js';
import { Heartbeat } from './heartbeat.js';
import { Hub } from './hub.js';
import { MemoryPresence, type Presence, RedisPresence } from './presence.js';
import { type SessionTransport, StreamSession } from './session.js';
import { StreamTokens } from './stream-tokens.js';

/** Where live-connection presence is kept, as /readyz reports it. */
export type PresenceState = 'redis' | 'memory' | 'unavailable';

export interface Attached {
  session: StreamSession;
  /** The conversation's last seq when the stream attached. */
  seq: number;
  conversationId: string;
  /** Unsubscribes and releases presence; safe to call more than once. */
  detach(): void;
}

/**
 * Live streams: the hub (subscribers on this instance), the bus (fan-out between instances),
 * presence (live connections counted across instances) and stream tokens. In-process when no
 * Redis is configured; Redis pub/sub + leased presence keys when it is.
 */
export class Realtime {
  private readonly sessions = new Set<StreamSession>();
  private events: EventsService | null = null;
  /** Dead-peer detection for every WebSocket on this instance (native and compat). */
  readonly heartbeat: Heartbeat;

  private constructor(
    readonly config: Config,
    readonly instanceId: string,
    readonly hub: Hub,
    readonly presence: Presence,
    readonly tokens: StreamTokens,
    readonly shared: boolean,
    private readonly bus: Bus,
    /** The instance's shared command connection (owned by createParley), and realtime's own subscriber. */
    private readonly redis: { command: Redis; sub: Redis } | null,
    private readonly log: Logger,
  ) {
    this.heartbeat = new Heartbeat(config.ws.heartbeatMs);
  }

  /**
   * `redis` is the instance's command connection (rate limits, presence, PUBLISH share it: all
   * short commands that must fail fast). Realtime adds only the one connection pub/sub needs,
   * since a subscribed connection can run nothing else.
   */
  static async create(
    config: Config,
    deps: { store: Store; clock: Clock; logger: Logger; redis?: Redis | null },
  ): Promise<Realtime> {
    const log = deps.logger.child({ subsystem: 'realtime' });
    const instanceId = randomUUID();
    await deps.store.transactInstance((i) => i.setMetaIfAbsent('stream_token_secret', randomBytes(32).toString('hex')));
    const secret = await deps.store.instance.getMeta('stream_token_secret');
    if (secret === null) throw new Error('stream token secret missing after creation');
    const tokens = new StreamTokens(secret, deps.clock, deps.store);
    const command = deps.redis ?? null;
    if (config.redis.url === null || command === null) {
      const bus = new InProcessBus();
      return new Realtime(config, instanceId, new Hub(bus), new MemoryPresence(), tokens, false, bus, null, log);
    }
    const sub = createRedis(config.redis.url, config.redis.timeoutMs, {
      // SUBSCRIBE queues across reconnects (ioredis re-subscribes) and never times out
      enableOfflineQueue: true,
      commandTimeout: undefined,
      maxRetriesPerRequest: 1,
    });
    sub.on('error', (err: unknown) => log.warn({ err }, 'redis subscriber connection error'));
    try {
      await sub.connect();
      const fanout = new RedisFanout(command, sub, config.redis.prefix);
      const bus = await RedisBus.create(fanout, 'events', instanceId, log);
      const presence = new RedisPresence(command, config.redis.prefix, instanceId, config.ws.presenceLeaseMs, log);
      return new Realtime(config, instanceId, new Hub(bus), presence, tokens, true, bus, { command, sub }, log);
    } catch (err) {
      sub.disconnect();
      throw new Error(`Redis at ${redact(config.redis.url)} is unreachable: ${(err as Error).message}`);
    }
  }

  /** The event log streams read, and the service whose deletes ask presence; set once by createParley. */
  bind(events: EventsService, deletes: { watchPresence(live: LiveCount): void }): void {
    this.events = events;
    deletes.watchPresence(this);
  }

  private service(): EventsService {
    if (!this.events) throw new Error('realtime used before bind()');
    return this.events;
  }

  /** Live connections on every instance; throws service_unavailable when it cannot know. */
  liveConnections(workspaceId: string, conversationId: string): Promise<number> {
    return this.presence.count(workspaceId, conversationId);
  }

  /** The count when presence is in-process (a map read, no await); undefined with shared presence. */
  liveConnectionsNow(workspaceId: string, conversationId: string): number | undefined {
    return this.presence.countNow?.(workspaceId, conversationId);
  }

  /**
   * Attaches a stream. Presence is registered and the subscription made BEFORE the existence
   * check: a DELETE that counted no presence commits before this check sees the row (404), or
   * after it, and then its deleted event reaches this subscription and closes it (4410).
   * The caller sends its headers / ready frame, then calls session.start().
   */
  async attach(auth: AuthContext, rawId: string, transport: SessionTransport): Promise<Attached> {
    const svc = this.service();
    const session = new StreamSession(
      async (after, upTo, limit) => svc.logged(auth.workspaceId, conversationId, after, { upTo, limit }),
      {
        send: (e) => transport.send(e),
        // a stream stops counting as live the moment the server decides to close it, not when
        // a (possibly stalled) peer finally acknowledges the close
        end: (code, reason) => {
          transport.end(code, reason);
          detach();
        },
      },
      (err) => this.log.error({ err }, 'live stream failed'),
    );
    const connectionId = randomUUID();
    let conversationId = '';
    let registered = false;
    let unsubscribe: (() => void) | null = null;
    let detached = false;
    const detach = () => {
      if (detached) return;
      detached = true;
      this.sessions.delete(session);
      unsubscribe?.();
      if (registered) void this.presence.remove(auth.workspaceId, conversationId, connectionId);
    };
    try {
      const parsed = parseId('conversation', rawId);
      if (parsed === null) throw notFound();
      conversationId = parsed;
      await this.presence.add(auth.workspaceId, conversationId, connectionId);
      registered = true;
      unsubscribe = this.hub.subscribe(auth.workspaceId, conversationId, session);
      this.sessions.add(session);
      const { seq } = await svc.streamPosition(auth, rawId);
      return { session, seq, conversationId, detach };
    } catch (err) {
      detach();
      throw err;
    }
  }

  /** Ends every live stream on this instance (1001), then lets go of Redis. */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) s.end(1001, 'server shutting down');
    this.sessions.clear();
    this.heartbeat.stop();
    await this.presence.close();
    // closes the subscriber connection too; the command connection is createParley's to close
    await this.bus.close();
  }

  /** Presence as it stands: in memory (one instance), in Redis, or unreadable (DELETE then answers 503). */
  async presenceState(): Promise<PresenceState> {
    if (!this.redis) return 'memory';
    try {
      await this.redis.command.ping();
      return 'redis';
    } catch {
      return 'unavailable';
    }
  }

  /** Whether events from other instances can arrive (the subscriber connection is up). */
  get fanoutState(): PresenceState {
    if (!this.redis) return 'memory';
    return this.redis.sub.status === 'ready' ? 'redis' : 'unavailable';
  }

  get liveHere(): number {
    return this.sessions.size;
  }
}
