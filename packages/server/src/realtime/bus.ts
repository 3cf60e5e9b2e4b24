import type { Logger } from 'pino';
import type { Fanout } from '../shared/fanout.js';
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

/** Fan-out between instances over the shared Redis pub/sub Fanout (src/shared/fanout.ts), on one channel. */
export class RedisBus implements Bus {
  private handler: ((events: ConversationEvent[]) => void) | null = null;

  private constructor(
    private readonly fanout: Fanout,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  static async create(fanout: Fanout, channel: string, instanceId: string, log: Logger): Promise<RedisBus> {
    const bus = new RedisBus(fanout, channel, instanceId, log);
    await fanout.subscribe(channel, (value) => {
      const env = value as Partial<Envelope> | null;
      if (!env || env.o === instanceId || !Array.isArray(env.e)) return;
      bus.handler?.(env.e);
    });
    return bus;
  }

  publish(events: ConversationEvent[]): void {
    this.handler?.(events);
    const env: Envelope = { o: this.instanceId, e: events };
    this.fanout.publish(this.channel, env).catch((err: unknown) => {
      this.log.warn({ err }, 'event fan-out to other instances failed; their streams catch up from the log');
    });
  }

  onEvents(handler: (events: ConversationEvent[]) => void): void {
    this.handler = handler;
  }

  /** Ends the fan-out (its subscriber connection with it): an UNSUBSCRIBE sent to a dead Redis would never answer. */
  async close(): Promise<void> {
    await this.fanout.close();
  }
}
