import type { AuthContext, WebhookDelivery, WebhookEndpoint } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import { refuseAddress } from '../webhooks/address.js';
import { newWebhookSecret, WEBHOOK_EVENT_TYPES } from '../webhooks/events.js';
import { recordAudit } from './audit.js';
import { actorKeyId, type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { type IdPageRequest, idPage, type Page } from './pages.js';
import type { UnitOfWork } from './unit-of-work.js';

export interface WebhookSettings {
  /** Endpoints may target non-public addresses. */
  allowPrivate: boolean;
  /** How long a rotated-out secret still signs. */
  secretOverlapMs: number;
  /** Wakes the delivery worker (after a manual retry). */
  wake?: () => void;
}

export interface NewWebhookInput {
  url: string;
  events: string[];
  enabled?: boolean | undefined;
  description?: string | null | undefined;
}

export interface WebhookPatchInput {
  url?: string | undefined;
  events?: string[] | undefined;
  enabled?: boolean | undefined;
  description?: string | null | undefined;
}

/** An endpoint with the secret shown once (create, rotate). */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/**
 * Webhook endpoints of a workspace and their delivery log, for its admins. A key bound to a
 * user may not manage them (they see every user's changes).
 */
export class WebhooksService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
    private readonly settings: WebhookSettings,
  ) {}

  private guard(auth: AuthContext): void {
    requireScope(auth, 'admin');
    if (auth.userId !== null) {
      throw new ParleyError('insufficient_permissions', 'An API key bound to a user cannot manage webhooks', {
        extra: { bound_user_id: auth.userId },
      });
    }
  }

  /** http(s), no credentials in it, and (unless allowed) a host whose every address is public. */
  private async checkUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw validation('/body/url', 'url must be an absolute http or https URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw validation('/body/url', 'url must be an http or https URL');
    }
    if (url.username !== '' || url.password !== '') {
      throw validation('/body/url', 'url must not carry credentials');
    }
    if (!this.settings.allowPrivate) {
      const why = await refuseAddress(url);
      if (why !== null) {
        throw new ParleyError('webhook_address_not_allowed', `Webhook URL refused: ${why}`, {
          details: [{ field: '/body/url', message: why }],
        });
      }
    }
    return url.toString();
  }

  private static events(events: string[]): string[] {
    const unique = [...new Set(events)];
    if (unique.length === 0) throw validation('/body/events', 'events must name at least one event type, or *');
    for (const e of unique) {
      if (e !== '*' && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)) {
        throw validation('/body/events', `unknown event type ${e}`);
      }
    }
    return unique.includes('*') ? ['*'] : unique;
  }

  private static id(raw: string): string {
    const id = parseId('webhook', raw);
    if (id === null) throw notFound('Webhook');
    return id;
  }

  async create(
    auth: AuthContext,
    input: NewWebhookInput,
    inTx?: InTransaction<EndpointWithSecret>,
  ): Promise<EndpointWithSecret> {
    this.guard(auth);
    const url = await this.checkUrl(input.url);
    const events = WebhooksService.events(input.events);
    const now = this.deps.clock.now();
    const endpoint: WebhookEndpoint = {
      id: newId('webhook', now),
      workspaceId: auth.workspaceId,
      url,
      events,
      enabled: input.enabled ?? true,
      description: input.description ?? null,
      secret: newWebhookSecret(),
      previousSecret: null,
      previousSecretUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        await w.webhooks.insert(endpoint);
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'webhook.created',
          targetType: 'webhook',
          targetId: endpoint.id,
          at: now,
        });
        return { endpoint, secret: endpoint.secret };
      },
      inTx,
    );
  }

  async list(auth: AuthContext, q: IdPageRequest): Promise<Page<WebhookEndpoint>> {
    this.guard(auth);
    return this.deps.store.read(auth.workspaceId, (r) =>
      idPage(this.cursors, auth.workspaceId, 'webhooks', q, (p) => r.webhooks.list(p)),
    );
  }

  async get(auth: AuthContext, rawId: string): Promise<WebhookEndpoint> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    const e = await this.deps.store.read(auth.workspaceId, (r) => r.webhooks.get(id));
    if (!e) throw notFound('Webhook');
    return e;
  }

  async update(
    auth: AuthContext,
    rawId: string,
    input: WebhookPatchInput,
    inTx?: InTransaction<WebhookEndpoint>,
  ): Promise<WebhookEndpoint> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    if (
      input.url === undefined &&
      input.events === undefined &&
      input.enabled === undefined &&
      input.description === undefined
    ) {
      throw validation('/body', 'Provide at least one of url, events, enabled, description');
    }
    const url = input.url === undefined ? undefined : await this.checkUrl(input.url);
    const events = input.events === undefined ? undefined : WebhooksService.events(input.events);
    const now = this.deps.clock.now();
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const updated = await w.webhooks.update(id, {
          ...(url !== undefined ? { url } : {}),
          ...(events !== undefined ? { events } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          updatedAt: now,
        });
        if (!updated) throw notFound('Webhook');
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'webhook.updated',
          targetType: 'webhook',
          targetId: id,
          at: now,
        });
        return updated;
      },
      inTx,
    );
  }

  /** Removes the endpoint and its delivery log; pending deliveries are not sent. */
  async delete(auth: AuthContext, rawId: string, inTx?: InTransaction<WebhookEndpoint>): Promise<WebhookEndpoint> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    const now = this.deps.clock.now();
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const current = await w.webhooks.get(id);
        if (!current || !(await w.webhooks.delete(id))) throw notFound('Webhook');
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'webhook.deleted',
          targetType: 'webhook',
          targetId: id,
          at: now,
        });
        return current;
      },
      inTx,
    );
  }

  /**
   * A new secret, shown once; the current one keeps signing (a second signature on every
   * delivery) for the overlap window, so receivers can switch without losing a delivery.
   */
  async rotateSecret(
    auth: AuthContext,
    rawId: string,
    inTx?: InTransaction<EndpointWithSecret>,
  ): Promise<EndpointWithSecret> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    const now = this.deps.clock.now();
    const secret = newWebhookSecret();
    return this.uow.write(
      auth.workspaceId,
      async ({ w }) => {
        const current = await w.webhooks.get(id);
        if (!current) throw notFound('Webhook');
        const overlap = this.settings.secretOverlapMs;
        const updated = await w.webhooks.update(id, {
          secret,
          previousSecret: overlap > 0 ? current.secret : null,
          previousSecretUntil: overlap > 0 ? now + overlap : null,
          updatedAt: now,
        });
        if (!updated) throw notFound('Webhook');
        await recordAudit(w, {
          actor: actorKeyId(auth),
          action: 'webhook.secret_rotated',
          targetType: 'webhook',
          targetId: id,
          at: now,
        });
        return { endpoint: updated, secret };
      },
      inTx,
    );
  }

  /** The endpoint's deliveries, newest first by default (keyset by delivery id). */
  async deliveries(auth: AuthContext, rawId: string, q: IdPageRequest): Promise<Page<WebhookDelivery>> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    return this.deps.store.read(auth.workspaceId, async (r) => {
      if (!(await r.webhooks.get(id))) throw notFound('Webhook');
      return idPage(
        this.cursors,
        auth.workspaceId,
        `webhook-deliveries:${id}`,
        q,
        (p) => r.webhooks.deliveries(id, p),
        'desc',
      );
    });
  }

  /** Makes a delivery due now (whatever its state); its retry window still counts from its creation. */
  async retryDelivery(
    auth: AuthContext,
    rawId: string,
    rawDeliveryId: string,
    inTx?: InTransaction<WebhookDelivery>,
  ): Promise<WebhookDelivery> {
    this.guard(auth);
    const id = WebhooksService.id(rawId);
    const deliveryId = parseId('webhookDelivery', rawDeliveryId);
    if (deliveryId === null) throw notFound('Delivery');
    const now = this.deps.clock.now();
    return this.uow
      .write(
        auth.workspaceId,
        async ({ w }) => {
          const d = await w.webhooks.retry(id, deliveryId, now);
          if (!d) throw notFound('Delivery');
          return d;
        },
        inTx,
      )
      .finally(() => this.settings.wake?.());
  }
}
