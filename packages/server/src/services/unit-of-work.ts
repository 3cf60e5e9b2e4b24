import { notFound } from '../errors.js';
import type { ConversationEvent, EventPayload, EventPublisher } from '../realtime/events.js';
import type { Store, WorkspaceWriter } from '../store/types.js';
import type { InTransaction } from './context.js';

/** Appends an event to the conversation's log inside the running transaction. */
export type Emit = (conversationId: string, event: EventPayload, at: number) => Promise<void>;

/** What a write's body gets: the workspace's writer and the write's events. */
export interface Work {
  w: WorkspaceWriter;
  /** Logs an event with the write (its seq is taken in the transaction); published after commit. */
  emit: Emit;
  /** Publishes an event after commit without logging it (a deleted conversation's last word). */
  announce(event: ConversationEvent): void;
}

/**
 * One write of one workspace: the body runs in `store.transact`, then the idempotency hook
 * (`inTx`, which stores the request's answer) in that same transaction, and the write's events
 * reach the hub only once it has committed (never before, never on rollback).
 */
export class UnitOfWork {
  constructor(
    private readonly store: Store,
    /** Receives each write's events after its transaction commits. */
    private readonly events?: EventPublisher,
  ) {}

  async write<T>(workspaceId: string, body: (work: Work) => Promise<T>, inTx?: InTransaction<T>): Promise<T> {
    let committed: ConversationEvent[] = [];
    const result = await this.store.transact(workspaceId, async (w) => {
      // a transaction the engine retries (PostgreSQL serialization) starts its events afresh
      committed = [];
      const emit: Emit = async (conversationId, event, at) => {
        const payload = JSON.stringify(event.data);
        const seq = await w.events.append({ conversationId, type: event.type, payload, createdAt: at });
        if (seq === null) throw notFound();
        committed.push({ workspaceId, conversationId, seq, type: event.type, payload, createdAt: at });
      };
      const out = await body({ w, emit, announce: (e) => committed.push(e) });
      if (inTx) await inTx(w, out);
      return out;
    });
    if (committed.length > 0) this.events?.publish(committed);
    return result;
  }
}
