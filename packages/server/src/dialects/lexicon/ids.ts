import type { Conversation, Message } from '../../domain/types.js';
import { ulidToUuid } from '../../ids.js';

/** Lexicon shows chat ids as UUIDs: the same 128 bits as our conv_ ULID. */
export const chatId = (c: Pick<Conversation, 'id'>): string => ulidToUuid(c.id.slice('conv_'.length));
export const messageId = (m: Pick<Message, 'id'>): string => ulidToUuid(m.id.slice('msg_'.length));
