import type { Conversation, Message } from '../../domain/types.js';
import { ulidToUuid } from '../../ids.js';
import { isoSeconds, isoSecondsOrNull } from '../common.js';

/** Lexicon shows chat ids as UUIDs: the same 128 bits as our conv_ ULID. */
export const chatId = (c: Pick<Conversation, 'id'>): string => ulidToUuid(c.id.slice('conv_'.length));
export const messageId = (m: Pick<Message, 'id'>): string => ulidToUuid(m.id.slice('msg_'.length));

export function chat(c: Conversation) {
  return {
    id: chatId(c),
    user_id: c.userId,
    tenant_id: c.workspaceId,
    title: c.title,
    config: { metadata: c.metadata },
    created_at: isoSeconds(c.createdAt),
    updated_at: isoSeconds(c.updatedAt),
    last_message_at: isoSecondsOrNull(c.lastMessageAt),
  };
}

export function message(m: Message, c: Conversation) {
  return {
    id: messageId(m),
    chat_id: chatId(c),
    content: m.content,
    sender_role: m.role,
    metadata: m.metadata,
    created_at: isoSeconds(m.createdAt),
  };
}
