import type { Redis } from 'ioredis';

/**
 * Event fan-out between instances: publish a JSON value on a channel, and every subscriber on
 * every instance (this one included) receives it. At-most-once, like Redis pub/sub itself: a
 * subscriber that is disconnected misses what was published meanwhile, so the database stays
 * the source of truth and a client catches up from it. Channels are namespaced by the prefix.
 */
export interface Fanout {
  publish(channel: string, value: unknown): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, handler: (value: unknown) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

type Handler = (value: unknown) => void;

/** One instance: delivery in-process, after the current tick (as a remote delivery would be). */
export class MemoryFanout implements Fanout {
  private readonly handlers = new Map<string, Set<Handler>>();

  async publish(channel: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    for (const h of this.handlers.get(channel) ?? []) queueMicrotask(() => h(JSON.parse(text)));
  }

  async subscribe(channel: string, handler: Handler): Promise<() => Promise<void>> {
    const set = this.handlers.get(channel) ?? new Set<Handler>();
    this.handlers.set(channel, set);
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) this.handlers.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}

/**
 * Several instances: Redis pub/sub. `pub` is any connection; `sub` must be a connection of its
 * own (a subscribed connection can do nothing else). ioredis re-subscribes after a reconnect.
 */
export class RedisFanout implements Fanout {
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
  ) {
    sub.on('message', (full: string, text: string) => {
      const set = this.handlers.get(full);
      if (!set) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // not ours
      }
      for (const h of set) h(value);
    });
  }

  async publish(channel: string, value: unknown): Promise<void> {
    await this.pub.publish(this.prefix + channel, JSON.stringify(value));
  }

  async subscribe(channel: string, handler: Handler): Promise<() => Promise<void>> {
    const full = this.prefix + channel;
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set<Handler>();
      this.handlers.set(full, set);
      await this.sub.subscribe(full);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(full) === set) {
        this.handlers.delete(full);
        await this.sub.unsubscribe(full);
      }
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.sub.disconnect();
  }
}
