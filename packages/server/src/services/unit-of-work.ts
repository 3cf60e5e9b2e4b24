import type { Clock } from '../clock.js';
import type { WebhookEndpoint } from '../domain/types.js';
import { notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { ConversationEvent, EventPayload, EventPublisher } from '../realtime/events.js';
import type { NewWebhookDelivery, Store, WorkspaceWriter } from '../store/types.js';
import { subscribes, type WebhookEventType } from '../webhooks/events.js';
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
  /**
   * Writes one webhook delivery per enabled endpoint of the workspace whose filter takes `type`,
   * in this transaction: a rolled-back write sends nothing, a committed one is never lost.
   * `data` is the event's `data` object (ids, state and counts; never content).
   */
  notify(type: WebhookEventType, data: Record<string, unknown>): Promise<void>;
}

/** The webhook outbox's side of a write: the time events are stamped with, and the worker to wake. */
export interface OutboxHooks {
  clock: Clock;
  /** Called after a commit that wrote deliveries. */
  poke(): void;
}

/**
 * One write of one workspace: the body runs in `store.transact`, then the idempotency hook
 * (`inTx`, which stores the request's answer) in that same transaction, and the write's events
 * reach the hub only once it has committed (never before, never on rollback); webhook
 * deliveries are rows of the same transaction, and the delivery worker is woken after commit.
 */
export class UnitOfWork {
  constructor(
    private readonly store: Store,
    /** Receives each write's events after its transaction commits. */
    private readonly events?: EventPublisher,
    private readonly outbox?: OutboxHooks,
  ) {}

  async write<T>(workspaceId: string, body: (work: Work) => Promise<T>, inTx?: InTransaction<T>): Promise<T> {
    let committed: ConversationEvent[] = [];
    let delivered = 0;
    const result = await this.store.transact(workspaceId, async (w) => {
      // a transaction the engine retries (PostgreSQL serialization) starts its events afresh
      committed = [];
      delivered = 0;
      let endpoints: WebhookEndpoint[] | undefined;
      const emit: Emit = async (conversationId, event, at) => {
        const payload = JSON.stringify(event.data);
        const seq = await w.events.append({ conversationId, type: event.type, payload, createdAt: at });
        if (seq === null) throw notFound();
        committed.push({ workspaceId, conversationId, seq, type: event.type, payload, createdAt: at });
      };
      const notify = async (type: WebhookEventType, data: Record<string, unknown>) => {
        endpoints ??= await w.webhooks.enabled();
        const to = endpoints.filter((e) => subscribes(e.events, type));
        if (to.length === 0) return;
        const now = this.outbox?.clock.now() ?? Date.now();
        const eventId = newId('event', now);
        const payload = JSON.stringify({
          id: eventId,
          type,
          timestamp: new Date(now).toISOString(),
          workspace_id: workspaceId,
          data,
        });
        const rows: NewWebhookDelivery[] = to.map((e) => ({
          id: newId('webhookDelivery', now),
          endpointId: e.id,
          eventType: type,
          eventId,
          payload,
          createdAt: now,
        }));
        await w.webhooks.enqueue(rows);
        delivered += rows.length;
      };
      const out = await body({ w, emit, announce: (e) => committed.push(e), notify });
      if (inTx) await inTx(w, out);
      return out;
    });
    if (committed.length > 0) this.events?.publish(committed);
    if (delivered > 0) this.outbox?.poke();
    return result;
  }
}
