import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ulidToUuid } from '../src/ids.js';
import { curl, hasPythonRequests, javascript, python, substitute } from './helpers/examples.js';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

// ---- seed 002 examples, as printed -----------------------------------------------------------

const SEED002_CURL = `curl --request DELETE \\
    --url 'https://api-prod.usefini.com/v2/hc-interactions/0b8626b0-4cc8-4a3d-8fc2-f18ad1a4a1a8/public' \\
    --header 'Authorization: Bearer fini_your_api_key'`;

const SEED002_PYTHON = `import requests

conversation_id = "0b8626b0-4cc8-4a3d-8fc2-f18ad1a4a1a8"
response = requests.delete(
    f"https://api-prod.usefini.com/v2/hc-interactions/{conversation_id}/public",
    headers={"Authorization": "Bearer fini_your_api_key"},
)
result = response.json()`;

const SEED002_NODE = `const conversationId = "0b8626b0-4cc8-4a3d-8fc2-f18ad1a4a1a8";

const response = await fetch(
  \`https://api-prod.usefini.com/v2/hc-interactions/\${conversationId}/public\`,
  {
    method: "DELETE",
    headers: {
      Authorization: "Bearer fini_your_api_key",
    },
  }
);
const result = await response.json();`;

const BODY_401 = { statusCode: 401, message: 'Invalid or revoked API key', error: 'Unauthorized' };
const BODY_403 = {
  statusCode: 403,
  message: 'API key does not have the required scope for this operation',
  error: 'Forbidden',
};
const MISSING = '0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b';
const DAY = 86_400_000;

const withPython = await hasPythonRequests();
if (!withPython) console.log('compat-fini: python3 with requests not installed; Python examples not run');

const uuid = (id: string) => ulidToUuid(id.slice(id.indexOf('_') + 1));

for (const engine of testEngines()) {
  describe(`compat Fini [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    let secret: string;
    const one = (id: string) => `/v2/hc-interactions/${id}/public`;
    const many = '/v2/hc-interactions/public';

    const subs = (id: string) => ({
      'https://api-prod.usefini.com': server.url,
      fini_your_api_key: secret,
      '0b8626b0-4cc8-4a3d-8fc2-f18ad1a4a1a8': id,
    });
    const create = async (client: Client = api, body: Record<string, unknown> = {}) => {
      const r = await client.post('/v1/conversations', body);
      assert.equal(r.status, 201, r.text);
      return { id: r.body.data.id as string, uuid: uuid(r.body.data.id) };
    };
    const exists = async (id: string, client: Client = api) =>
      (await client.get(`/v1/conversations/${id}`)).status === 200;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      secret = k.secret;
    });
    after(async () => server.close());

    test('seed 002 cURL: 200 {"success":true} and the conversation is gone', async () => {
      const c = await create();
      const r = await curl(substitute(SEED002_CURL, subs(c.uuid)));
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { success: true });
      assert.equal(await exists(c.id), false);
    });

    if (withPython) {
      test('seed 002 Python: result = response.json() is {"success": True}', async () => {
        const c = await create();
        const r = await python(`${substitute(SEED002_PYTHON, subs(c.uuid))}\nprint(result)`);
        assert.equal(r.stdout, "{'success': True}\n");
        assert.equal(await exists(c.id), false);
      });
    }

    test('seed 002 Node.js: result is {success: true}', async () => {
      const c = await create();
      const { value } = await javascript(substitute(SEED002_NODE, subs(c.uuid)), 'result');
      assert.deepEqual(value, { success: true });
      assert.equal(await exists(c.id), false);
    });

    test('seed 002 401 and 403 bodies exactly as the page shows', async () => {
      const c = await create();
      for (const client of [new Client(server.url), new Client(server.url, 'fini_your_api_key')]) {
        const r = await client.delete(one(c.uuid));
        assert.equal(r.status, 401);
        assert.deepEqual(r.body, BODY_401);
      }
      const readOnly = (await ws.key(['read:ai'])).client;
      const r = await readOnly.delete(one(c.uuid));
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, BODY_403);
      assert.equal(await exists(c.id), true);
    });

    // ---- the quirks checklist ------------------------------------------------------------------

    test('quirk 10: Fini single DELETE answers success for unknown ids', async () => {
      const other = await newWorkspace(server, 'other');
      const theirs = await create((await other.key(['read:ai', 'write:ai'])).client);
      for (const id of [MISSING, theirs.uuid, 'not-even-an-id']) {
        const r = await api.delete(one(id));
        assert.equal(r.status, 200, id);
        assert.deepEqual(r.body, { success: true });
      }
      assert.equal(await exists(theirs.id, other.admin), true, "another workspace's row is never deleted");
      const c = await create();
      assert.deepEqual((await api.delete(one(c.uuid))).body, { success: true });
      assert.deepEqual((await api.delete(one(c.uuid))).body, { success: true }, 'already removed: success again');
    });

    test('quirk 11: Fini bulk DELETE takes 1–50 unique UUIDs, 400 otherwise; a missing id is 406 with nothing deleted', async () => {
      const a = await create();
      const b = await create();
      const bad: unknown[] = [
        {},
        { ids: [] },
        { ids: 'x' },
        { ids: [a.uuid, a.uuid] },
        { ids: ['conv_01J00000000000000000000000'] },
        { ids: ['nope'] },
        { ids: Array.from({ length: 51 }, () => crypto.randomUUID()) },
        { ids: [a.uuid], more: 1 },
      ];
      for (const body of bad) {
        const r = await api.request('DELETE', many, { body });
        assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
        assert.equal(r.body.statusCode, 400);
        assert.equal(r.body.error, 'Bad Request');
        assert.equal(typeof r.body.message, 'string');
      }
      const malformed = await api.request('DELETE', many, {
        raw: '{"ids":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(malformed.status, 400);
      const other = await newWorkspace(server, 'bulk-other');
      const theirs = await create((await other.key(['read:ai', 'write:ai'])).client);
      for (const stray of [MISSING, theirs.uuid]) {
        const r = await api.request('DELETE', many, { body: { ids: [a.uuid, stray, b.uuid] } });
        assert.equal(r.status, 406);
        assert.equal(r.body.statusCode, 406);
        assert.equal(r.body.error, 'Not Acceptable');
        assert.match(r.body.message, /interactions/);
        assert.equal(await exists(a.id), true, 'atomic: nothing deleted behind a 406');
        assert.equal(await exists(b.id), true);
      }
      assert.equal(await exists(theirs.id, other.admin), true);
      const ok = await api.request('DELETE', many, { body: { ids: [a.uuid, b.uuid] } });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { success: true });
      assert.equal(await exists(a.id), false);
      assert.equal(await exists(b.id), false);
      const fifty = await Promise.all(Array.from({ length: 50 }, () => create()));
      const all = await api.request('DELETE', many, { body: { ids: fifty.map((c) => c.uuid) } });
      assert.equal(all.status, 200);
    });

    test('quirk 12: Fini GET of an unknown id answers 404 in its error shape (Fini answers 500)', async () => {
      const other = await newWorkspace(server, 'get-other');
      const theirs = await create((await other.key(['read:ai', 'write:ai'])).client);
      const a = await api.get(one(MISSING));
      const b = await api.get(one(theirs.uuid));
      assert.equal(a.status, 404);
      assert.deepEqual(a.body, { statusCode: 404, message: 'Conversation not found', error: 'Not Found' });
      assert.equal(a.text, b.text);
    });

    test('quirk 13: Fini list direction=next means older; since/until epoch ms default to 7 days, window ≤ 90 days', async () => {
      const fresh = await newWorkspace(server, 'list');
      const k = (await fresh.key(['read:ai', 'write:ai'])).client;
      const ids: string[] = [];
      server.clock.advance(10 * DAY);
      const stale = await create(k, { title: 'stale' });
      server.clock.advance(8 * DAY);
      for (let i = 0; i < 5; i++) {
        ids.push((await create(k, { title: `c${i}` })).uuid);
        server.clock.advance(1000);
      }
      const first = await k.get(`${many}?limit=2`);
      assert.equal(first.status, 200);
      assert.deepEqual(Object.keys(first.body).sort(), ['hasMore', 'interactions', 'nextCursor', 'prevCursor']);
      assert.deepEqual(
        first.body.interactions.map((c: { id: string }) => c.id),
        [ids[4], ids[3]],
        'newest first; the 8-day-old one is outside the default 7-day window',
      );
      assert.equal(first.body.hasMore, true);
      assert.equal(first.body.prevCursor, null, 'null at the start');
      const older = await k.get(`${many}?limit=2&cursor=${first.body.nextCursor}&direction=next`);
      assert.deepEqual(
        older.body.interactions.map((c: { id: string }) => c.id),
        [ids[2], ids[1]],
        'next = older',
      );
      const last = await k.get(`${many}?limit=2&cursor=${older.body.nextCursor}`);
      assert.deepEqual(
        last.body.interactions.map((c: { id: string }) => c.id),
        [ids[0]],
      );
      assert.equal(last.body.hasMore, false);
      assert.equal(last.body.nextCursor, null, 'null at the end');
      const newer = await k.get(`${many}?limit=2&cursor=${last.body.prevCursor}&direction=previous`);
      assert.deepEqual(
        newer.body.interactions.map((c: { id: string }) => c.id),
        [ids[2], ids[1]],
        'previous = newer, still newest first',
      );
      const now = server.clock.now();
      const wide = await k.get(`${many}?since=${now - 20 * DAY}&until=${now}`);
      assert.ok(wide.body.interactions.some((c: { id: string }) => c.id === stale.uuid));
      for (const q of [`since=${now}&until=${now}`, `since=${now - 91 * DAY}&until=${now}`, `since=${now + 60_000}`]) {
        const r = await k.get(`${many}?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.body.error, 'Bad Request');
      }
      for (const q of ['limit=0', 'limit=101', 'direction=up', 'since=yesterday']) {
        assert.equal((await k.get(`${many}?${q}`)).status, 400, q);
      }
    });

    // ---- list filters, get -----------------------------------------------------------------

    test('list filters: botId, source and channel as CSV or repeated', async () => {
      const fresh = await newWorkspace(server, 'filters');
      const k = (await fresh.key(['read:ai', 'write:ai'])).client;
      const w = await create(k, { bot_id: 'b1', metadata: { source: 'widget', channel: 'web' } });
      const s = await create(k, { bot_id: 'b2', metadata: { source: 'slack', channel: 'dm' } });
      const plain = await create(k, { bot_id: 'b1' });
      const idsOf = async (q: string) =>
        ((await k.get(`${many}?${q}`)).body.interactions as { id: string }[]).map((c) => c.id).sort();
      assert.deepEqual(await idsOf('botId=b1'), [w.uuid, plain.uuid].sort());
      assert.deepEqual(await idsOf('source=widget'), [w.uuid]);
      assert.deepEqual(await idsOf('source=widget,slack'), [w.uuid, s.uuid].sort());
      assert.deepEqual(await idsOf('source=widget&source=slack'), [w.uuid, s.uuid].sort());
      assert.deepEqual(await idsOf('source=api'), [plain.uuid], 'no source recorded reads as api');
      assert.deepEqual(await idsOf('channel=dm'), [s.uuid]);
      assert.deepEqual(await idsOf('channel=web,dm&botId=b2'), [s.uuid]);
      assert.equal((await k.get(`${many}?source=carrier-pigeon`)).status, 400);
    });

    test('get: the PublicConversation shape with its events, oldest first', async () => {
      const c = await create(api, {
        title: 'Refund question',
        metadata: { source: 'widget', externalId: 'ext-1' },
        messages: [
          { role: 'user', content: 'I want a refund' },
          { role: 'assistant', content: 'Sure' },
        ],
      });
      const r = await api.get(one(c.uuid));
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), [
        'channel',
        'createdAt',
        'events',
        'externalId',
        'hasFeedback',
        'id',
        'resolved',
        'source',
        'status',
        'subjectPreview',
        'url',
        'usedArticles',
        'usedSubfolders',
        'userAttributes',
      ]);
      assert.equal(r.body.id, c.uuid);
      assert.equal(typeof r.body.createdAt, 'number');
      assert.equal(r.body.source, 'widget');
      assert.equal(r.body.externalId, 'ext-1');
      assert.equal(r.body.subjectPreview, 'Refund question');
      assert.deepEqual(
        r.body.events.map((e: { role: string; message: string; type: string }) => [e.role, e.type, e.message]),
        [
          ['user', 'message', 'I want a refund'],
          ['finibot', 'message', 'Sure'],
        ],
      );
      assert.equal((await api.get(one(c.id))).body.id, c.uuid, 'conv_ ids are accepted too');
    });

    // ---- the shared route contract, in Fini's error shape -----------------------------------------

    test('contract: no key, bad key → 401; missing scope → 403; over the limit → 429, all NestJS-shaped', async () => {
      const c = await create();
      const routes = [
        ['GET', many, undefined],
        ['GET', one(c.uuid), undefined],
        ['DELETE', one(c.uuid), undefined],
        ['DELETE', many, { ids: [c.uuid] }],
      ] as const;
      for (const [method, path, body] of routes) {
        for (const client of [new Client(server.url), new Client(server.url, `prl_${'x'.repeat(43)}`)]) {
          const r = await client.request(method, path, { body });
          assert.equal(r.status, 401, `${method} ${path}`);
          assert.deepEqual(r.body, BODY_401);
        }
      }
      const readOnly = (await ws.key(['read:ai'])).client;
      for (const [method, path, body] of [routes[2], routes[3]]) {
        assert.deepEqual((await readOnly.request(method, path, { body })).body, BODY_403);
      }
      const writeOnly = (await ws.key(['write:ai'])).client;
      for (const [method, path] of [routes[0], routes[1]]) {
        assert.deepEqual((await writeOnly.request(method, path)).body, BODY_403);
      }
      const limited = (await ws.key(['read:ai'], { rate_limit: 1 })).client;
      assert.equal((await limited.get(many)).status, 200);
      const r = await limited.get(many);
      assert.equal(r.status, 429);
      assert.deepEqual(r.body, { statusCode: 429, message: 'Rate limit exceeded', error: 'Too Many Requests' });
      assert.ok(r.headers.get('retry-after'));
      assert.equal(await exists(c.id), true);
    });

    test('an unknown path under /v2/hc-interactions answers NestJS-style 404', async () => {
      const r = await api.get('/v2/hc-interactions/nothing/here');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, {
        statusCode: 404,
        message: 'Cannot GET /v2/hc-interactions/nothing/here',
        error: 'Not Found',
      });
    });
  });
}
