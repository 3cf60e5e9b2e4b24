/**
 * OpenAPI operationIds: the names generated clients give their methods, so they must be stable.
 * The table names every operation explicitly (compat ones prefixed by product); a route missing
 * from it still gets a unique id derived from its method and path, and a test holds ids unique.
 * One table here rather than a field in each route keeps the names consistent with each other.
 */
const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'GET /docs/errors': 'listErrorCodes',
  'GET /examples/live': 'getLiveExamplePage',

  'POST /v1/conversations': 'createConversation',
  'GET /v1/conversations': 'listConversations',
  'GET /v1/conversations/{id}': 'getConversation',
  'PATCH /v1/conversations/{id}': 'updateConversation',
  'DELETE /v1/conversations/{id}': 'deleteConversation',
  'POST /v1/conversations/{id}/messages': 'createMessage',
  'GET /v1/conversations/{id}/messages': 'listMessages',
  'POST /v1/conversations/{id}/tool-invocations': 'createToolInvocation',
  'GET /v1/conversations/{id}/tool-invocations': 'listToolInvocations',
  'GET /v1/conversations/{id}/tool-invocations/{tool_id}': 'getToolInvocation',
  'PATCH /v1/conversations/{id}/tool-invocations/{tool_id}': 'updateToolInvocation',
  'GET /v1/conversations/{id}/stream': 'streamConversation',
  'GET /v1/conversations/{id}/events': 'streamConversationEvents',
  'POST /v1/conversations/{id}/stream-tokens': 'createStreamToken',
  'GET /v1/audit-events': 'listAuditEvents',
  'POST /v1/keys': 'createApiKey',
  'GET /v1/keys': 'listApiKeys',
  'GET /v1/keys/{id}': 'getApiKey',
  'DELETE /v1/keys/{id}': 'revokeApiKey',
  'POST /v1/workspaces': 'createWorkspace',

  'GET /v1/lexi/conversations': 'leadlexListConversations',
  'GET /v1/lexi/conversations/{id}': 'leadlexGetConversation',
  'PATCH /v1/lexi/conversations/{id}': 'leadlexUpdateConversation',
  'DELETE /v1/lexi/conversations/{id}': 'leadlexDeleteConversation',

  'POST /api/v1/chats/': 'lexiconCreateChat',
  'POST /api/v1/chats': 'lexiconCreateChatWithoutSlash',
  'GET /api/v1/chats/user/{user_id}': 'lexiconListUserChats',
  'GET /api/v1/chats/{chat_id}': 'lexiconGetChat',
  'DELETE /api/v1/chats/{chat_id}': 'lexiconDeleteChat',
  'GET /api/v1/chats/{chat_id}/messages': 'lexiconListChatMessages',
  'GET /ws/chat': 'lexiconChatSocket',

  'GET /v2/hc-interactions/public': 'finiListInteractions',
  'DELETE /v2/hc-interactions/public': 'finiBulkDeleteInteractions',
  'GET /v2/hc-interactions/{id}/public': 'finiGetInteraction',
  'DELETE /v2/hc-interactions/{id}/public': 'finiDeleteInteraction',

  'GET /v1/chat/conversations': 'botpressListConversations',
  'POST /v1/chat/conversations/get-or-create': 'botpressGetOrCreateConversation',
  'GET /v1/chat/conversations/{id}': 'botpressGetConversation',
  'PUT /v1/chat/conversations/{id}': 'botpressUpdateConversation',
  'DELETE /v1/chat/conversations/{id}': 'botpressDeleteConversation',
  'GET /v1/chat/messages': 'botpressListMessages',
  'POST /v1/chat/messages': 'botpressCreateMessage',
  'POST /v1/chat/messages/get-or-create': 'botpressGetOrCreateMessage',
  'GET /v1/chat/messages/{id}': 'botpressGetMessage',
  'PUT /v1/chat/messages/{id}': 'botpressUpdateMessage',
  'DELETE /v1/chat/messages/{id}': 'botpressDeleteMessage',
};

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');

/** `GET /v1/conversations/:id` (Fastify) or `{id}` (OpenAPI) → its operationId. */
export function operationIdFor(method: string, url: string): string {
  const path = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  const listed = OPERATION_IDS[`${method.toUpperCase()} ${path}`];
  if (listed) return listed;
  // e.g. DELETE /v1/workspaces/{id} → deleteV1WorkspacesById
  const parts = path.split('/').filter(Boolean);
  const statics = parts.filter((p) => !p.startsWith('{')).map(pascal);
  const params = parts.filter((p) => p.startsWith('{')).map((p) => pascal(p.slice(1, -1)));
  return `${method.toLowerCase()}${statics.join('')}${params.length ? `By${params.join('And')}` : ''}${path.endsWith('/') ? 'Slash' : ''}`;
}
