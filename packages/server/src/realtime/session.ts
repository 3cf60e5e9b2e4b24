import type { ConversationEvent } from './events.js';
import type { Subscriber } from './hub.js';

/** Application close codes (WebSocket); SSE ends the response instead. See docs/realtime.md. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  tryAgainLater: 1013,
  unauthorized: 4401,
  forbidden: 4403,
  notFound: 4404,
  deleted: 4410,
} as const;

export interface SessionTransport {
  /** Sends one event; returns false when the client is too slow (the session then ends 1013). */
  send(event: ConversationEvent): boolean;
  end(code: number, reason: string): void;
}

const REPLAY_PAGE = 500;

/**
 * One live stream's ordering logic, shared by WebSocket and SSE. Every event passes through one
 * serial queue: events arriving before `start` wait; an event at or below the last sent seq is
 * a duplicate and is dropped; an event beyond the next seq means others are still in flight or
 * were published elsewhere first, so the gap is read from the log (seqs are handed out in
 * commit order, so everything below a published seq is already in the log).
 */
export class StreamSession implements Subscriber {
  private lastSeq = 0;
  private chain: Promise<void>;
  private open!: () => void;
  private ended = false;

  constructor(
    private readonly load: (afterSeq: number, upTo: number | undefined, limit: number) => Promise<ConversationEvent[]>,
    private readonly transport: SessionTransport,
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.chain = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Begins delivery: replay after `afterSeq` (null = live only, from `currentSeq`). */
  start(afterSeq: number | null, currentSeq: number): void {
    this.lastSeq = afterSeq === null ? currentSeq : Math.min(afterSeq, currentSeq);
    this.enqueue(() => this.replay(undefined));
    this.open();
  }

  /** A client asked to be replayed from `afterSeq` (may repeat events it already has, on request). */
  resume(afterSeq: number): void {
    this.enqueue(async () => {
      this.lastSeq = Math.max(0, afterSeq);
      await this.replay(undefined);
    });
  }

  deliver(event: ConversationEvent): void {
    this.enqueue(async () => {
      if (event.seq <= this.lastSeq) return;
      if (event.type !== 'conversation.deleted' && event.seq > this.lastSeq + 1) await this.replay(event.seq - 1);
      if (this.ended) return;
      this.emit(event);
      if (event.type === 'conversation.deleted') this.end(4410, 'conversation deleted');
    });
  }

  end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.transport.end(code, reason);
  }

  private emit(event: ConversationEvent): void {
    if (this.ended) return;
    this.lastSeq = event.seq;
    if (!this.transport.send(event)) this.end(1013, 'slow consumer: too much unread data');
  }

  private async replay(upTo: number | undefined): Promise<void> {
    while (!this.ended) {
      const page = await this.load(this.lastSeq, upTo, REPLAY_PAGE);
      for (const e of page) this.emit(e);
      if (page.length < REPLAY_PAGE) return;
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.ended) return;
      try {
        await task();
      } catch (err) {
        this.onFailure(err);
        this.end(1011, 'internal error');
      }
    });
  }
}
