import type { Conversation, JsonObject, Message, Role } from '../../domain/types.js';
import { validation } from '../../errors.js';
import type { NewMessageInput } from '../../services/messages.js';

/**
 * OpenAI conversation items ⇄ Parley messages. Only message items with text content are stored;
 * a `developer` message is a Parley `system` message that remembers its OpenAI role, and content
 * given as several parts is kept as those parts (in the message's metadata) beside its joined text,
 * which is what search and the other surfaces read.
 */
const ROLES: Record<string, Role> = { user: 'user', assistant: 'assistant', system: 'system', developer: 'system' };
const TEXT_PARTS = new Set(['input_text', 'output_text']);
const MESSAGE_KEYS = new Set(['type', 'role', 'content', 'status', 'id', 'phase']);

interface Part {
  type: string;
  text: string;
}

/** Checks an input item and turns it into a message; refusals name the item, e.g. `items[2].type`. */
export function toNewMessage(raw: Record<string, unknown>, i: number): NewMessageInput {
  const at = `/body/items/${i}`;
  const type = raw.type ?? 'message';
  if (type !== 'message') {
    throw validation(
      `${at}/type`,
      `items[${i}] is a ${String(type)} item; Parley stores message items only (record tool calls with the native tool-invocations API)`,
    );
  }
  const unknown = Object.keys(raw).find((k) => !MESSAGE_KEYS.has(k));
  if (unknown !== undefined) throw validation(`${at}/${unknown}`, `items[${i}].${unknown} is not a known field`);
  const role = typeof raw.role === 'string' ? ROLES[raw.role] : undefined;
  if (role === undefined) {
    throw validation(`${at}/role`, `items[${i}].role must be one of user, assistant, system, developer`);
  }
  const metadata: JsonObject = {};
  if (raw.role === 'developer') metadata.openai_role = 'developer';
  if (typeof raw.content === 'string') return { role, content: raw.content, metadata };
  if (!Array.isArray(raw.content) || raw.content.length === 0) {
    throw validation(`${at}/content`, `items[${i}].content must be a string or a non-empty array of text parts`);
  }
  const parts: Part[] = raw.content.map((p: unknown, j: number) => {
    const part = p as Record<string, unknown> | null;
    if (part === null || typeof part !== 'object' || !TEXT_PARTS.has(String(part.type))) {
      throw validation(
        `${at}/content/${j}/type`,
        `items[${i}].content[${j}] must be an input_text or output_text part; Parley stores text only`,
      );
    }
    if (typeof part.text !== 'string') {
      throw validation(`${at}/content/${j}/text`, `items[${i}].content[${j}].text must be a string`);
    }
    return { type: String(part.type), text: part.text };
  });
  if (!(parts.length === 1 && parts[0]?.type === defaultPartType(role))) {
    metadata.openai_content = parts.map((p) => ({ type: p.type, text: p.text }));
  }
  return { role, content: parts.map((p) => p.text).join('\n'), metadata };
}

const defaultPartType = (role: string) => (role === 'assistant' ? 'output_text' : 'input_text');

function storedParts(m: Message): Part[] | null {
  const v = m.metadata.openai_content;
  if (!Array.isArray(v)) return null;
  const parts = v.filter(
    (p): p is { type: string; text: string } =>
      p !== null &&
      typeof p === 'object' &&
      !Array.isArray(p) &&
      typeof p.type === 'string' &&
      typeof p.text === 'string',
  );
  return parts.length === v.length ? parts : null;
}

export function item(m: Message) {
  const role = m.metadata.openai_role === 'developer' ? 'developer' : m.role;
  const parts = storedParts(m) ?? [{ type: defaultPartType(role), text: m.content }];
  return {
    id: m.id,
    type: 'message' as const,
    status: 'completed' as const,
    role,
    content: parts.map((p) => (p.type === 'output_text' ? { ...p, annotations: [] } : p)),
  };
}

/** String-valued metadata only: OpenAI metadata is a map of strings (other surfaces keep objects there). */
export function stringMetadata(metadata: JsonObject): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function conversation(c: Conversation) {
  return {
    id: c.id,
    object: 'conversation' as const,
    created_at: Math.floor(c.createdAt / 1000),
    metadata: stringMetadata(c.metadata),
  };
}

/** OpenAI's update replaces the metadata map: keys it no longer has are removed (null in Parley's merge). */
export function replacement(current: JsonObject, next: Record<string, string> | null): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const k of Object.keys(stringMetadata(current))) patch[k] = null;
  return { ...patch, ...(next ?? {}) };
}
