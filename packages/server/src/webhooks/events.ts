import { createHmac, randomBytes } from 'node:crypto';
import type { Conversation } from '../domain/types.js';

/** Every event a webhook endpoint can subscribe to (`*` subscribes to all, present and future). */
export const WEBHOOK_EVENT_TYPES = [
  'conversation.created',
  'conversation.updated',
  'conversation.archived',
  'conversation.deleted',
  'conversation.trashed',
  'conversation.restored',
  'conversation.purged',
  'user.erased',
  'retention.ran',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Whether an endpoint's filter takes this event type. */
export const subscribes = (filter: readonly string[], type: string): boolean =>
  filter.includes('*') || filter.includes(type);

/**
 * What a conversation event carries: ids, context ids, state and counts, never its title,
 * metadata or messages (a receiver that needs content reads it through the API with its key).
 */
export function conversationRef(c: Conversation): Record<string, unknown> {
  return {
    id: c.id,
    user_id: c.userId,
    bot_id: c.botId,
    contact_id: c.context.contact_id ?? null,
    deal_id: c.context.deal_id ?? null,
    matter_id: c.context.matter_id ?? null,
    archived: c.archived,
    message_count: c.messageCount,
    created_at: new Date(c.createdAt).toISOString(),
    updated_at: new Date(c.updatedAt).toISOString(),
  };
}

/** A new signing secret: `whsec_` and 32 random bytes in base64 (the HMAC key is those bytes). */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
