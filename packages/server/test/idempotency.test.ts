import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fingerprint } from '../src/services/idempotency.js';
import {
  type Client,
  newWorkspace,
  type Reply,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { bounded } from './helpers/live.js';
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';

const DAY_MS = 24 * 60 * 60 * 1000;
let keySeq = 0;
/** A fresh key per use, so tests never collide on a record left by another. */
const freshKey = (label: string) => `${label}-${Date.now()}-${++keySeq}`;
const idem = (key: string) => ({ 'idempotency-key': key });

/** One POST with an Idempotency-Key of arbitrary bytes, over a plain socket. */
async function rawPost(
  url: string,
  path: string,
  bearer: string,
  keyBytes: Buffer,
  json: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const head = Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${bearer}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\nIdempotency-Key: `,
    ),
    keyBytes,
    Buffer.from(`\r\n\r\n${json}`),
  ]);
  const answered = new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    // write, not end: a half-closed socket may be dropped before a slower engine answers;
    // Connection: close makes the server end it after the response
    const sock = net.connect(Number(port), hostname, () => sock.write(head));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    sock.on('error', reject);
  });
  const text = await bounded(answered, `the raw answer to POST ${path}`);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body };
}

function assertReplay(first: Reply, again: Reply): void {
  assert.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is not a replay');
  assert.equal(again.status, first.status);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get('content-type'), first.headers.get('content-type'));
  assert.match(again.headers.get('x-request-id') ?? '', /^req_/);
  assert.notEqual(again.headers.get('x-request-id'), first.headers.get('x-request-id'), 'a replay is a new request');
}

for (const engine of testEngines()) {
  describe(`idempotency [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;

    /** Conversations in the workspace, counted through the API. */
    const total = async (client: Client = api) => {
      const r = await client.get('/v1/conversations?archived=true&per_page=1');
      assert.equal(r.status, 200);
      assert.equal(r.body.meta.total_exact, true);
      return r.body.meta.total as number;
    };
    const newConversation = async (body: unknown = {}) => {
      const r = await api.post('/v1/conversations', body);
      assert.equal(r.status, 201, r.text);
      return r.body.data as { id: string; message_count: number };
    };

    let raw: RawInspector;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      api = (await ws.key(['read:ai', 'write:ai'])).client;
      raw = rawInspector(engine, server);
    });
    after(async () => {
      await raw?.close();
      await server.close();
    });

    test('POST conversation: replay has the same status and body, one conversation made', async () => {
      const before = await total();
      const key = freshKey('create');
      const body = { title: 'once', messages: [{ role: 'user', content: 'hello' }] };
      const first = await api.post('/v1/conversations', body, idem(key));
      assert.equal(first.status, 201);
      const again = await api.post('/v1/conversations', body, idem(key));
      assertReplay(first, again);
      assert.equal(await total(), before + 1);
    });

    test('POST message: replayed, exactly one message appended', async () => {
      const c = await newConversation();
      const key = freshKey('msg');
      const body = { role: 'user', content: 'only once' };
      const first = await api.post(`/v1/conversations/${c.id}/messages`, body, idem(key));
      assert.equal(first.status, 201);
      const again = await api.post(`/v1/conversations/${c.id}/messages`, body, idem(key));
      assertReplay(first, again);
      const got = await api.get(`/v1/conversations/${c.id}`);
      assert.equal(got.body.data.message_count, 1);
      assert.equal(got.body.data.messages.length, 1);
    });

    test('POST tool invocation: replayed, exactly one recorded', async () => {
      const c = await newConversation();
      const key = freshKey('tool');
      const body = { tool_name: 'search', input: { q: 'x' } };
      const first = await api.post(`/v1/conversations/${c.id}/tool-invocations`, body, idem(key));
      assert.equal(first.status, 201);
      const again = await api.post(`/v1/conversations/${c.id}/tool-invocations`, body, idem(key));
      assertReplay(first, again);
      const list = await api.get(`/v1/conversations/${c.id}/tool-invocations`);
      assert.equal(list.body.data.length, 1);
    });

    test('PATCH conversation: replay returns the stored answer, not the current state', async () => {
      const c = await newConversation();
      const key = freshKey('patch');
      const first = await api.patch(`/v1/conversations/${c.id}`, { title: 'A' }, idem(key));
      assert.equal(first.status, 200);
      // someone else changes it in between; the replay must still be the first answer
      assert.equal((await api.patch(`/v1/conversations/${c.id}`, { title: 'B' })).status, 200);
      const again = await api.patch(`/v1/conversations/${c.id}`, { title: 'A' }, idem(key));
      assertReplay(first, again);
      assert.equal(again.body.data.title, 'A');
      const got = await api.get(`/v1/conversations/${c.id}`);
      assert.equal(got.body.data.title, 'B', 'the replay did not run the patch again');
    });

    test('PATCH tool invocation: replayed', async () => {
      const c = await newConversation();
      const t = await api.post(`/v1/conversations/${c.id}/tool-invocations`, { tool_name: 'calc' });
      assert.equal(t.status, 201);
      const path = `/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`;
      const key = freshKey('patch-tool');
      const first = await api.patch(path, { status: 'succeeded', output: { n: 1 } }, idem(key));
      assert.equal(first.status, 200, first.text);
      assert.equal((await api.patch(path, { output: { n: 2 } })).status, 200);
      const again = await api.patch(path, { status: 'succeeded', output: { n: 1 } }, idem(key));
      assertReplay(first, again);
      assert.deepEqual((await api.get(path)).body.data.output, { n: 2 });
    });

    test('a replay after the conversation was deleted: 410 conversation_deleted, never the erased content', async () => {
      const h = (k: string) => ({ 'idempotency-key': k });
      const body = { title: 'wombatreplay', messages: [{ role: 'user' as const, content: 'wombatreplay content' }] };
      const created = await api.post('/v1/conversations', body, h('erase-create'));
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id as string;
      const appended = await api.post(
        `/v1/conversations/${id}/messages`,
        { role: 'user', content: 'wombatreplay 2' },
        h('erase-append'),
      );
      assert.equal(appended.status, 201);
      const bp = await api.request('PUT', `/v1/chat/conversations/${id}`, {
        body: { tags: { t: 'wombatreplay' } },
        headers: { 'x-bot-id': 'nobot', ...h('erase-bp') },
      });
      // a conversation without that bot is not Botpress's to change: nothing stored for that key
      assert.equal(bp.status, 404);
      assert.ok((await raw.storedAnswersMentioning(ws.id, 'wombatreplay')) >= 2, 'the answers hold the content');
      assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 204);
      assert.equal(await raw.storedAnswersMentioning(ws.id, 'wombatreplay'), 0, 'the stored answers were erased');
      const again = await api.post('/v1/conversations', body, h('erase-create'));
      assert.equal(again.status, 410, again.text);
      assert.equal(again.body.error.code, 'conversation_deleted');
      assert.ok(!again.text.includes('wombatreplay'));
      const appendAgain = await api.post(
        `/v1/conversations/${id}/messages`,
        { role: 'user', content: 'wombatreplay 2' },
        h('erase-append'),
      );
      assert.equal(appendAgain.status, 410);
      // the same key is still bound to its request: another body is refused as before
      const other = await api.post('/v1/conversations', { title: 'other' }, h('erase-create'));
      assert.equal(other.status, 422);
      // a compat surface answers the erased replay in its own shape
      const oa = { metadata: { k: 'wombatreplay' } };
      const made = await api.post('/openai/v1/conversations', oa, h('erase-openai'));
      assert.equal(made.status, 200, made.text);
      assert.equal((await api.delete(`/v1/conversations/${made.body.id}`)).status, 204);
      const oaAgain = await api.post('/openai/v1/conversations', oa, h('erase-openai'));
      assert.equal(oaAgain.status, 410, oaAgain.text);
      assert.equal(oaAgain.body.error.code, 'conversation_deleted');
      assert.equal(oaAgain.body.error.type, 'invalid_request_error');
      assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404, 'and nothing was created again');
    });

    test('a replay about a trashed conversation: 410 conversation_deleted while in the trash, the stored answer again after restore', async () => {
      // a workspace of its own: the trash is on there only
      const tws = await newWorkspace(server, 'trash-replay');
      assert.equal((await tws.admin.patch('/v1/workspace', { trash_days: 7 })).status, 200);
      const h = (k: string) => ({ 'idempotency-key': k });
      const body = { title: 'quokkatrash', messages: [{ role: 'user' as const, content: 'quokkatrash content' }] };
      const created = await tws.admin.post('/v1/conversations', body, h('trash-create'));
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id as string;
      const msg = { role: 'user', content: 'quokkatrash 2' };
      const appended = await tws.admin.post(`/v1/conversations/${id}/messages`, msg, h('trash-append'));
      assert.equal(appended.status, 201, appended.text);
      assert.equal((await tws.admin.delete(`/v1/conversations/${id}`)).status, 204);
      assert.equal((await tws.admin.get(`/v1/conversations/${id}`)).status, 404, 'in the trash: out of view');
      for (const [path, b, key] of [
        ['/v1/conversations', body, 'trash-create'],
        [`/v1/conversations/${id}/messages`, msg, 'trash-append'],
      ] as const) {
        const again = await tws.admin.post(path, b, h(key));
        assert.equal(again.status, 410, again.text);
        assert.equal(again.body.error.code, 'conversation_deleted');
        assert.ok(!again.text.includes('quokkatrash'), 'no content of the trashed conversation');
      }
      // a compat surface answers it in its own shape
      const oa = await tws.admin.post('/openai/v1/conversations', { metadata: { k: 'quokkatrash' } }, h('trash-oa'));
      assert.equal(oa.status, 200, oa.text);
      assert.equal((await tws.admin.delete(`/v1/conversations/${oa.body.id}`)).status, 204);
      const oaAgain = await tws.admin.post(
        '/openai/v1/conversations',
        { metadata: { k: 'quokkatrash' } },
        h('trash-oa'),
      );
      assert.equal(oaAgain.status, 410, oaAgain.text);
      assert.equal(oaAgain.body.error.type, 'invalid_request_error');
      // restored: the same keys replay the stored answers again, and nothing ran twice
      assert.equal((await tws.admin.post(`/v1/conversations/${id}/restore`)).status, 200);
      const replayed = await tws.admin.post('/v1/conversations', body, h('trash-create'));
      assertReplay(created, replayed);
      const replayedAppend = await tws.admin.post(`/v1/conversations/${id}/messages`, msg, h('trash-append'));
      assertReplay(appended, replayedAppend);
      assert.equal((await tws.admin.get(`/v1/conversations/${id}`)).body.data.message_count, 2);
      const list = await tws.admin.get('/v1/conversations?archived=true&per_page=10');
      assert.equal(list.body.meta.total, 1, 'one conversation: the replays made none');
    });

    test('DELETE conversation: a keyed repeat answers 204 again, an unkeyed repeat 404', async () => {
      const c = await newConversation();
      const before = await total();
      const key = freshKey('del');
      const first = await api.delete(`/v1/conversations/${c.id}`, idem(key));
      assert.equal(first.status, 204);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const again = await api.delete(`/v1/conversations/${c.id}`, idem(key));
      assert.equal(again.status, 204);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.text, '');
      assert.equal(await total(), before - 1);
      const unkeyed = await api.delete(`/v1/conversations/${c.id}`);
      assert.equal(unkeyed.status, 404);
      assert.equal(unkeyed.body.error.code, 'not_found');
      // exactly one audit event for it
      const audit = await ws.admin.get('/v1/audit-events?limit=100');
      const mine = audit.body.data.filter((e: { target_id: string }) => e.target_id === c.id);
      assert.equal(mine.length, 1);
    });

    test('POST /v1/keys: replay gives secret null and the same key; one key made', async () => {
      const countKeys = async () => (await ws.admin.get('/v1/keys')).body.data.length as number;
      const before = await countKeys();
      const key = freshKey('key');
      const body = { name: 'replayed', scopes: ['read:ai'] };
      const first = await ws.admin.post('/v1/keys', body, idem(key));
      assert.equal(first.status, 201);
      const secret = first.body.data.secret as string;
      assert.match(secret, /^prl_/);
      const again = await ws.admin.post('/v1/keys', body, idem(key));
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.body.data.secret, null, 'secrets are never stored');
      assert.deepEqual(again.body.data.key, first.body.data.key);
      assert.ok(secret.startsWith(again.body.data.key.prefix), 'the prefix still names the secret');
      assert.equal(await countKeys(), before + 1);
      assert.ok(!JSON.stringify(again.body).includes(secret));
    });

    test('DELETE /v1/keys/{id}: replayed, revoked once (one audit event)', async () => {
      const k = await ws.key(['read:ai']);
      const key = freshKey('revoke');
      const first = await ws.admin.delete(`/v1/keys/${k.id}`, idem(key));
      assert.equal(first.status, 200, first.text);
      assert.notEqual(first.body.data.revoked_at, null);
      const again = await ws.admin.delete(`/v1/keys/${k.id}`, idem(key));
      assertReplay(first, again);
      assert.equal((await k.client.get('/v1/conversations')).status, 401);
      const audit = await ws.admin.get('/v1/audit-events?limit=100');
      const revokes = audit.body.data.filter(
        (e: { target_id: string; action: string }) => e.target_id === k.id && e.action === 'api_key.revoked',
      );
      assert.equal(revokes.length, 1);
    });

    test('the same key with a different body or a different path: 422 idempotency_key_reused', async () => {
      const c1 = await newConversation();
      const c2 = await newConversation();
      const key = freshKey('reuse');
      const first = await api.post(`/v1/conversations/${c1.id}/messages`, { role: 'user', content: 'a' }, idem(key));
      assert.equal(first.status, 201);
      const otherBody = await api.post(
        `/v1/conversations/${c1.id}/messages`,
        { role: 'user', content: 'b' },
        idem(key),
      );
      assert.equal(otherBody.status, 422);
      assert.equal(otherBody.body.error.code, 'idempotency_key_reused');
      const otherPath = await api.post(
        `/v1/conversations/${c2.id}/messages`,
        { role: 'user', content: 'a' },
        idem(key),
      );
      assert.equal(otherPath.status, 422);
      assert.equal(otherPath.body.error.code, 'idempotency_key_reused');
      const otherMethod = await api.patch(`/v1/conversations/${c1.id}`, { title: 'x' }, idem(key));
      assert.equal(otherMethod.status, 422);
      // none of the refused requests had an effect
      assert.equal((await api.get(`/v1/conversations/${c1.id}`)).body.data.message_count, 1);
      assert.equal((await api.get(`/v1/conversations/${c2.id}`)).body.data.message_count, 0);
      assert.notEqual((await api.get(`/v1/conversations/${c1.id}`)).body.data.title, 'x');
      // and the original still replays
      const again = await api.post(`/v1/conversations/${c1.id}/messages`, { role: 'user', content: 'a' }, idem(key));
      assertReplay(first, again);
    });

    test('the same body with keys reordered is the same request', async () => {
      const key = freshKey('order');
      const first = await api.post('/v1/conversations', { title: 't', user_id: 'u' }, idem(key));
      const again = await api.request('POST', '/v1/conversations', {
        raw: '{"user_id":"u","title":"t"}',
        headers: { ...idem(key), 'content-type': 'application/json' },
      });
      assertReplay(first, again);
    });

    test('concurrent: 20 identical keyed POSTs make exactly one conversation', async () => {
      const before = await total();
      const key = freshKey('race');
      const body = { title: 'race', messages: [{ role: 'user', content: 'go' }] };
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => api.post('/v1/conversations', body, idem(key))),
      );
      const created = answers.filter((a) => a.status === 201);
      const busy = answers.filter((a) => a.status === 409);
      assert.equal(created.length + busy.length, 20, `unexpected statuses: ${answers.map((a) => a.status).join(',')}`);
      assert.ok(created.length >= 1);
      const fresh = created.filter((a) => a.headers.get('idempotent-replayed') === null);
      assert.equal(fresh.length, 1, 'exactly one answer is not a replay');
      for (const a of created) assert.deepEqual(a.body, created[0]?.body);
      for (const b of busy) {
        assert.equal(b.body.error.code, 'idempotency_in_progress');
        const retry = Number(b.headers.get('retry-after'));
        assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${b.headers.get('retry-after')}`);
      }
      assert.equal(await total(), before + 1);
      // after the race, the key replays the one answer
      const later = await api.post('/v1/conversations', body, idem(key));
      assert.equal(later.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(later.body, created[0]?.body);
    });

    test('invalid keys: empty, 256 characters, a control character, non-ASCII → 400 invalid_idempotency_key', async () => {
      const before = await total();
      for (const bad of ['', 'x'.repeat(256)]) {
        const r = await api.post('/v1/conversations', { title: 'bad key' }, idem(bad));
        assert.equal(r.status, 400, `key ${JSON.stringify(bad)}: ${r.status} ${r.text}`);
        assert.equal(r.body.error.code, 'invalid_idempotency_key', JSON.stringify(bad));
      }
      // fetch refuses to send these, so they go over a raw socket, byte for byte
      const badBytes = [
        Buffer.from('ab\tcd', 'latin1'), // a control character inside the value
        Buffer.from('caf\u00e9', 'latin1'), // one non-ASCII byte
        Buffer.from('caf\u00e9', 'utf8'), // non-ASCII as UTF-8
      ];
      for (const bad of badBytes) {
        const r = await rawPost(server.url, '/v1/conversations', api.key as string, bad, '{"title":"bad key"}');
        assert.equal(r.status, 400, `key bytes ${bad.toString('hex')}: ${r.status} ${r.body}`);
        assert.equal(JSON.parse(r.body).error.code, 'invalid_idempotency_key', bad.toString('hex'));
      }
      assert.equal(await total(), before, 'no request with a bad key had an effect');
      // the longest valid key works
      const longest = `${'y'.repeat(250)}${String(++keySeq).padStart(5, '0')}`;
      assert.equal(longest.length, 255);
      assert.equal((await api.post('/v1/conversations', { title: 'long key' }, idem(longest))).status, 201);
    });

    test("a user-bound key never replays another user's stored answer (same Idempotency-Key, same request)", async () => {
      const c = (await api.post('/v1/conversations', { user_id: 'alice', title: 'private' })).body.data;
      const key = freshKey('bound');
      const body = { context: { deal_id: 'secret-deal' } };
      const first = await api.patch(`/v1/conversations/${c.id}`, body, idem(key));
      assert.equal(first.status, 200);
      const bob = (await ws.key(['read:ai', 'write:ai'], { user_id: 'bob' })).client;
      const replay = await bob.patch(`/v1/conversations/${c.id}`, body, idem(key));
      assert.notEqual(replay.status, 200, `no replay of alice's answer: ${replay.text}`);
      assert.equal(replay.headers.get('idempotent-replayed'), null);
      assert.ok(!replay.text.includes('secret-deal'), 'nothing of the stored answer');
      // alice's own key replays as usual
      const alice = (await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' })).client;
      const own = await alice.patch(`/v1/conversations/${c.id}`, { title: 'mine' }, idem(freshKey('own')));
      assert.equal(own.status, 200);
    });

    test('keys are per workspace: the same key in two workspaces runs twice', async () => {
      const other = await newWorkspace(server, 'other');
      const otherApi = (await other.key(['read:ai', 'write:ai'])).client;
      const key = freshKey('tenant');
      const body = { title: 'shared key' };
      const a = await api.post('/v1/conversations', body, idem(key));
      const b = await otherApi.post('/v1/conversations', body, idem(key));
      assert.equal(a.status, 201);
      assert.equal(b.status, 201);
      assert.equal(b.headers.get('idempotent-replayed'), null);
      assert.notEqual(a.body.data.id, b.body.data.id);
      assert.equal(await total(otherApi), 1);
      assert.equal((await otherApi.get(`/v1/conversations/${a.body.data.id}`)).status, 404);
    });

    test('expiry: after 24 h + 1 s the same key runs the request again', async () => {
      const before = await total();
      const key = freshKey('ttl');
      const body = { title: 'expiring' };
      const first = await api.post('/v1/conversations', body, idem(key));
      assert.equal(first.status, 201);
      server.clock.advance(DAY_MS - 1000);
      const stillKept = await api.post('/v1/conversations', body, idem(key));
      assertReplay(first, stillKept);
      server.clock.advance(2000);
      const afterTtl = await api.post('/v1/conversations', body, idem(key));
      assert.equal(afterTtl.status, 201);
      assert.equal(afterTtl.headers.get('idempotent-replayed'), null);
      assert.notEqual(afterTtl.body.data.id, first.body.data.id);
      assert.equal(await total(), before + 2);
      // and the new answer is now the one replayed
      const again = await api.post('/v1/conversations', body, idem(key));
      assertReplay(afterTtl, again);

      // an expired key is free for a different request too (no 422 once it has expired)
      const key2 = freshKey('ttl-other');
      assert.equal((await api.post('/v1/conversations', { title: 'one' }, idem(key2))).status, 201);
      server.clock.advance(DAY_MS + 1000);
      const other = await api.post('/v1/conversations', { title: 'two' }, idem(key2));
      assert.equal(other.status, 201, other.text);
      assert.equal(other.body.data.title, 'two');
    });

    test('a failed request does not burn its key: 404, service 400 and schema 400 then a fixed retry', async () => {
      const c = await newConversation();
      const key = freshKey('fail');
      const missing = await api.post(
        '/v1/conversations/conv_01HZZZZZZZZZZZZZZZZZZZZZZZ/messages',
        { role: 'user', content: 'x' },
        idem(key),
      );
      assert.equal(missing.status, 404);
      const fixed = await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'x' }, idem(key));
      assert.equal(fixed.status, 201, fixed.text);
      assert.equal(fixed.headers.get('idempotent-replayed'), null);

      // a 400 raised by the service (after the key was claimed)
      const key2 = freshKey('fail-svc');
      const tooLong = await api.patch(`/v1/conversations/${c.id}`, { title: 'x'.repeat(201) }, idem(key2));
      assert.equal(tooLong.status, 400);
      const ok = await api.patch(`/v1/conversations/${c.id}`, { title: 'fine' }, idem(key2));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers.get('idempotent-replayed'), null);

      // a 400 from the schema
      const key3 = freshKey('fail-schema');
      const unknownField = await api.post(
        `/v1/conversations/${c.id}/messages`,
        { role: 'user', content: 'y', nope: 1 },
        idem(key3),
      );
      assert.equal(unknownField.status, 400);
      const ok3 = await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'y' }, idem(key3));
      assert.equal(ok3.status, 201);
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).body.data.message_count, 2);
    });

    test('crash inside the write: neither the effect nor anything else is written', async () => {
      const k = await ws.key(['read:ai', 'write:ai']);
      const auth = await server.parley.keys.authenticate(k.secret);
      const beforeList = await api.get('/v1/conversations?archived=true&per_page=100');
      const beforeTotal = beforeList.body.meta.total as number;
      const word = `crashword${Date.now()}`;
      const countersBefore = await raw.counters(ws.id);
      let written: string | null = null;
      await assert.rejects(
        server.parley.conversations.create(
          auth,
          { title: `${word} title`, userId: 'crash-user', messages: [{ role: 'user', content: `${word} body` }] },
          async (_tx, detail) => {
            // the effect was written inside the transaction when the crash comes
            written = detail.conversation.id;
            throw new Error('crash');
          },
        ),
        /crash/,
      );
      assert.ok(written, 'the crash came after the effect was written in the transaction');
      // under the API: no row in any table holds the content or the id, the counters did not move
      assert.deepEqual(await raw.rowsMentioning(word), {}, 'rows holding the content');
      assert.deepEqual(await raw.rowsMentioning(written), {}, 'rows naming the conversation');
      assert.deepEqual(await raw.counters(ws.id), countersBefore, 'counters unchanged');
      const afterList = await api.get('/v1/conversations?archived=true&per_page=100');
      assert.equal(afterList.body.meta.total, beforeTotal, 'the counters were not bumped');
      assert.deepEqual(
        afterList.body.data.map((c: { id: string }) => c.id),
        beforeList.body.data.map((c: { id: string }) => c.id),
      );
      const byUser = await api.get('/v1/conversations?user_id=crash-user&archived=true');
      assert.equal(byUser.body.meta.total, 0);
      assert.equal(byUser.body.data.length, 0);
      const searched = await api.get(`/v1/conversations?search=${word}&archived=true`);
      assert.equal(searched.body.data.length, 0, 'no search entries were left behind');
    });

    test('a running record whose lock expired is taken over by the next request, which runs once', async () => {
      const before = await total();
      const key = freshKey('stale');
      const body = { title: 'after a crash' };
      const now = server.clock.now();
      const claimed = await server.parley.store.transact(ws.id, (w) =>
        w.idempotency.claim({
          key,
          fingerprint: fingerprint('POST', '/v1/conversations', body),
          state: 'running',
          statusCode: null,
          responseBody: null,
          createdAt: now - 120_000,
          lockedUntil: now - 60_000,
        }),
      );
      assert.equal(claimed, true);
      const first = await api.post('/v1/conversations', body, idem(key));
      assert.equal(first.status, 201, first.text);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const again = await api.post('/v1/conversations', body, idem(key));
      assertReplay(first, again);
      assert.equal(await total(), before + 1);

      // while its lock still holds, a running record answers 409 with Retry-After
      const held = freshKey('held');
      await server.parley.store.transact(ws.id, (w) =>
        w.idempotency.claim({
          key: held,
          fingerprint: fingerprint('POST', '/v1/conversations', body),
          state: 'running',
          statusCode: null,
          responseBody: null,
          createdAt: now,
          lockedUntil: now + 60_000,
        }),
      );
      const busy = await api.post('/v1/conversations', body, idem(held));
      assert.equal(busy.status, 409);
      assert.equal(busy.body.error.code, 'idempotency_in_progress');
      assert.ok(Number(busy.headers.get('retry-after')) >= 1);
      assert.equal(await total(), before + 1);
    });

    test('a new key is claimed once, as a write of its own (PostgreSQL: one autocommit statement on the pool)', async () => {
      const store = server.parley.store;
      const key = freshKey('claim');
      const now = server.clock.now();
      const rec = {
        key,
        fingerprint: fingerprint('POST', '/v1/conversations', { title: 'claimed' }),
        state: 'running' as const,
        statusCode: null,
        responseBody: null,
        createdAt: now,
        lockedUntil: now + 60_000,
      };
      // on PostgreSQL (group commit off, its default) the claim must not take a pooled client for
      // a transaction (BEGIN, INSERT, COMMIT): count what it asks of the pool
      const pool = store.engine === 'postgres' ? (store as unknown as { pool: import('pg').Pool }).pool : null;
      const asked = { query: 0, connect: 0 };
      const { query, connect } = pool ?? {};
      if (pool) {
        pool.query = ((...a: unknown[]) => {
          asked.query++;
          return (query as (...x: unknown[]) => unknown).apply(pool, a);
        }) as typeof pool.query;
        pool.connect = ((...a: unknown[]) => {
          asked.connect++;
          return (connect as (...x: unknown[]) => unknown).apply(pool, a);
        }) as typeof pool.connect;
      }
      let first: boolean;
      let second: boolean;
      try {
        first = await store.claimIdempotency(ws.id, rec);
        second = await store.claimIdempotency(ws.id, { ...rec, fingerprint: 'other' });
      } finally {
        if (pool) {
          pool.query = query as typeof pool.query;
          pool.connect = connect as typeof pool.connect;
        }
      }
      assert.equal(first, true, 'a new key is claimed');
      assert.equal(second, false, 'a taken key is not claimed again');
      // pool.query checks a client out itself (one connect each); a transaction would go through
      // Kysely's pool.connect and the client, never pool.query
      if (pool) assert.deepEqual(asked, { query: 2, connect: 2 }, 'two lone statements on the pool');
      // committed: a reader outside any transaction sees the first claim, unchanged by the second
      const got = await store.read(ws.id, (r) => r.idempotency.get(key));
      assert.equal(got?.state, 'running');
      assert.equal(got?.fingerprint, rec.fingerprint);
      // a key is per workspace: the same key in another workspace is a claim of its own
      const other = await newWorkspace(server, 'claim-other');
      assert.equal(await store.claimIdempotency(other.id, rec), true);
    });
  });
}
