import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { type Config, redact } from '../config.js';
import type { AuthContext } from '../domain/types.js';
import { notFound } from '../errors.js';
import { parseId } from '../ids.js';
import type { ConversationsService } from '../services/conversations.js';
import type { Store } from '../store/types.js';
import { type Bus, InProcessBus, RedisBus } from './bus.js';
import { Hub } from './hub.js';
import { MemoryPresence, type Presence, RedisPresence } from './presence.js';
import { type SessionTransport, StreamSession } from './session.js';
import { StreamTokens } from './stream-tokens.js';

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
  private conversations: ConversationsService | null = null;

  private constructor(
    readonly config: Config,
    readonly instanceId: string,
    readonly hub: Hub,
    readonly presence: Presence,
    readonly tokens: StreamTokens,
    readonly shared: boolean,
    private readonly bus: Bus,
    private readonly redis: Redis[],
    private readonly log: Logger,
  ) {}

  static async create(config: Config, deps: { store: Store; clock: Clock; logger: Logger }): Promise<Realtime> {
    const log = deps.logger.child({ subsystem: 'realtime' });
    const instanceId = randomUUID();
    await deps.store.setMetaIfAbsent('stream_token_secret', randomBytes(32).toString('hex'));
    const secret = await deps.store.getMeta('stream_token_secret');
    if (secret === null) throw new Error('stream token secret missing after creation');
    const tokens = new StreamTokens(secret, deps.clock, deps.store);
    if (config.redisUrl === null) {
      const bus = new InProcessBus();
      return new Realtime(config, instanceId, new Hub(bus), new MemoryPresence(), tokens, false, bus, [], log);
    }
    const opts = {
      lazyConnect: true,
      // fail fast instead of queueing while Redis is away: DELETE must answer 503, not hang
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryStrategy: (n: number) => Math.min(100 * n, 2000),
    };
    const pub = new Redis(config.redisUrl, opts);
    // the subscriber connection queues its SUBSCRIBE across reconnects (ioredis re-subscribes)
    const sub = new Redis(config.redisUrl, { ...opts, enableOfflineQueue: true, commandTimeout: undefined });
    for (const r of [pub, sub]) r.on('error', (err: unknown) => log.warn({ err }, 'redis connection error'));
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      const bus = await RedisBus.create(pub, sub, 'parley:events', instanceId, log);
      const presence = new RedisPresence(pub, 'parley:', instanceId, config.presenceLeaseMs, log);
      return new Realtime(config, instanceId, new Hub(bus), presence, tokens, true, bus, [pub, sub], log);
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw new Error(`Redis at ${redact(config.redisUrl)} is unreachable: ${(err as Error).message}`);
    }
  }

  /** The service whose writes feed the hub; set once by createParley. */
  bind(conversations: ConversationsService): void {
    this.conversations = conversations;
    conversations.watchPresence(this);
  }

  private service(): ConversationsService {
    if (!this.conversations) throw new Error('realtime used before bind()');
    return this.conversations;
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
      async (after, upTo, limit) => svc.loggedEvents(auth.workspaceId, conversationId, after, { upTo, limit }),
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
    await this.presence.close();
    await this.bus.close();
    for (const r of this.redis) r.disconnect();
  }

  get liveHere(): number {
    return this.sessions.size;
  }
}
