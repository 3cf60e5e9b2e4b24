import type { Conversation, JsonObject, Message, ToolInvocation } from '../domain/types.js';
import { iso, presentConversation, presentMessage, presentTool } from '../http/presenters.js';
import type { StoredEvent } from '../store/types.js';

/** Every event a live stream carries; docs/realtime.md is the contract. */
export const EVENT_TYPES = [
  'message.created',
  'message.updated',
  'message.deleted',
  'tool_invocation.created',
  'tool_invocation.updated',
  'conversation.updated',
  'conversation.archived',
  'conversation.deleted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What a write produces: the domain object, not yet presented (the log stays wire-neutral). */
export type EventPayload =
  | { type: 'message.created' | 'message.updated'; data: Message }
  | { type: 'message.deleted'; data: { id: string; conversationId: string } }
  | { type: 'tool_invocation.created' | 'tool_invocation.updated'; data: ToolInvocation }
  | { type: 'conversation.updated' | 'conversation.archived'; data: Conversation }
  | { type: 'conversation.deleted'; data: { id: string } };

/** A committed event of one conversation. */
export interface ConversationEvent {
  workspaceId: string;
  conversationId: string;
  seq: number;
  type: EventType;
  /** The payload's domain object as JSON text (what the log stores). */
  payload: string;
  createdAt: number;
}

/** The frame a client receives: `{seq, type, data, created_at}`. */
export interface WireEvent {
  seq: number;
  type: EventType;
  data: unknown;
  created_at: string;
}

/** Sink a write service hands its events to once their transaction has committed. */
export interface EventPublisher {
  publish(events: ConversationEvent[]): void;
}

export function fromStored(e: StoredEvent): ConversationEvent {
  return { ...e, type: e.type as EventType };
}

export function toWire(e: ConversationEvent): WireEvent {
  const raw = JSON.parse(e.payload) as JsonObject;
  let data: unknown;
  switch (e.type) {
    case 'message.created':
    case 'message.updated':
      data = presentMessage(raw as unknown as Message);
      break;
    case 'message.deleted':
      data = { id: raw.id, conversation_id: raw.conversationId };
      break;
    case 'tool_invocation.created':
    case 'tool_invocation.updated':
      data = presentTool(raw as unknown as ToolInvocation);
      break;
    case 'conversation.updated':
    case 'conversation.archived':
      data = presentConversation(raw as unknown as Conversation);
      break;
    default:
      data = raw;
  }
  return { seq: e.seq, type: e.type, data, created_at: iso(e.createdAt) };
}
