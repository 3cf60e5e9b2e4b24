import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId, ulidToUuid } from '../src/ids.js';
import {
  Client,
  newWorkspace,
  type Reply,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { waitForJob } from './helpers/jobs.js';

/**
 * The authorization matrix: every operation of /openapi.json (native and every compat surface) ×
 * every kind of key × every kind of target, each cell checked against the answer a rule table
 * below derives (never against what the server said last time):
 *
 *   revoked or expired key                        → 401
 *   an instance-only route, not the instance key  → 403
 *   a key without the route's scope               → 403
 *   a route naming a user (body or filter), a user-bound key naming another user → 403
 *   a target the key cannot see (another workspace's, another user's for a user-bound key, a
 *   missing one)                                  → the surface's not-found answer, byte-identical
 *                                                   (request ids and the caller's own id aside) to
 *                                                   the missing target's
 *   otherwise                                     → 2xx
 *
 * A refused write leaves its target as it was. Both engines must give the same matrix.
 */

type Surface = 'native' | 'leadlex' | 'lexicon' | 'fini' | 'botpress' | 'openai';
type Scope = 'read:ai' | 'write:ai' | 'admin';
type TargetKind =
  | 'none'
  | 'conv'
  | 'tool'
  | 'message'
  | 'key'
  | 'workspace'
  | 'job'
  | 'user'
  | 'bodyConv'
  | 'bulkConv'
  | 'webhook';
type KeyKind = 'admin' | 'read' | 'write' | 'userBound' | 'revoked' | 'expired' | 'foreign' | 'instance';
type Target = 'own' | 'otherUser' | 'otherWorkspace' | 'missing' | 'none';

interface Op {
  /** Every scope the route needs. */
  scope: Scope | Scope[];
  target: TargetKind;
  instanceOnly?: boolean;
  /** Consumes its target: every cell gets a fresh one. */
  destructive?: boolean;
  body?: (t: Fix) => unknown;
  query?: (t: Fix) => string;
  /** The surface's answer for a target the key cannot see (default 404). */
  notFound?: number;
  /**
   * The route never acts on a conversation in view or on the ids the matrix fills in (restore acts
   * on the trash only; hold routes take hold ids): every target answers the not-found.
   */
  noVisibleTarget?: boolean;
  /** The user a {user_id} in the path names, when it must not be a fixture's (an erase). */
  pathUser?: string;
}

/** One target's ids, in the forms the surfaces use. */
interface Fix {
  ws: string;
  user: string;
  conv: string;
  tool: string;
  msg: string;
  key: string;
  webhook: string;
  delivery: string;
  job: string;
}

const BOT = 'bot_matrix';
const uuid = (id: string) => ulidToUuid(id.slice(id.indexOf('_') + 1));
const text = (t: Fix) => ({ conversationId: t.conv, userId: 'alice', type: 'text', payload: { text: 'hi' }, tags: {} });

/** Every operation the matrix covers; a new operation in /openapi.json without an entry fails the suite. */
const OPS: Record<string, Op> = {
  'POST /v1/conversations': { scope: 'write:ai', target: 'user', body: (t) => ({ title: 'm', user_id: t.user }) },
  'GET /v1/conversations': { scope: 'read:ai', target: 'user', query: (t) => `?user_id=${t.user}` },
  'GET /v1/conversations/{id}': { scope: 'read:ai', target: 'conv' },
  'PATCH /v1/conversations/{id}': { scope: 'write:ai', target: 'conv', body: () => ({ title: 'renamed' }) },
  'DELETE /v1/conversations/{id}': { scope: 'write:ai', target: 'conv', destructive: true },
  'POST /v1/conversations/{id}/messages': {
    scope: 'write:ai',
    target: 'conv',
    body: () => ({ role: 'user', content: 'matrix' }),
  },
  'GET /v1/conversations/{id}/messages': { scope: 'read:ai', target: 'conv' },
  'POST /v1/conversations/{id}/tool-invocations': {
    scope: 'write:ai',
    target: 'conv',
    body: () => ({ tool_name: 'm' }),
  },
  'GET /v1/conversations/{id}/tool-invocations': { scope: 'read:ai', target: 'conv' },
  'GET /v1/conversations/{id}/tool-invocations/{tool_id}': { scope: 'read:ai', target: 'tool' },
  'PATCH /v1/conversations/{id}/tool-invocations/{tool_id}': {
    scope: 'write:ai',
    target: 'tool',
    body: () => ({ status: 'running' }),
  },
  'POST /v1/conversations/{id}/stream-tokens': { scope: 'read:ai', target: 'conv', body: () => ({}) },
  'GET /v1/audit-events': { scope: 'admin', target: 'none' },
  'POST /v1/keys': { scope: 'admin', target: 'none', body: () => ({ name: 'm', scopes: ['read:ai'] }) },
  'GET /v1/keys': { scope: 'admin', target: 'none' },
  'GET /v1/keys/{id}': { scope: 'admin', target: 'key' },
  'DELETE /v1/keys/{id}': { scope: 'admin', target: 'key', destructive: true },
  'POST /v1/workspaces': { scope: 'admin', target: 'none', instanceOnly: true, body: () => ({ name: 'm' }) },
  'POST /v1/webhooks': {
    scope: 'admin',
    target: 'none',
    body: () => ({ url: 'http://127.0.0.1:9/m', events: ['conversation.deleted'] }),
  },
  'GET /v1/webhooks': { scope: 'admin', target: 'none' },
  'GET /v1/webhooks/{id}': { scope: 'admin', target: 'webhook' },
  'PATCH /v1/webhooks/{id}': { scope: 'admin', target: 'webhook', body: () => ({ description: 'm' }) },
  'DELETE /v1/webhooks/{id}': { scope: 'admin', target: 'webhook', destructive: true },
  'POST /v1/webhooks/{id}/rotate-secret': { scope: 'admin', target: 'webhook' },
  'GET /v1/webhooks/{id}/deliveries': { scope: 'admin', target: 'webhook' },
  'POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry': { scope: 'admin', target: 'webhook' },
  'GET /v1/workspaces': { scope: 'admin', target: 'none', instanceOnly: true },
  'GET /v1/workspaces/{id}': { scope: 'admin', target: 'workspace' },
  'PATCH /v1/workspaces/{id}': {
    scope: 'admin',
    target: 'workspace',
    instanceOnly: true,
    body: () => ({ name: 'renamed' }),
  },
  'GET /v1/conversations/{id}/export': { scope: 'read:ai', target: 'conv' },
  'GET /v1/export': { scope: 'read:ai', target: 'user', query: (t) => `?user_id=${t.user}` },
  // a JSON array of records is an import body too; an empty one imports nothing
  'POST /v1/import': { scope: 'write:ai', target: 'none', body: () => [] },
  // bulk delete answers not_found per id (200), identical for a foreign and a missing id
  'POST /v1/conversations/bulk-delete': {
    scope: 'write:ai',
    target: 'bulkConv',
    destructive: true,
    notFound: 200,
    body: (t) => ({ ids: [t.conv] }),
  },
  'POST /v1/conversations/{id}/restore': { scope: 'write:ai', target: 'conv', noVisibleTarget: true },
  'GET /v1/trash': { scope: 'read:ai', target: 'none' },
  'POST /v1/trash/purge': { scope: 'admin', target: 'none', body: () => ({}) },
  'GET /v1/workspace': { scope: 'admin', target: 'none' },
  'PATCH /v1/workspace': { scope: 'admin', target: 'none', body: () => ({ trash_days: 0 }) },
  'POST /v1/holds': { scope: 'admin', target: 'none', body: () => ({ target_type: 'matter_id', target_value: 'm' }) },
  'GET /v1/holds': { scope: 'admin', target: 'none' },
  'GET /v1/holds/{id}': { scope: 'admin', target: 'conv', noVisibleTarget: true },
  'POST /v1/holds/{id}/release': { scope: 'admin', target: 'conv', noVisibleTarget: true },
  'GET /v1/jobs': { scope: 'admin', target: 'none' },
  'GET /v1/jobs/{job_id}': { scope: 'admin', target: 'job' },
  'GET /v1/jobs/{job_id}/export': { scope: 'admin', target: 'job' },
  'DELETE /v1/jobs/{job_id}/export': { scope: 'admin', target: 'job', destructive: true },
  // a user with nothing stored: the erase is accepted for any admin key, in its own workspace
  'POST /v1/users/{user_id}/erase': { scope: 'admin', target: 'none', pathUser: 'matrix-nobody', body: () => ({}) },
  'GET /v1/retention': { scope: 'admin', target: 'none' },
  'PUT /v1/retention': {
    scope: 'admin',
    target: 'none',
    body: () => ({ default: null, users: { 'matrix-nobody': { action: 'archive', inactive_days: 3650 } }, bots: {} }),
  },
  'POST /v1/retention/run': { scope: 'admin', target: 'none', query: () => '?dry_run=true', body: () => ({}) },
  // LeadLex
  'GET /v1/lexi/conversations': { scope: 'read:ai', target: 'user', query: (t) => `?user_id=${t.user}` },
  'GET /v1/lexi/conversations/{id}': { scope: 'read:ai', target: 'conv' },
  'PATCH /v1/lexi/conversations/{id}': { scope: 'write:ai', target: 'conv', body: () => ({ title: 'renamed' }) },
  'DELETE /v1/lexi/conversations/{id}': { scope: 'write:ai', target: 'conv', destructive: true },
  // Lexicon
  'POST /api/v1/chats/': { scope: 'write:ai', target: 'user', body: (t) => ({ user_id: t.user }) },
  'POST /api/v1/chats': { scope: 'write:ai', target: 'user', body: (t) => ({ user_id: t.user }) },
  'GET /api/v1/chats/user/{user_id}': { scope: 'read:ai', target: 'user' },
  'GET /api/v1/chats/{chat_id}': { scope: 'read:ai', target: 'conv' },
  'DELETE /api/v1/chats/{chat_id}': { scope: 'write:ai', target: 'conv', destructive: true },
  'GET /api/v1/chats/{chat_id}/messages': { scope: 'read:ai', target: 'conv' },
  // Fini: its single DELETE answers {"success":true} for any id it cannot find (documented); the
  // bulk DELETE is all or none, 406 when any id is not found
  'DELETE /v2/hc-interactions/{id}/public': { scope: 'write:ai', target: 'conv', destructive: true, notFound: 200 },
  'GET /v2/hc-interactions/{id}/public': { scope: 'read:ai', target: 'conv' },
  'DELETE /v2/hc-interactions/public': {
    scope: 'write:ai',
    target: 'bulkConv',
    destructive: true,
    notFound: 406,
    body: (t) => ({ ids: [uuid(t.conv)] }),
  },
  'GET /v2/hc-interactions/public': { scope: 'read:ai', target: 'none' },
  // Botpress
  'GET /v1/chat/conversations': { scope: 'read:ai', target: 'none' },
  // a get-or-create answers an existing conversation or message, so it reads as well as writes
  'POST /v1/chat/conversations/get-or-create': {
    scope: ['read:ai', 'write:ai'],
    target: 'none',
    body: () => ({ channel: 'web', tags: { matrix: '1' } }),
  },
  'GET /v1/chat/conversations/{id}': { scope: 'read:ai', target: 'conv' },
  'PUT /v1/chat/conversations/{id}': { scope: 'write:ai', target: 'conv', body: () => ({ tags: { x: 'y' } }) },
  'DELETE /v1/chat/conversations/{id}': { scope: 'write:ai', target: 'conv', destructive: true },
  'GET /v1/chat/messages': { scope: 'read:ai', target: 'bodyConv', query: (t) => `?conversationId=${t.conv}` },
  'POST /v1/chat/messages': { scope: 'write:ai', target: 'bodyConv', body: text },
  // without discriminateByTags it never looks for an existing message: a plain create
  'POST /v1/chat/messages/get-or-create': { scope: 'write:ai', target: 'bodyConv', body: text },
  'PUT /v1/chat/messages/{id}': { scope: 'write:ai', target: 'message', body: () => ({ payload: { text: 'e' } }) },
  'GET /v1/chat/messages/{id}': { scope: 'read:ai', target: 'message' },
  'DELETE /v1/chat/messages/{id}': { scope: 'write:ai', target: 'message', destructive: true },
  // OpenAI
  'POST /openai/v1/conversations': { scope: 'write:ai', target: 'none', body: () => ({ metadata: { k: 'v' } }) },
  'GET /openai/v1/conversations/{conversation_id}': { scope: 'read:ai', target: 'conv' },
  'POST /openai/v1/conversations/{conversation_id}': {
    scope: 'write:ai',
    target: 'conv',
    body: () => ({ metadata: { k: 'w' } }),
  },
  'DELETE /openai/v1/conversations/{conversation_id}': { scope: 'write:ai', target: 'conv', destructive: true },
  'POST /openai/v1/conversations/{conversation_id}/items': {
    scope: 'write:ai',
    target: 'conv',
    body: () => ({ items: [{ type: 'message', role: 'user', content: 'hi' }] }),
  },
  'GET /openai/v1/conversations/{conversation_id}/items': { scope: 'read:ai', target: 'conv' },
  'GET /openai/v1/conversations/{conversation_id}/items/{item_id}': { scope: 'read:ai', target: 'message' },
  'DELETE /openai/v1/conversations/{conversation_id}/items/{item_id}': {
    scope: 'write:ai',
    target: 'message',
    destructive: true,
  },
};

/** Public pages and the live streams (their refusals are in realtime-*.test.ts and compat-lexicon-ws). */
const NOT_IN_MATRIX = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /examples/live',
  'GET /docs/errors',
  'GET /ws/chat',
  'GET /v1/conversations/{id}/stream',
  'GET /v1/conversations/{id}/events',
]);

const PREFIXES: Array<[string, Surface]> = [
  ['/v1/lexi', 'leadlex'],
  ['/v1/chat', 'botpress'],
  ['/api/', 'lexicon'],
  ['/v2/hc-interactions', 'fini'],
  ['/openai/v1', 'openai'],
  ['/v1/', 'native'],
];
const surfaceOf = (path: string): Surface => PREFIXES.find(([p]) => path.startsWith(p))?.[1] ?? 'native';

interface KeySpec {
  scopes: Scope[];
  /** 'A', 'B' or the instance's default workspace. */
  ws: 'A' | 'B' | 'default';
  user?: string;
  dead?: boolean;
  instance?: boolean;
}
const KEYS: Record<KeyKind, KeySpec> = {
  admin: { scopes: ['admin', 'read:ai', 'write:ai'], ws: 'A' },
  read: { scopes: ['read:ai'], ws: 'A' },
  write: { scopes: ['write:ai'], ws: 'A' },
  userBound: { scopes: ['read:ai', 'write:ai'], ws: 'A', user: 'alice' },
  revoked: { scopes: ['admin', 'read:ai', 'write:ai'], ws: 'A', dead: true },
  expired: { scopes: ['admin', 'read:ai', 'write:ai'], ws: 'A', dead: true },
  foreign: { scopes: ['admin', 'read:ai', 'write:ai'], ws: 'B' },
  instance: { scopes: ['admin', 'read:ai', 'write:ai'], ws: 'default', instance: true },
};

/** Where each target lives: own = workspace A, alice's; otherUser = A, bob's; otherWorkspace = B, alice's. */
const TARGET_HOME: Record<Exclude<Target, 'none' | 'missing'>, { ws: 'A' | 'B'; user: string }> = {
  own: { ws: 'A', user: 'alice' },
  otherUser: { ws: 'A', user: 'bob' },
  otherWorkspace: { ws: 'B', user: 'alice' },
};

/** Which targets a route's kind of target can take. */
function targetsFor(kind: TargetKind): Target[] {
  switch (kind) {
    case 'none':
      return ['none'];
    case 'user':
      return ['own', 'otherUser'];
    case 'key':
    case 'workspace':
    case 'webhook':
    case 'job':
      // keys, workspaces, webhooks and jobs belong to no user
      return ['missing', 'own', 'otherWorkspace'];
    default:
      return ['missing', 'own', 'otherUser', 'otherWorkspace'];
  }
}

type Expect = { ok: true } | { ok: false; status: number; sameAsMissing: boolean };

/** The rule table: what a cell must answer, from the route, the key and the target alone. */
function expected(op: Op, key: KeySpec, target: Target): Expect {
  if (key.dead) return { ok: false, status: 401, sameAsMissing: false };
  if (op.instanceOnly && !key.instance) return { ok: false, status: 403, sameAsMissing: false };
  if (![op.scope].flat().every((s) => key.scopes.includes(s))) return { ok: false, status: 403, sameAsMissing: false };
  if (op.target === 'none') return { ok: true };
  if (op.target === 'user') {
    const named = target === 'own' ? 'alice' : 'bob';
    return key.user !== undefined && key.user !== named
      ? { ok: false, status: 403, sameAsMissing: false }
      : { ok: true };
  }
  const notFound = { ok: false as const, status: op.notFound ?? 404, sameAsMissing: target !== 'missing' };
  if (target === 'missing' || target === 'none' || op.noVisibleTarget) return notFound;
  const home = TARGET_HOME[target];
  // the instance admin key reads and renames any workspace; everything else stays in its own
  const sameWorkspace = (op.target === 'workspace' && key.instance) || home.ws === key.ws;
  const userVisible =
    op.target === 'key' ||
    op.target === 'workspace' ||
    op.target === 'webhook' ||
    op.target === 'job' ||
    key.user === undefined ||
    key.user === home.user;
  return sameWorkspace && userVisible ? { ok: true } : notFound;
}

/** The body without what differs per request: request ids, Botpress error ids, the id the caller sent. */
function normalized(r: Reply, ids: string[]): string {
  let t = r.text.replace(/req_[0-9A-HJKMNP-TV-Z]{26}/g, '<rid>').replace(/err_\d{14}x[0-9a-f]{8}/g, '<eid>');
  for (const id of ids) t = t.split(id).join('<id>');
  return t;
}

/** Status of every cell per engine, compared once both engines ran. */
const matrices = new Map<string, Map<string, number>>();

for (const engine of testEngines()) {
  describe(`authorization matrix [${engine}]`, () => {
    let server: TestServer;
    let spec: any;
    let a: TestWorkspace;
    let b: TestWorkspace;
    const secrets = {} as Record<KeyKind, string>;
    const shared = {} as Record<Exclude<Target, 'none'>, Fix>;
    const cells = new Map<string, number>();

    const admins = () => ({ A: a.admin, B: b.admin });

    /** A conversation (alice's or bob's, for the Botpress bot) with a message and a tool invocation, and a key. */
    async function fixture(target: Exclude<Target, 'none'>): Promise<Fix> {
      if (target === 'missing') {
        return {
          ws: newId('workspace'),
          user: 'nobody',
          conv: newId('conversation'),
          tool: newId('toolInvocation'),
          msg: newId('message'),
          key: newId('apiKey'),
          webhook: newId('webhook'),
          delivery: newId('webhookDelivery'),
          job: newId('job'),
        };
      }
      const home = TARGET_HOME[target];
      const ws = home.ws === 'A' ? a : b;
      // a webhook that takes this conversation's creation (one delivery), disabled afterwards so that
      // later fixtures queue nothing to it; nothing listens on port 9
      const h = await ws.admin.post('/v1/webhooks', { url: 'http://127.0.0.1:9/m', events: ['conversation.created'] });
      assert.equal(h.status, 201, h.text);
      const webhook = h.body.data.webhook.id as string;
      const c = await ws.admin.post('/v1/conversations', {
        title: 'matrix',
        user_id: home.user,
        bot_id: BOT,
        messages: [{ role: 'user', content: 'matrix fixture' }],
      });
      assert.equal(c.status, 201, c.text);
      const t = await ws.admin.post(`/v1/conversations/${c.body.data.id}/tool-invocations`, { tool_name: 'fx' });
      assert.equal(t.status, 201, t.text);
      const k = await ws.key(['read:ai']);
      assert.equal((await ws.admin.patch(`/v1/webhooks/${webhook}`, { enabled: false })).status, 200);
      const d = await ws.admin.get(`/v1/webhooks/${webhook}/deliveries`);
      assert.equal(d.status, 200, d.text);
      // an erase with its export file (the user has nothing: a header and an end line), finished
      const j = await ws.admin.post('/v1/users/matrix-nobody/erase', { export_first: true });
      assert.equal(j.status, 202, j.text);
      assert.equal((await waitForJob(ws.admin, j.body.data.id)).state, 'succeeded');
      return {
        job: j.body.data.id,
        ws: ws.id,
        webhook,
        delivery: d.body.data[0].id,
        user: home.user,
        conv: c.body.data.id,
        tool: t.body.data.id,
        msg: c.body.data.messages[0].id,
        key: k.id,
      };
    }

    /** What a refused write must leave as it was, read by the target's own workspace admin. */
    async function snapshot(kind: TargetKind, target: Target, f: Fix): Promise<string> {
      if (target === 'missing' || target === 'none' || kind === 'none' || kind === 'user') return '';
      const admin = admins()[TARGET_HOME[target].ws];
      if (kind === 'key') return (await admin.get(`/v1/keys/${f.key}`)).text;
      if (kind === 'webhook')
        return (await admin.get(`/v1/webhooks/${f.webhook}`)).text.replace(/req_[0-9A-HJKMNP-TV-Z]{26}/g, '');
      if (kind === 'workspace') return (await admin.get(`/v1/workspaces/${f.ws}`)).text;
      const c = await admin.get(`/v1/conversations/${f.conv}`);
      const m = await admin.get(`/v1/conversations/${f.conv}/messages`);
      const t = await admin.get(`/v1/conversations/${f.conv}/tool-invocations/${f.tool}`);
      return `${c.status} ${c.text}\n${m.status} ${m.text}\n${t.status} ${t.text}`.replace(
        /req_[0-9A-HJKMNP-TV-Z]{26}/g,
        '',
      );
    }

    before(async () => {
      server = await startServer(engine, {
        limits: { rate: 10_000_000, rateAnonymous: 10_000_000 },
        webhooks: { allowPrivate: true },
        // the matrix asks for many erasures of a user with nothing: no VACUUM after each
        jobs: { eraseVacuum: 'off' },
      });
      a = await newWorkspace(server, 'matrix-a');
      b = await newWorkspace(server, 'matrix-b');
      secrets.admin = (await a.key(['admin', 'read:ai', 'write:ai'])).secret;
      secrets.read = (await a.key(['read:ai'])).secret;
      secrets.write = (await a.key(['write:ai'])).secret;
      secrets.userBound = (await a.key(['read:ai', 'write:ai'], { user_id: 'alice' })).secret;
      const revoked = await a.key(['admin', 'read:ai', 'write:ai']);
      assert.equal((await a.admin.delete(`/v1/keys/${revoked.id}`)).status, 200);
      secrets.revoked = revoked.secret;
      const expiring = await a.key(['admin', 'read:ai', 'write:ai'], {
        expires_at: new Date(server.clock.now() + 60_000).toISOString(),
      });
      assert.equal((await expiring.client.get('/v1/conversations')).status, 200, 'works before it expires');
      server.clock.advance(61_000);
      secrets.expired = expiring.secret;
      secrets.foreign = (await b.key(['admin', 'read:ai', 'write:ai'])).secret;
      secrets.instance = server.instanceKey;
      for (const t of ['own', 'otherUser', 'otherWorkspace', 'missing'] as const) shared[t] = await fixture(t);
      spec = (await new Client(server.url).get('/openapi.json')).body;
    });
    after(async () => server.close());

    function request(surface: Surface, template: string, op: Op, secret: string, f: Fix) {
      const conv = surface === 'lexicon' || surface === 'fini' ? uuid(f.conv) : f.conv;
      const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        if (name === 'tool_id') return f.tool;
        if (name === 'item_id') return f.msg;
        if (name === 'user_id') return op.pathUser ?? f.user;
        if (name === 'job_id') return f.job;
        if (template.startsWith('/v1/keys/')) return f.key;
        if (name === 'delivery_id') return f.delivery;
        if (template.startsWith('/v1/webhooks/')) return f.webhook;
        if (template.startsWith('/v1/workspaces/')) return f.ws;
        if (template.startsWith('/v1/chat/messages/')) return f.msg;
        return conv;
      });
      const headers: Record<string, string> =
        surface === 'lexicon' ? { 'x-api-key': secret } : { authorization: `Bearer ${secret}` };
      if (surface === 'botpress') headers['x-bot-id'] = BOT;
      return {
        path: path + (op.query?.(f) ?? ''),
        headers,
        body: op.body?.(f),
        ids: [f.conv, uuid(f.conv), f.tool, f.msg, f.key, f.ws, f.webhook, f.delivery],
      };
    }

    test('every operation of /openapi.json is in the matrix, and the matrix names no other', () => {
      const listed = new Set<string>();
      for (const [template, ops] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
        for (const m of Object.keys(ops)) {
          const name = `${m.toUpperCase()} ${template}`;
          if (!NOT_IN_MATRIX.has(name)) listed.add(name);
        }
      }
      assert.deepEqual(
        [...listed].filter((n) => !(n in OPS)),
        [],
        'operations without a row',
      );
      assert.deepEqual(
        Object.keys(OPS).filter((n) => !listed.has(n)),
        [],
        'rows without an operation',
      );
    });

    // ~1,400 requests: ~15 s alone, several times that on a loaded machine
    test('route × key kind × target: every cell answers what the rule table says', { timeout: 600_000 }, async () => {
      const failures: string[] = [];
      const perKind = new Map<KeyKind, number>();
      // A destructive route's target, per target kind: a refused cell leaves it as it was (checked
      // below, by snapshot), so the next cell reuses it; a cell that acted on it, or changed it
      // when it should not have, retires it and the next cell makes a new one
      const unspent = new Map<Target, Fix>();
      let made = 0;
      // A target's snapshot as the last refused write left it, until any write succeeds (which may
      // change what a snapshot reads). A stale one could only make a correct refusal look like a
      // change (a failure), never hide one.
      const seen = new Map<string, string>();
      for (const [name, op] of Object.entries(OPS)) {
        const [method = '', template = ''] = name.split(' ');
        const surface = surfaceOf(template);
        for (const kind of Object.keys(KEYS) as KeyKind[]) {
          const key = KEYS[kind];
          let missingBody: string | null = null;
          for (const target of targetsFor(op.target)) {
            const fresh = op.destructive && target !== 'missing' && target !== 'none';
            let f: Fix;
            if (target === 'none') f = shared.own;
            else if (fresh) {
              const spare = unspent.get(target);
              unspent.delete(target);
              if (spare === undefined) made++;
              f = spare ?? (await fixture(target));
            } else f = shared[target];
            const want = expected(op, key, target);
            const writes = method !== 'GET';
            const shot = `${op.target} ${target} ${f.ws} ${f.conv} ${f.key} ${f.webhook}`;
            const before = writes && !want.ok ? (seen.get(shot) ?? (await snapshot(op.target, target, f))) : '';
            const req = request(surface, template, op, secrets[kind], f);
            const r = await new Client(server.url).request(method, req.path, { body: req.body, headers: req.headers });
            const cell = `${name} | ${kind} | ${target}`;
            cells.set(cell, r.status);
            perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
            const got = `${r.status} ${r.text.slice(0, 200)}`;
            // only a refusal may hand its target on, and only once its snapshot is seen unchanged
            const handOn = fresh && !want.ok && r.status === want.status;
            if (writes && (r.status < 400 || r.status >= 500)) seen.clear();
            if (r.status >= 500) {
              failures.push(`${cell}: a 5xx: ${got}`);
              continue;
            }
            if (want.ok) {
              if (r.status < 200 || r.status >= 300) failures.push(`${cell}: expected 2xx, got ${got}`);
              continue;
            }
            if (r.status !== want.status) {
              failures.push(`${cell}: expected ${want.status}, got ${got}`);
              continue;
            }
            const body = normalized(r, req.ids);
            if (target === 'missing') missingBody = body;
            if (want.sameAsMissing) {
              if (missingBody === null) failures.push(`${cell}: no missing-target answer to compare with`);
              else if (body !== missingBody)
                failures.push(`${cell}: not byte-identical to a missing target:\n  ${body}\n  ${missingBody}`);
            }
            if (writes) {
              const after = await snapshot(op.target, target, f);
              if (after !== before) failures.push(`${cell}: a refused write changed its target:\n${before}\n${after}`);
              else {
                seen.set(shot, after);
                if (handOn) unspent.set(target, f);
              }
            } else if (handOn) unspent.set(target, f);
          }
        }
      }
      const kinds = Object.keys(KEYS) as KeyKind[];
      assert.deepEqual(
        kinds.filter((k) => !perKind.get(k)),
        [],
        'every key kind was tried',
      );
      assert.ok(cells.size > 1000, `${cells.size} cells`);
      console.log(
        `# authorization matrix [${engine}]: ${cells.size} cells, ${made} targets made for destructive cells`,
      );
      assert.deepEqual(failures, [], `${failures.length} of ${cells.size} cells differ from the rule table`);
      matrices.set(engine, cells);
    });
  });
}

if (testEngines().length > 1) {
  test('the authorization matrix is identical on every engine', () => {
    const [first, ...rest] = testEngines();
    const base: Map<string, number> | undefined = matrices.get(first as string);
    assert.ok(base, `the ${first} matrix ran`);
    for (const e of rest) {
      const other: Map<string, number> | undefined = matrices.get(e);
      assert.ok(other, `the ${e} matrix ran`);
      const differ: string[] = [...base.keys()].filter((k) => base.get(k) !== other.get(k));
      assert.equal(other.size, base.size);
      assert.deepEqual(differ, [], `cells that differ between ${first} and ${e}`);
    }
  });
}
