import type { Parley } from './api.js';

/**
 * The whole conversation as one JSON document, built in the browser (messages and tool invocations
 * page by page), and offered as a download. Nothing is sent anywhere else.
 */
export async function exportConversation(client: Parley, id: string): Promise<{ file: string; messages: number }> {
  const {
    messages: _recent,
    tool_invocations: _tools,
    live_connections: _live,
    ...conversation
  } = await client.conversations.get(id, { limit: 1 });
  const messages = await client.messages.list(id, { limit: 100 }).toArray();
  const tool_invocations = await client.toolInvocations.list(id, { limit: 100 }).toArray();
  const doc = {
    format: 'parley.conversation',
    version: 1,
    exported_at: new Date().toISOString(),
    conversation,
    messages,
    tool_invocations,
  };
  const file = `${id}.json`;
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { file, messages: messages.length };
}
