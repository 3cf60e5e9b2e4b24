/**
 * OpenAPI operationIds: the names generated clients give their methods, so they must be stable.
 * The table names every native operation explicitly; each compat surface names its own (prefixed
 * by product) in its descriptor. A route missing from both still gets a unique id derived from
 * its method and path, and a test holds ids unique.
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
  'GET /v1/conversations/{id}/export': 'exportConversation',
  'GET /v1/export': 'exportConversations',
  'POST /v1/import': 'importConversations',
  'POST /v1/keys': 'createApiKey',
  'GET /v1/keys': 'listApiKeys',
  'GET /v1/keys/{id}': 'getApiKey',
  'DELETE /v1/keys/{id}': 'revokeApiKey',
  'POST /v1/workspaces': 'createWorkspace',
  'POST /v1/conversations/bulk-delete': 'bulkDeleteConversations',
  'POST /v1/conversations/{id}/restore': 'restoreConversation',
  'GET /v1/trash': 'listTrash',
  'POST /v1/trash/purge': 'purgeTrash',
  'GET /v1/workspace': 'getOwnWorkspace',
  'PATCH /v1/workspace': 'updateOwnWorkspace',
  'POST /v1/holds': 'createHold',
  'GET /v1/holds': 'listHolds',
  'GET /v1/holds/{id}': 'getHold',
  'POST /v1/holds/{id}/release': 'releaseHold',
  'POST /v1/webhooks': 'createWebhook',
  'GET /v1/webhooks': 'listWebhooks',
  'GET /v1/webhooks/{id}': 'getWebhook',
  'PATCH /v1/webhooks/{id}': 'updateWebhook',
  'DELETE /v1/webhooks/{id}': 'deleteWebhook',
  'POST /v1/webhooks/{id}/rotate-secret': 'rotateWebhookSecret',
  'GET /v1/webhooks/{id}/deliveries': 'listWebhookDeliveries',
  'POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry': 'retryWebhookDelivery',
  'GET /v1/jobs/{job_id}': 'getJob',
  'GET /v1/jobs': 'listJobs',
  'GET /v1/jobs/{job_id}/export': 'getEraseExport',
  'DELETE /v1/jobs/{job_id}/export': 'deleteEraseExport',
  'POST /v1/users/{user_id}/erase': 'eraseUser',
  'GET /v1/retention': 'getRetentionPolicy',
  'PUT /v1/retention': 'putRetentionPolicy',
  'POST /v1/retention/run': 'runRetention',
};

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');

/** `GET /v1/conversations/:id` (Fastify) or `{id}` (OpenAPI) → its operationId. */
export function operationIdFor(method: string, url: string, more: Record<string, string> = {}): string {
  const path = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  const key = `${method.toUpperCase()} ${path}`;
  const listed = OPERATION_IDS[key] ?? more[key];
  if (listed) return listed;
  // e.g. DELETE /v1/workspaces/{id} → deleteV1WorkspacesById
  const parts = path.split('/').filter(Boolean);
  const statics = parts.filter((p) => !p.startsWith('{')).map(pascal);
  const params = parts.filter((p) => p.startsWith('{')).map((p) => pascal(p.slice(1, -1)));
  return `${method.toLowerCase()}${statics.join('')}${params.length ? `By${params.join('And')}` : ''}${path.endsWith('/') ? 'Slash' : ''}`;
}
