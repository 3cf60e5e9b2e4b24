import type { Conversation, ConversationContext, Message, ToolInvocation } from '../../domain/types.js';
import { isoSeconds, isoSecondsOrNull } from '../common.js';

const DOCUMENTED_CONTEXT = ['contact_id', 'deal_id', 'matter_id'] as const;

/** Only the context keys the page documents, and only those present. */
export function pickContext(c: ConversationContext, extra: readonly string[] = []) {
  const out: Record<string, unknown> = {};
  for (const k of [...DOCUMENTED_CONTEXT, ...extra]) if (c[k] !== undefined) out[k] = c[k];
  return out;
}

export function listItem(c: Conversation) {
  return {
    id: c.id,
    title: c.title,
    message_count: c.messageCount,
    last_message_at: isoSecondsOrNull(c.lastMessageAt),
    context: pickContext(c.context),
    archived: c.archived,
    created_at: isoSeconds(c.createdAt),
  };
}

/** Messages and (with include_tool_steps) tool steps interleaved, most recent first. */
export function lexiMessages(messages: Message[], tools: ToolInvocation[] | null, limit: number) {
  const callsOf = new Map<string, ToolInvocation[]>();
  for (const t of tools ?? []) {
    if (t.messageId === null) continue;
    callsOf.set(t.messageId, [...(callsOf.get(t.messageId) ?? []), t]);
  }
  const rows = messages.map((m) => ({
    at: m.createdAt,
    key: m.id,
    body: {
      id: m.id,
      role: m.role as string,
      content: m.content,
      tool_calls: (callsOf.get(m.id) ?? []).map((t) => ({
        id: t.id,
        name: t.toolName,
        input: t.input,
        status: t.status,
      })),
      tool_name: null as string | null,
      tool_output: null as unknown,
      created_at: isoSeconds(m.createdAt),
    },
  }));
  for (const t of tools ?? []) {
    rows.push({
      at: t.createdAt,
      key: t.id,
      body: {
        id: t.id,
        role: 'tool',
        content: '',
        tool_calls: [],
        tool_name: t.toolName,
        tool_output: t.output,
        created_at: isoSeconds(t.createdAt),
      },
    });
  }
  // ids are time-ordered ULIDs; same-millisecond rows keep their minting order
  rows.sort((a, b) => b.at - a.at || (a.key.slice(a.key.indexOf('_')) < b.key.slice(b.key.indexOf('_')) ? 1 : -1));
  return rows.slice(0, limit).map((r) => r.body);
}
