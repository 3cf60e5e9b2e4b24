/**
 * Every operation of the native API and the SDK method that calls it. A server test compares this
 * table with the generated openapi.json both ways: a new route without a method fails it.
 */
export const OPERATIONS = {
  'POST /v1/conversations': 'conversations.create',
  'GET /v1/conversations': 'conversations.list',
  'GET /v1/conversations/{id}': 'conversations.get',
  'PATCH /v1/conversations/{id}': 'conversations.update',
  'DELETE /v1/conversations/{id}': 'conversations.delete',
  'POST /v1/conversations/{id}/messages': 'messages.append',
  'GET /v1/conversations/{id}/messages': 'messages.list',
  'POST /v1/conversations/{id}/tool-invocations': 'toolInvocations.create',
  'GET /v1/conversations/{id}/tool-invocations': 'toolInvocations.list',
  'GET /v1/conversations/{id}/tool-invocations/{tool_id}': 'toolInvocations.get',
  'PATCH /v1/conversations/{id}/tool-invocations/{tool_id}': 'toolInvocations.update',
  'GET /v1/audit-events': 'audit.list',
  'GET /v1/conversations/{id}/export': 'exports.conversation',
  'GET /v1/export': 'exports.workspace',
  'POST /v1/import': 'imports.send',
  'POST /v1/keys': 'keys.create',
  'GET /v1/keys': 'keys.list',
  'GET /v1/keys/{id}': 'keys.get',
  'DELETE /v1/keys/{id}': 'keys.revoke',
  'POST /v1/workspaces': 'workspaces.create',
  'GET /v1/workspaces': 'workspaces.list',
  'GET /v1/workspaces/{id}': 'workspaces.get',
  'PATCH /v1/workspaces/{id}': 'workspaces.update',
  'POST /v1/conversations/{id}/stream-tokens': 'streams.token',
  'GET /v1/conversations/{id}/events': 'streams.events',
  'GET /v1/conversations/{id}/stream': 'streams.websocketUrl',
} as const;
