import type { Conversation, Message, Role } from '../../domain/types.js';
import { ulidToUuid } from '../../ids.js';

export const uuidOf = (prefixed: string): string => ulidToUuid(prefixed.slice(prefixed.indexOf('_') + 1));

const FINI_ROLE: Record<Role, string> = { user: 'user', assistant: 'finibot', system: 'system', tool: 'tool' };

export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function summary(c: Conversation) {
  const attrs = c.metadata.userAttributes;
  return {
    id: uuidOf(c.id),
    createdAt: c.createdAt,
    source: str(c.metadata.source) ?? 'api',
    channel: str(c.metadata.channel),
    status: c.archived ? 'archived' : 'open',
    externalId: str(c.metadata.externalId),
    url: str(c.metadata.url),
    subjectPreview: c.title,
    hasFeedback: false,
    resolved: c.metadata.resolved === true,
    userAttributes: attrs !== null && typeof attrs === 'object' && !Array.isArray(attrs) ? attrs : {},
    usedArticles: [] as unknown[],
    usedSubfolders: [] as unknown[],
  };
}

export function event(m: Message) {
  return {
    id: uuidOf(m.id),
    createdAt: m.createdAt,
    role: FINI_ROLE[m.role],
    type: 'message' as const,
    message: m.content,
    externalId: str(m.metadata.externalId),
    externalCreatedAt: typeof m.metadata.externalCreatedAt === 'number' ? m.metadata.externalCreatedAt : null,
    csatRating: null,
    feedback: null,
    approved: null,
    resolved: null,
    attachments: [] as unknown[],
    tags: [] as unknown[],
    usedArticles: [] as unknown[],
  };
}
