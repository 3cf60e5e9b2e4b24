import type { Conversation, Json, JsonObject, Message } from '../../domain/types.js';
import { iso } from '../../http/presenters.js';

export const str = (v: Json | undefined, dflt: string): string => (typeof v === 'string' ? v : dflt);
export function stringMap(t: Json | undefined): Record<string, string> {
  if (t === null || t === undefined || typeof t !== 'object' || Array.isArray(t)) return {};
  return Object.fromEntries(Object.entries(t).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
export const tagsOf = (c: Conversation) => stringMap(c.metadata.tags);

/** Applies a request map onto the stored one: null or '' removes a key. */
export function merged(current: Record<string, string>, change: Record<string, string | null>): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(change)) {
    if (v === null || v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

export function conversation(c: Conversation) {
  const task = c.metadata.currentTaskId;
  const flow = c.metadata.currentWorkflowId;
  return {
    id: c.id,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    channel: str(c.metadata.channel, 'channel'),
    integration: str(c.metadata.integration, 'parley'),
    tags: tagsOf(c),
    messageCount: c.messageCount,
    ...(typeof task === 'string' ? { currentTaskId: task } : {}),
    ...(typeof flow === 'string' ? { currentWorkflowId: flow } : {}),
    ...(c.metadata.properties !== undefined ? { properties: stringMap(c.metadata.properties) } : {}),
  };
}

export function message(m: Message, c: Conversation) {
  const payload = m.metadata.payload;
  const type = m.metadata.type;
  return {
    id: m.id,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.createdAt),
    type: typeof type === 'string' ? type : 'text',
    payload:
      payload !== null && typeof payload === 'object' && !Array.isArray(payload)
        ? (payload as JsonObject)
        : { text: m.content },
    direction: m.role === 'user' ? ('incoming' as const) : ('outgoing' as const),
    userId: str(m.metadata.userId, c.userId ?? ''),
    conversationId: c.id,
    tags: stringMap(m.metadata.tags),
    // the official client types origin as 'synthetic' or absent
    ...(m.metadata.origin === 'synthetic' ? { origin: 'synthetic' as const } : {}),
  };
}

/**
 * Tag filters from the query: `tags.key=value` is what the official @botpress/client sends (qs
 * with allowDots); `tags[key]=value` (deepObject) is accepted too.
 */
export function tagQuery(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    const m = /^tags(?:\[(.+)\]|\.(.+))$/.exec(k);
    const name = m?.[1] ?? m?.[2];
    if (name && typeof v === 'string') out[name] = v;
  }
  return out;
}

/** A message's content in Parley (what search and the other surfaces read): payload.text, else the payload as JSON. */
export function contentOf(payload: JsonObject): string {
  return typeof payload.text === 'string' ? payload.text : JSON.stringify(payload);
}

/** What createMessage stores: the payload and Botpress fields in metadata, the text as content. */
export function messageInput(
  b: {
    payload: JsonObject;
    userId: string;
    type: string;
    tags: Record<string, string | null>;
    origin?: 'synthetic' | undefined;
  },
  incoming: boolean,
) {
  return {
    role: incoming ? ('user' as const) : ('assistant' as const),
    content: contentOf(b.payload),
    metadata: {
      type: b.type,
      payload: b.payload,
      userId: b.userId,
      tags: merged({}, b.tags),
      ...(b.origin !== undefined ? { origin: b.origin } : {}),
    },
  };
}
