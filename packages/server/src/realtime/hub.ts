import type { Bus } from './bus.js';
import type { ConversationEvent, EventPublisher } from './events.js';

/** A live stream on this instance. */
export interface Subscriber {
  deliver(event: ConversationEvent): void;
}

const key = (w: string, c: string) => `${w}\u0000${c}`;

/**
 * In-process subscribers per (workspace, conversation). Writes publish through the bus, which
 * hands every committed event (this instance's and, with Redis, the others') back to dispatch.
 */
export class Hub implements EventPublisher {
  private readonly subs = new Map<string, Set<Subscriber>>();

  constructor(private readonly bus: Bus) {
    bus.onEvents((events) => {
      for (const e of events) this.dispatch(e);
    });
  }

  publish(events: ConversationEvent[]): void {
    this.bus.publish(events);
  }

  subscribe(workspaceId: string, conversationId: string, sub: Subscriber): () => void {
    const k = key(workspaceId, conversationId);
    let set = this.subs.get(k);
    if (!set) {
      set = new Set();
      this.subs.set(k, set);
    }
    set.add(sub);
    return () => {
      const s = this.subs.get(k);
      if (!s) return;
      s.delete(sub);
      if (s.size === 0) this.subs.delete(k);
    };
  }

  private dispatch(e: ConversationEvent): void {
    const set = this.subs.get(key(e.workspaceId, e.conversationId));
    if (!set) return;
    // a subscriber may unsubscribe while we deliver (deleted event): iterate over a copy
    for (const sub of [...set]) sub.deliver(e);
  }
}
