/** Ids a route template can need; filled per test from fresh fixtures. */
export interface Ids {
  id: string;
  tool_id: string;
  key_id: string;
  ws_id: string;
  webhook_id: string;
  delivery_id: string;
  job_id: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  scope: 'read:ai' | 'write:ai' | 'admin';
  body?: () => unknown;
  /** Instance admin key only (a workspace admin key is refused too). */
  instanceOnly?: boolean;
  /**
   * How the route names a user, for the user-bound key checks: the request with `user` in its body
   * or filter. Routes that address a conversation by {id} are checked on another user's objects.
   */
  namesUser?: { body?: (user: string) => unknown; query?: (user: string) => string };
  /** Acts on the trash only: a conversation in view is 404 to it too (restore; tested in lifecycle.test.ts). */
  trashOnly?: boolean;
  /** Its path parameter is a caller's name for a user, not a stored object: no id is foreign or missing. */
  namesNoObject?: boolean;
}

/**
 * Every native /v1 request-response route: http/routes/conversations.ts, keys.ts and the stream-token
 * route of realtime/routes.ts. docs-catalog checks this list is whole. The two live streams (WebSocket
 * /stream, SSE /events) never end on success, so their refusals are tested in realtime-*.test.ts.
 */
export const STREAMING_ROUTES = ['GET /v1/conversations/{id}/stream', 'GET /v1/conversations/{id}/events'];
export const NATIVE_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/v1/conversations',
    scope: 'write:ai',
    body: () => ({ title: 'contract' }),
    namesUser: { body: (user) => ({ title: 'contract', user_id: user }) },
  },
  {
    method: 'GET',
    path: '/v1/conversations',
    scope: 'read:ai',
    namesUser: { query: (user) => `?user_id=${user}` },
  },
  { method: 'GET', path: '/v1/conversations/{id}', scope: 'read:ai' },
  { method: 'PATCH', path: '/v1/conversations/{id}', scope: 'write:ai', body: () => ({ title: 'renamed' }) },
  { method: 'DELETE', path: '/v1/conversations/{id}', scope: 'write:ai' },
  {
    method: 'POST',
    path: '/v1/conversations/{id}/messages',
    scope: 'write:ai',
    body: () => ({ role: 'user', content: 'hello' }),
  },
  { method: 'GET', path: '/v1/conversations/{id}/messages', scope: 'read:ai' },
  {
    method: 'POST',
    path: '/v1/conversations/{id}/tool-invocations',
    scope: 'write:ai',
    body: () => ({ tool_name: 'lookup' }),
  },
  { method: 'GET', path: '/v1/conversations/{id}/tool-invocations', scope: 'read:ai' },
  { method: 'GET', path: '/v1/conversations/{id}/tool-invocations/{tool_id}', scope: 'read:ai' },
  {
    method: 'PATCH',
    path: '/v1/conversations/{id}/tool-invocations/{tool_id}',
    scope: 'write:ai',
    body: () => ({ status: 'succeeded' }),
  },
  { method: 'GET', path: '/v1/audit-events', scope: 'admin' },
  { method: 'GET', path: '/v1/conversations/{id}/export', scope: 'read:ai' },
  { method: 'GET', path: '/v1/export', scope: 'read:ai' },
  {
    method: 'POST',
    path: '/v1/import',
    scope: 'write:ai',
    body: () => [{ messages: [{ role: 'user', content: 'contract' }] }],
  },
  { method: 'POST', path: '/v1/conversations/{id}/stream-tokens', scope: 'read:ai', body: () => ({}) },
  { method: 'POST', path: '/v1/keys', scope: 'admin', body: () => ({ name: 'contract', scopes: ['read:ai'] }) },
  { method: 'GET', path: '/v1/keys', scope: 'admin' },
  { method: 'GET', path: '/v1/keys/{key_id}', scope: 'admin' },
  { method: 'DELETE', path: '/v1/keys/{key_id}', scope: 'admin' },
  { method: 'POST', path: '/v1/workspaces', scope: 'admin', body: () => ({ name: 'contract' }), instanceOnly: true },
  { method: 'GET', path: '/v1/workspaces', scope: 'admin', instanceOnly: true },
  { method: 'GET', path: '/v1/jobs', scope: 'admin' },
  { method: 'GET', path: '/v1/jobs/{job_id}', scope: 'admin' },
  { method: 'GET', path: '/v1/jobs/{job_id}/export', scope: 'admin' },
  { method: 'DELETE', path: '/v1/jobs/{job_id}/export', scope: 'admin' },
  { method: 'POST', path: '/v1/users/{user_id}/erase', scope: 'admin', body: () => ({}), namesNoObject: true },
  { method: 'GET', path: '/v1/retention', scope: 'admin' },
  {
    method: 'PUT',
    path: '/v1/retention',
    scope: 'admin',
    body: () => ({ default: null, users: { 'contract-user': { action: 'archive', inactive_days: 3650 } }, bots: {} }),
  },
  { method: 'POST', path: '/v1/retention/run', scope: 'admin', body: () => ({}) },
  // a workspace admin key reads its own workspace; another one is 404 like a missing one
  { method: 'GET', path: '/v1/workspaces/{ws_id}', scope: 'admin' },
  {
    method: 'PATCH',
    path: '/v1/workspaces/{ws_id}',
    scope: 'admin',
    body: () => ({ name: 'contract renamed' }),
    instanceOnly: true,
  },
  { method: 'POST', path: '/v1/conversations/bulk-delete', scope: 'write:ai', body: () => ({ ids: ['conv_x'] }) },
  { method: 'POST', path: '/v1/conversations/{id}/restore', scope: 'write:ai', trashOnly: true },
  { method: 'GET', path: '/v1/trash', scope: 'read:ai' },
  { method: 'POST', path: '/v1/trash/purge', scope: 'admin', body: () => ({}) },
  { method: 'GET', path: '/v1/workspace', scope: 'admin' },
  { method: 'PATCH', path: '/v1/workspace', scope: 'admin', body: () => ({ trash_days: 0 }) },
  {
    method: 'POST',
    path: '/v1/holds',
    scope: 'admin',
    body: () => ({ target_type: 'matter_id', target_value: 'contract' }),
  },
  { method: 'GET', path: '/v1/holds', scope: 'admin' },
  { method: 'GET', path: '/v1/holds/{hold_id}', scope: 'admin' },
  { method: 'POST', path: '/v1/holds/{hold_id}/release', scope: 'admin' },
  {
    method: 'POST',
    path: '/v1/webhooks',
    scope: 'admin',
    body: () => ({ url: 'http://127.0.0.1:9/contract', events: ['conversation.deleted'] }),
  },
  { method: 'GET', path: '/v1/webhooks', scope: 'admin' },
  { method: 'GET', path: '/v1/webhooks/{webhook_id}', scope: 'admin' },
  { method: 'PATCH', path: '/v1/webhooks/{webhook_id}', scope: 'admin', body: () => ({ enabled: true }) },
  { method: 'DELETE', path: '/v1/webhooks/{webhook_id}', scope: 'admin' },
  { method: 'POST', path: '/v1/webhooks/{webhook_id}/rotate-secret', scope: 'admin' },
  { method: 'GET', path: '/v1/webhooks/{webhook_id}/deliveries', scope: 'admin' },
  { method: 'POST', path: '/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry', scope: 'admin' },
];

export const fill = (template: string, ids: Ids): string =>
  template
    .replace('{id}', ids.id)
    .replace('{tool_id}', ids.tool_id)
    .replace('{key_id}', ids.key_id)
    .replace('{ws_id}', ids.ws_id)
    .replace('{hold_id}', 'hold_01J00000000000000000000000')
    .replace('{webhook_id}', ids.webhook_id)
    .replace('{delivery_id}', ids.delivery_id);
