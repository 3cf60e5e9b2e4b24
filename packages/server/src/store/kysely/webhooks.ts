import type { Selectable } from 'kysely';
import type { WebhookDelivery, WebhookDeliveryState, WebhookEndpoint } from '../../domain/types.js';
import { QueryTemplate } from '../query-template.js';
import type { WebhookEndpointsTable, WebhookOutboxTable } from '../schema.js';
import type {
  ClaimedDelivery,
  DeliveryAttempt,
  NewWebhookDelivery,
  PageQuery,
  WebhookEndpointPatch,
  WebhookReads,
  WebhookWrites,
} from '../types.js';
import { type Bound, type Conn, hot, sameWorkspace } from './bound.js';
import { num, numOrNull } from './rows.js';

function toEndpoint(r: Selectable<WebhookEndpointsTable>): WebhookEndpoint {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    enabled: num(r.enabled) === 1,
    description: r.description,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretUntil: numOrNull(r.previous_secret_until),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toDelivery(r: Selectable<WebhookOutboxTable>): WebhookDelivery {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    endpointId: r.endpoint_id,
    eventType: r.event_type,
    eventId: r.event_id,
    payload: r.payload,
    attempts: num(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    state: r.state as WebhookDeliveryState,
    lastStatus: numOrNull(r.last_status),
    lastError: r.last_error,
    lastAttemptAt: numOrNull(r.last_attempt_at),
    deliveredAt: numOrNull(r.delivered_at),
    createdAt: num(r.created_at),
  };
}

// read by every write that may notify (unit-of-work.ts): built and compiled once
const enabledEndpoints = new QueryTemplate((db, p: { ws: string }) =>
  db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', p.ws)
    .where('enabled', '=', 1)
    .orderBy('id'),
);

export class WebhooksReader implements WebhookReads {
  constructor(protected readonly b: Bound) {}

  async list(q: PageQuery): Promise<WebhookEndpoint[]> {
    let query = this.b.db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', this.b.ws);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toEndpoint);
  }

  async get(id: string): Promise<WebhookEndpoint | null> {
    const r = await this.b.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toEndpoint(r) : null;
  }

  async enabled(): Promise<WebhookEndpoint[]> {
    const rows = await hot(this.b, enabledEndpoints, { ws: this.b.ws });
    return rows.map(toEndpoint);
  }

  async deliveries(endpointId: string, q: PageQuery): Promise<WebhookDelivery[]> {
    let query = this.b.db
      .selectFrom('webhook_outbox')
      .selectAll()
      .where('workspace_id', '=', this.b.ws)
      .where('endpoint_id', '=', endpointId);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toDelivery);
  }

  async delivery(endpointId: string, id: string): Promise<WebhookDelivery | null> {
    const r = await this.b.db
      .selectFrom('webhook_outbox')
      .selectAll()
      .where('workspace_id', '=', this.b.ws)
      .where('endpoint_id', '=', endpointId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toDelivery(r) : null;
  }
}

export class WebhooksWriter extends WebhooksReader implements WebhookWrites {
  async insert(e: WebhookEndpoint): Promise<void> {
    sameWorkspace(this.b, e.workspaceId, 'webhook endpoint');
    await this.b.db
      .insertInto('webhook_endpoints')
      .values({
        workspace_id: this.b.ws,
        id: e.id,
        url: e.url,
        events: JSON.stringify(e.events),
        enabled: e.enabled ? 1 : 0,
        description: e.description,
        secret: e.secret,
        previous_secret: e.previousSecret,
        previous_secret_until: e.previousSecretUntil,
        created_at: e.createdAt,
        updated_at: e.updatedAt,
      })
      .execute();
  }

  async update(id: string, p: WebhookEndpointPatch): Promise<WebhookEndpoint | null> {
    const set: Partial<WebhookEndpointsTable> = { updated_at: p.updatedAt };
    if (p.url !== undefined) set.url = p.url;
    if (p.events !== undefined) set.events = JSON.stringify(p.events);
    if (p.enabled !== undefined) set.enabled = p.enabled ? 1 : 0;
    if (p.description !== undefined) set.description = p.description;
    if (p.secret !== undefined) set.secret = p.secret;
    if (p.previousSecret !== undefined) set.previous_secret = p.previousSecret;
    if (p.previousSecretUntil !== undefined) set.previous_secret_until = p.previousSecretUntil;
    const r = await this.b.db
      .updateTable('webhook_endpoints')
      .set(set)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0 ? this.get(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    await this.b.db
      .deleteFrom('webhook_outbox')
      .where('workspace_id', '=', this.b.ws)
      .where('endpoint_id', '=', id)
      .execute();
    const r = await this.b.db
      .deleteFrom('webhook_endpoints')
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async enqueue(rows: NewWebhookDelivery[]): Promise<void> {
    if (rows.length === 0) return;
    await this.b.db
      .insertInto('webhook_outbox')
      .values(
        rows.map((d) => ({
          workspace_id: this.b.ws,
          id: d.id,
          endpoint_id: d.endpointId,
          event_type: d.eventType,
          event_id: d.eventId,
          payload: d.payload,
          attempts: 0,
          next_attempt_at: d.createdAt,
          state: 'pending',
          created_at: d.createdAt,
        })),
      )
      .execute();
  }

  async retry(endpointId: string, id: string, now: number): Promise<WebhookDelivery | null> {
    await this.b.db
      .updateTable('webhook_outbox')
      .set({ state: 'pending', next_attempt_at: now, lease_owner: null, lease_until: null })
      .where('workspace_id', '=', this.b.ws)
      .where('endpoint_id', '=', endpointId)
      .where('id', '=', id)
      .execute();
    return this.delivery(endpointId, id);
  }
}

/** Leases due deliveries across workspaces (inside an instance transaction). */
export async function claimDeliveries(
  c: Conn,
  q: { now: number; limit: number; owner: string; leaseUntil: number },
): Promise<ClaimedDelivery[]> {
  let due = c.db
    .selectFrom('webhook_outbox as o')
    .innerJoin('webhook_endpoints as e', (j) =>
      j.onRef('e.workspace_id', '=', 'o.workspace_id').onRef('e.id', '=', 'o.endpoint_id'),
    )
    .select([
      'o.workspace_id',
      'o.id',
      'o.endpoint_id',
      'o.event_type',
      'o.payload',
      'o.attempts',
      'o.created_at',
      'e.url',
      'e.secret',
      'e.previous_secret',
      'e.previous_secret_until',
    ])
    .where('o.state', '=', 'pending')
    .where('o.next_attempt_at', '<=', q.now)
    .where((eb) => eb.or([eb('o.lease_until', 'is', null), eb('o.lease_until', '<', q.now)]))
    .where('e.enabled', '=', 1)
    .orderBy('o.next_attempt_at')
    .limit(q.limit);
  // PostgreSQL: rows another instance is claiming right now are passed over, not waited for
  if (c.lockRows) due = due.forUpdate('o').skipLocked();
  const rows = await due.execute();
  for (const r of rows) {
    await c.db
      .updateTable('webhook_outbox')
      .set({ lease_owner: q.owner, lease_until: q.leaseUntil })
      .where('workspace_id', '=', r.workspace_id)
      .where('id', '=', r.id)
      .execute();
  }
  return rows.map((r) => ({
    workspaceId: r.workspace_id,
    id: r.id,
    endpointId: r.endpoint_id,
    eventType: r.event_type,
    payload: r.payload,
    attempts: num(r.attempts),
    createdAt: num(r.created_at),
    url: r.url,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretUntil: numOrNull(r.previous_secret_until),
  }));
}

export async function settleDelivery(c: Conn, a: DeliveryAttempt): Promise<boolean> {
  const r = await c.db
    .updateTable('webhook_outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      state: a.state,
      next_attempt_at: a.nextAttemptAt,
      last_status: a.status,
      last_error: a.error,
      last_attempt_at: a.at,
      delivered_at: a.state === 'delivered' ? a.at : null,
      lease_owner: null,
      lease_until: null,
    }))
    .where('workspace_id', '=', a.workspaceId)
    .where('id', '=', a.id)
    .where('lease_owner', '=', a.owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
