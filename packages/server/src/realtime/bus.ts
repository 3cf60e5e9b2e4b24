import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConversationEvent } from './events.js';

/**
 * Carries committed events to every instance's hub. Local delivery never depends on a
 * backing service: an instance's own subscribers get its events even while Redis is down
 * (streams on other instances then catch up from the log on the next event they see).
 */
export interface Bus {
  publish(events: ConversationEvent[]): void;
  onEvents(handler: (events: ConversationEvent[]) => void): void;
  close(): Promise<void>;
}

export class InProcessBus implements Bus {
  private handler: ((events: ConversationEvent[]) => void) | null = null;
  publish(events: ConversationEvent[]): void {
    this.handler?.(events);
  }
  onEvents(handler: (events: ConversationEvent[]) => void): void {
    this.handler = handler;
  }
  async close(): Promise<void> {}
}

interface Envelope {
  /** Publishing instance: it already delivered locally, so it ignores its own echo. */
  o: string;
  e: ConversationEvent[];
}

/** Redis pub/sub fan-out on one channel; `sub` is a connection dedicated to subscribing. */
export class RedisBus implements Bus {
  private handler: ((events: ConversationEvent[]) => void) | null = null;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  static async create(pub: Redis, sub: Redis, channel: string, instanceId: string, log: Logger): Promise<RedisBus> {
    const bus = new RedisBus(pub, sub, channel, instanceId, log);
    sub.on('message', (ch: string, text: string) => {
      if (ch !== channel) return;
      let env: Envelope;
      try {
        env = JSON.parse(text) as Envelope;
      } catch {
        return;
      }
      if (env.o === instanceId || !Array.isArray(env.e)) return;
      bus.handler?.(env.e);
    });
    await sub.subscribe(channel);
    return bus;
  }

  publish(events: ConversationEvent[]): void {
    this.handler?.(events);
    const env: Envelope = { o: this.instanceId, e: events };
    this.pub.publish(this.channel, JSON.stringify(env)).catch((err: unknown) => {
      this.log.warn({ err }, 'event fan-out to other instances failed; their streams catch up from the log');
    });
  }

  onEvents(handler: (events: ConversationEvent[]) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    await this.sub.unsubscribe(this.channel).catch(() => {});
  }
}
