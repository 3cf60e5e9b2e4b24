import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl, hasPythonRequests, javascript, python, substitute } from './helpers/examples.js';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

// ---- seed 000 (delete) and seed 004 (list) examples, as printed -------------------------------

const SEED000_CURL = `curl -X DELETE \\
    https://data.leadlex.com/functions/v1/api-gateway/v1/lexi/conversations/conv_01HY1 \\
    -H "Authorization: Bearer wbk_your_api_key_here" \\
    -i`;

const SEED000_PYTHON = `import requests

API_KEY = "wbk_your_api_key_here"
conv_id = "conv_01HY1"

r = requests.delete(
    f"https://data.leadlex.com/functions/v1/api-gateway/v1/lexi/conversations/{conv_id}",
    headers={"Authorization": f"Bearer {API_KEY}"},
)
assert r.status_code == 204, r.text`;

const SEED000_JS = `const id = 'conv_01HY1';
const res = await fetch(
  \`https://data.leadlex.com/functions/v1/api-gateway/v1/lexi/conversations/\${id}\`,
  {
    method: 'DELETE',
    headers: { Authorization: 'Bearer wbk_your_api_key_here' },
  }
);
if (res.status !== 204) throw new Error(\`Failed: \${res.status}\`);`;

const SEED004_CURL = `curl "https://data.leadlex.com/functions/v1/api-gateway/v1/lexi/conversations?per_page=50" \\
    -H "Authorization: Bearer wbk_your_api_key_here"`;

const SEED004_PYTHON = `import requests

API_KEY = "wbk_your_api_key_here"
BASE_URL = "https://data.leadlex.com/functions/v1/api-gateway"

r = requests.get(
    f"{BASE_URL}/v1/lexi/conversations",
    headers={"Authorization": f"Bearer {API_KEY}"},
    params={"per_page": 50},
)
for c in r.json()["data"]["conversations"]:
    print(c["title"], c["last_message_at"])`;

const SEED004_JS = `const url = new URL('https://data.leadlex.com/functions/v1/api-gateway/v1/lexi/conversations');
url.searchParams.set('per_page', '50');
const res = await fetch(url, { headers: { Authorization: 'Bearer wbk_your_api_key_here' } });
const { data } = await res.json();
console.log(data.conversations.length);`;

const LIST_KEYS = ['archived', 'context', 'created_at', 'id', 'last_message_at', 'message_count', 'title'];
const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

const withPython = await hasPythonRequests();
if (!withPython) console.log('compat-leadlex: python3 with requests not installed; Python examples not run');

for (const engine of testEngines()) {
  describe(`compat LeadLex Lexi [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    let secret: string;
    const lexi = '/v1/lexi/conversations';
    const gateway = '/functions/v1/api-gateway/v1/lexi/conversations';

    const subs = (id = 'conv_none') => ({
      'https://data.leadlex.com': server.url,
      wbk_your_api_key_here: secret,
      conv_01HY1: id,
    });
    const create = async (body: Record<string, unknown> = {}) => {
      const r = await api.post('/v1/conversations', {
        messages: [{ role: 'user', content: 'Series B research for Acme Corp' }],
        ...body,
      });
      assert.equal(r.status, 201, r.text);
      return r.body.data as { id: string };
    };

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      secret = k.secret;
    });
    after(async () => server.close());

    test('seed 000 cURL: DELETE answers 204, empty body, rate-limit and X-Request-ID headers', async () => {
      const c = await create();
      const r = await curl(substitute(SEED000_CURL, subs(c.id)));
      assert.equal(r.status, 204);
      assert.equal(r.body, '');
      assert.match(r.headers['x-request-id'] ?? '', /^req_[0-9A-HJKMNP-TV-Z]{26}$/);
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
        assert.match(r.headers[h] ?? '', /^\d+$/, h);
      }
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
    });

    if (withPython) {
      test('seed 000 Python: assert r.status_code == 204 holds', async () => {
        const c = await create();
        await python(substitute(SEED000_PYTHON, subs(c.id)));
        assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
      });
      test('seed 004 Python: prints title and last_message_at of each conversation', async () => {
        const c = await create({ title: 'Python listed' });
        const { stdout } = await python(substitute(SEED004_PYTHON, subs()));
        assert.match(stdout, /^Python listed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
        await api.delete(`/v1/conversations/${c.id}`);
      });
    }

    test('seed 000 JavaScript: the status check passes and the conversation is gone', async () => {
      const c = await create();
      const { value } = await javascript(substitute(SEED000_JS, subs(c.id)), 'res.status');
      assert.equal(value, 204);
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
    });

    test('seed 000 JavaScript against a missing id throws as written (404)', async () => {
      await assert.rejects(javascript(substitute(SEED000_JS, subs('conv_01J00000000000000000000000'))), /Failed: 404/);
    });

    test('seed 004 cURL: per_page=50 gives the documented body and headers', async () => {
      const fresh = await newWorkspace(server, 'list-shape');
      const k = await fresh.key(['read:ai', 'write:ai']);
      const c = (
        await k.client.post('/v1/conversations', {
          title: 'Series B research for Acme Corp',
          context: { contact_id: '123e4567-e89b-12d3-a456-426614174000', page: 'contacts' },
          messages: [{ role: 'user', content: 'hello' }],
        })
      ).body.data;
      const r = await curl(substitute(SEED004_CURL, { ...subs(), wbk_your_api_key_here: k.secret }));
      assert.equal(r.status, 200);
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id']) {
        assert.ok(r.headers[h], h);
      }
      const body = JSON.parse(r.body);
      assert.deepEqual(Object.keys(body).sort(), ['data', 'meta']);
      assert.deepEqual(Object.keys(body.data), ['conversations']);
      assert.deepEqual(body.meta, { page: 1, per_page: 50, total: 1 });
      const [item] = body.data.conversations;
      assert.deepEqual(Object.keys(item).sort(), LIST_KEYS);
      assert.equal(item.id, c.id);
      assert.equal(item.title, 'Series B research for Acme Corp');
      assert.equal(item.message_count, 1);
      assert.deepEqual(item.context, { contact_id: '123e4567-e89b-12d3-a456-426614174000' }, 'documented keys only');
      assert.equal(item.archived, false);
      assert.match(item.created_at, ISO_SECONDS);
      assert.match(item.last_message_at, ISO_SECONDS);
    });

    test('seed 004 JavaScript: logs data.conversations.length', async () => {
      const fresh = await newWorkspace(server, 'list-js');
      const k = await fresh.key(['read:ai', 'write:ai']);
      for (let i = 0; i < 3; i++) await k.client.post('/v1/conversations', { title: `t${i}` });
      const { logs } = await javascript(substitute(SEED004_JS, { ...subs(), wbk_your_api_key_here: k.secret }));
      assert.deepEqual(logs, [[3]]);
    });

    // ---- the quirks checklist ------------------------------------------------------------------

    test('quirk 1: LeadLex DELETE answers 204 with an empty body and the rate-limit + X-Request-ID headers', async () => {
      const c = await create();
      const r = await api.delete(`${lexi}/${c.id}`);
      assert.equal(r.status, 204);
      assert.equal(r.text, '');
      assert.ok(r.headers.get('x-request-id'));
      assert.ok(r.headers.get('x-ratelimit-limit'));
      assert.ok(r.headers.get('x-ratelimit-remaining'));
      assert.ok(r.headers.get('x-ratelimit-reset'));
    });

    test('quirk 2: LeadLex repeated DELETE with the same Idempotency-Key answers 204 again, not 404', async () => {
      const c = await create();
      const key = crypto.randomUUID();
      const first = await api.delete(`${gateway}/${c.id}`, { 'idempotency-key': key });
      assert.equal(first.status, 204);
      const again = await api.delete(`${gateway}/${c.id}`, { 'idempotency-key': key });
      assert.equal(again.status, 204);
      assert.equal(again.text, '');
      const noKey = await api.delete(`${gateway}/${c.id}`);
      assert.equal(noKey.status, 404, 'without the key the conversation is simply gone');
      assert.equal(noKey.body.error.code, 'not_found');
    });

    test('quirk 3: LeadLex accepts both the conv_ id and the UUID form of it', async () => {
      const c = await create({ title: 'both forms' });
      const { ulidToUuid } = await import('../src/ids.js');
      const uuid = ulidToUuid(c.id.slice('conv_'.length));
      const byUuid = await api.get(`${lexi}/${uuid}`);
      assert.equal(byUuid.status, 200);
      assert.equal(byUuid.body.data.id, c.id);
      assert.equal((await api.get(`${lexi}/${c.id}`)).body.data.title, 'both forms');
      assert.equal((await api.delete(`${lexi}/${uuid}`)).status, 204);
      assert.equal((await api.get(`${lexi}/${c.id}`)).status, 404);
    });

    test('quirk 4: LeadLex archived=true includes archived conversations; the default excludes them', async () => {
      const fresh = await newWorkspace(server, 'archived');
      const k = (await fresh.key(['read:ai', 'write:ai'])).client;
      const live = (await k.post('/v1/conversations', { title: 'live' })).body.data;
      const old = (await k.post('/v1/conversations', { title: 'old' })).body.data;
      assert.equal((await k.patch(`${lexi}/${old.id}`, { archived: true })).status, 200);
      const dflt = await k.get(lexi);
      assert.deepEqual(
        dflt.body.data.conversations.map((c: { id: string }) => c.id),
        [live.id],
      );
      assert.equal(dflt.body.meta.total, 1);
      const all = await k.get(`${lexi}?archived=true`);
      assert.deepEqual(all.body.data.conversations.map((c: { id: string }) => c.id).sort(), [live.id, old.id].sort());
      assert.equal(all.body.meta.total, 2);
      assert.equal(all.body.data.conversations.find((c: { id: string }) => c.id === old.id).archived, true);
    });

    test("quirk 5: LeadLex list without user_id lists the key's user; a workspace key lists the workspace", async () => {
      const fresh = await newWorkspace(server, 'users');
      const writer = (await fresh.key(['read:ai', 'write:ai'])).client;
      const mine = (await writer.post('/v1/conversations', { user_id: 'u1', title: 'u1' })).body.data;
      const theirs = (await writer.post('/v1/conversations', { user_id: 'u2', title: 'u2' })).body.data;
      const u1 = (await fresh.key(['read:ai'], { user_id: 'u1' })).client;
      const own = await u1.get(lexi);
      assert.deepEqual(
        own.body.data.conversations.map((c: { id: string }) => c.id),
        [mine.id],
      );
      // a key bound to a user is a boundary: another user's list is refused, not served
      const other = await u1.get(`${lexi}?user_id=u2`);
      assert.equal(other.status, 403, other.text);
      assert.equal(other.body.error.code, 'insufficient_permissions');
      const all = await writer.get(lexi);
      assert.equal(all.body.meta.total, 2);
      const theirsToo = await writer.get(`${lexi}?user_id=u2`);
      assert.deepEqual(
        theirsToo.body.data.conversations.map((c: { id: string }) => c.id),
        [theirs.id],
        'a workspace key may list any user',
      );
    });

    // ---- list, get, patch -------------------------------------------------------------------

    test('list: page/per_page, search over titles and message content, contact_id and deal_id filters', async () => {
      const fresh = await newWorkspace(server, 'filters');
      const k = (await fresh.key(['read:ai', 'write:ai'])).client;
      const a = (
        await k.post('/v1/conversations', {
          title: 'Quarterly pipeline',
          context: { contact_id: 'c1' },
          messages: [{ role: 'user', content: 'what about the zeppelin deal' }],
        })
      ).body.data;
      const b = (await k.post('/v1/conversations', { title: 'Zeppelin memo', context: { deal_id: 'd9' } })).body.data;
      await k.post('/v1/conversations', { title: 'Other' });
      const found = await k.get(`${lexi}?search=zeppelin`);
      assert.deepEqual(found.body.data.conversations.map((c: { id: string }) => c.id).sort(), [a.id, b.id].sort());
      assert.deepEqual(
        (await k.get(`${lexi}?contact_id=c1`)).body.data.conversations.map((c: { id: string }) => c.id),
        [a.id],
      );
      assert.deepEqual(
        (await k.get(`${lexi}?deal_id=d9`)).body.data.conversations.map((c: { id: string }) => c.id),
        [b.id],
      );
      const p2 = await k.get(`${lexi}?per_page=2&page=2`);
      assert.equal(p2.body.data.conversations.length, 1);
      assert.deepEqual(p2.body.meta, { page: 2, per_page: 2, total: 3 });
      const over = await k.get(`${lexi}?per_page=101`);
      assert.equal(over.status, 400);
      assert.equal(over.body.error.code, 'validation_error');
    });

    test('get: messages most recent first in the documented shape; include_tool_steps adds tool records; limit ≤ 1000', async () => {
      const c = (
        await api.post('/v1/conversations', {
          context: { deal_id: 'd1', page: 'deals', other: 'x' },
          messages: [{ role: 'user', content: 'find it' }],
        })
      ).body.data;
      const m = (await api.post(`/v1/conversations/${c.id}/messages`, { role: 'assistant', content: 'found' })).body
        .data;
      server.clock.advance(10);
      await api.post(`/v1/conversations/${c.id}/tool-invocations`, {
        tool_name: 'crm_search',
        input: { q: 'acme' },
        output: { hits: 2 },
        status: 'succeeded',
        message_id: m.id,
      });
      const plain = await api.get(`${lexi}/${c.id}`);
      assert.equal(plain.status, 200);
      const d = plain.body.data;
      assert.deepEqual(Object.keys(d).sort(), ['archived', 'context', 'created_at', 'id', 'messages', 'title']);
      assert.deepEqual(d.context, { deal_id: 'd1', page: 'deals' });
      assert.deepEqual(
        d.messages.map((x: { content: string }) => x.content),
        ['found', 'find it'],
      );
      assert.deepEqual(d.messages[0], {
        id: m.id,
        role: 'assistant',
        content: 'found',
        tool_calls: [],
        tool_name: null,
        tool_output: null,
        created_at: d.messages[0].created_at,
      });
      const steps = (await api.get(`${gateway}/${c.id}?include_tool_steps=true`)).body.data.messages;
      assert.equal(steps.length, 3);
      assert.equal(steps[0].role, 'tool');
      assert.equal(steps[0].tool_name, 'crm_search');
      assert.deepEqual(steps[0].tool_output, { hits: 2 });
      assert.equal(steps[1].tool_calls.length, 1);
      assert.equal(steps[1].tool_calls[0].name, 'crm_search');
      assert.equal((await api.get(`${lexi}/${c.id}?limit=1`)).body.data.messages.length, 1);
      const tooMany = await api.get(`${lexi}/${c.id}?limit=1001`);
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.body.error.code, 'validation_error');
    });

    test('patch: title, archived, context with null clearing; 400 validation_error for nothing or a long title', async () => {
      const c = (await api.post('/v1/conversations', { context: { contact_id: 'c1', deal_id: 'd1' } })).body.data;
      const r = await api.patch(`${lexi}/${c.id}`, {
        title: 'Renamed',
        archived: true,
        context: { deal_id: null, matter_id: 'm1' },
      });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body.data).sort(), ['archived', 'context', 'id', 'title', 'updated_at']);
      assert.equal(r.body.data.title, 'Renamed');
      assert.equal(r.body.data.archived, true);
      assert.deepEqual(r.body.data.context, { contact_id: 'c1', matter_id: 'm1' });
      const native = (await api.get(`/v1/conversations/${c.id}`)).body.data;
      assert.equal(native.archived, true);
      assert.equal(native.context.deal_id, undefined);
      for (const bad of [{}, { title: 'x'.repeat(201) }, { title: '' }, { colour: 'red' }]) {
        const e = await api.patch(`${lexi}/${c.id}`, bad);
        assert.equal(e.status, 400, JSON.stringify(bad));
        assert.equal(e.body.error.code, 'validation_error');
        assert.deepEqual(Object.keys(e.body.error).sort(), ['code', 'message', 'request_id']);
      }
    });

    // ---- the shared route contract, in LeadLex's error shape -------------------------------------

    test('contract: no key, bad key → 401 invalid_key; missing scope → 403 insufficient_permissions', async () => {
      const c = await create();
      const anon = new Client(server.url);
      const bad = new Client(server.url, `prl_${'x'.repeat(43)}`);
      const readOnly = (await ws.key(['read:ai'])).client;
      for (const base of [lexi, gateway]) {
        for (const [method, path] of [
          ['GET', base],
          ['GET', `${base}/${c.id}`],
          ['PATCH', `${base}/${c.id}`],
          ['DELETE', `${base}/${c.id}`],
        ] as const) {
          const body = method === 'PATCH' ? { title: 'x' } : undefined;
          for (const client of [anon, bad]) {
            const r = await client.request(method, path, { body });
            assert.equal(r.status, 401, `${method} ${path}`);
            assert.equal(r.body.error.code, 'invalid_key');
            assert.equal(r.body.error.request_id, r.headers.get('x-request-id'));
            assert.ok(r.headers.get('x-ratelimit-limit'));
          }
        }
        for (const [method, path] of [
          ['PATCH', `${base}/${c.id}`],
          ['DELETE', `${base}/${c.id}`],
        ] as const) {
          const r = await readOnly.request(method, path, { body: method === 'PATCH' ? { title: 'x' } : undefined });
          assert.equal(r.status, 403);
          assert.equal(r.body.error.code, 'insufficient_permissions');
          assert.match(r.body.error.message, /write:ai/);
        }
      }
      const writeOnly = (await ws.key(['write:ai'])).client;
      const r = await writeOnly.get(lexi);
      assert.equal(r.status, 403);
      assert.match(r.body.error.message, /read:ai/);
    });

    test("contract: another workspace's conversation is 404 not_found, identical to a missing one", async () => {
      const other = await newWorkspace(server, 'other');
      const theirs = (await (await other.key(['read:ai', 'write:ai'])).client.post('/v1/conversations', {})).body.data;
      const missing = 'conv_01J00000000000000000000000';
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { title: 'x' }],
        ['DELETE', undefined],
      ] as const) {
        const a = await api.request(method, `${lexi}/${theirs.id}`, { body });
        const b = await api.request(method, `${lexi}/${missing}`, { body });
        assert.equal(a.status, 404);
        assert.equal(b.status, 404);
        const strip = (x: { error: Record<string, unknown> }) => ({ ...x.error, request_id: undefined });
        assert.deepEqual(strip(a.body), strip(b.body));
        assert.equal(a.body.error.code, 'not_found');
      }
    });

    test('contract: over the limit → 429 rate_limited with Retry-After', async () => {
      const limited = (await ws.key(['read:ai'], { rate_limit: 2 })).client;
      assert.equal((await limited.get(lexi)).status, 200);
      assert.equal((await limited.get(gateway)).status, 200);
      const r = await limited.get(lexi);
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, 'rate_limited');
      assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    });

    test('unknown path under the surface answers 404 in its shape', async () => {
      const r = await api.get('/functions/v1/api-gateway/v1/lexi/nothing');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
      assert.ok(r.body.error.request_id);
    });
  });
}
