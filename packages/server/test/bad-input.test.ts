import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, newWorkspace, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';

/** Every answer in this file must be a 4xx or success: bad input never earns a 500. */
class GuardedClient extends Client {
  override async request<T = unknown>(
    method: string,
    path: string,
    opts: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const r = await super.request<T>(method, path, opts);
    assert.ok(r.status < 500, `${method} ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
  }
  override with(key: string | undefined): GuardedClient {
    return new GuardedClient(this.url, key);
  }
  raw(method: string, path: string, text: string | Buffer, contentType = 'application/json') {
    return this.request(method, path, { raw: text, headers: { 'content-type': contentType } });
  }
}

function assertError(r: Reply, status: number, code?: string): void {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.ok(r.body?.error, `error envelope: ${r.text.slice(0, 300)}`);
  if (code) assert.equal(r.body.error.code, code, r.text.slice(0, 300));
  assert.equal(r.body.error.request_id, r.headers.get('x-request-id'));
}

interface Fixture {
  conv: string;
  tool: string;
}

interface WriteTarget {
  name: string;
  method: 'POST' | 'PATCH';
  path: (f: Fixture) => string;
  valid: () => Record<string, unknown>;
  /** Bodies with a value of the wrong JSON type, and the field the details must name. */
  wrongTypes: Array<[Record<string, unknown>, string]>;
  /** Bodies with NUL somewhere in text. */
  nul: Array<Record<string, unknown>>;
  /** Raw JSON texts holding a lone surrogate escape. */
  surrogate: string[];
  /** A valid body with one text field padded to `n` characters. */
  padded: (n: number) => Record<string, unknown>;
}

const LONE = '"\\ud800"';

const TARGETS: WriteTarget[] = [
  {
    name: 'POST /v1/conversations',
    method: 'POST',
    path: () => '/v1/conversations',
    valid: () => ({ title: 'ok', metadata: { a: 1 } }),
    wrongTypes: [
      [{ title: 5 }, '/body/title'],
      [{ metadata: 'x' }, '/body/metadata'],
      [{ messages: [{ role: 'user', content: 7 }] }, '/body/messages/0/content'],
    ],
    nul: [
      { title: 'a\u0000b' },
      { metadata: { 'k\u0000': 1 } },
      { metadata: { k: 'v\u0000' } },
      { messages: [{ role: 'user', content: 'x\u0000' }] },
    ],
    surrogate: [`{"title":${LONE}}`, `{"metadata":{${LONE}:1}}`, `{"messages":[{"role":"user","content":${LONE}}]}`],
    padded: (n) => ({ title: 'ok', metadata: { pad: 'x'.repeat(n) } }),
  },
  {
    name: 'POST /v1/conversations/{id}/messages',
    method: 'POST',
    path: (f) => `/v1/conversations/${f.conv}/messages`,
    valid: () => ({ role: 'user', content: 'hi' }),
    wrongTypes: [
      [{ role: 'user', content: 5 }, '/body/content'],
      [{ role: 'user', content: 'x', metadata: [] }, '/body/metadata'],
    ],
    nul: [
      { role: 'user', content: 'a\u0000' },
      { role: 'user', content: 'a', metadata: { '\u0000': 1 } },
      { role: 'user', content: 'a', metadata: { k: ['\u0000'] } },
    ],
    surrogate: [`{"role":"user","content":${LONE}}`, `{"role":"user","content":"a","metadata":{"k":${LONE}}}`],
    padded: (n) => ({ role: 'user', content: 'x'.repeat(n) }),
  },
  {
    name: 'PATCH /v1/conversations/{id}',
    method: 'PATCH',
    path: (f) => `/v1/conversations/${f.conv}`,
    valid: () => ({ title: 'renamed' }),
    wrongTypes: [
      [{ title: 5 }, '/body/title'],
      [{ archived: 'true' }, '/body/archived'],
      [{ archived: 1 }, '/body/archived'],
    ],
    nul: [{ title: '\u0000' }, { metadata: { k: 'v\u0000' } }, { context: { contact_id: 'c\u0000' } }],
    surrogate: [`{"title":${LONE}}`, `{"metadata":{${LONE}:"v"}}`],
    padded: (n) => ({ metadata: { pad: 'x'.repeat(n) } }),
  },
  {
    name: 'POST /v1/conversations/{id}/tool-invocations',
    method: 'POST',
    path: (f) => `/v1/conversations/${f.conv}/tool-invocations`,
    valid: () => ({ tool_name: 'search' }),
    wrongTypes: [
      [{ tool_name: 5 }, '/body/tool_name'],
      [{ tool_name: 't', status: 1 }, '/body/status'],
    ],
    nul: [{ tool_name: 't\u0000' }, { tool_name: 't', input: { q: '\u0000' } }, { tool_name: 't', output: ['\u0000'] }],
    surrogate: [`{"tool_name":${LONE}}`, `{"tool_name":"t","input":{${LONE}:1}}`],
    padded: (n) => ({ tool_name: 't', input: 'x'.repeat(n) }),
  },
  {
    name: 'POST /v1/keys',
    method: 'POST',
    path: () => '/v1/keys',
    valid: () => ({ name: 'k', scopes: ['read:ai'] }),
    wrongTypes: [
      [{ name: 5, scopes: ['read:ai'] }, '/body/name'],
      [{ name: 'k', scopes: 'read:ai' }, '/body/scopes'],
      [{ name: 'k', scopes: ['read:ai'], rate_limit: '5' }, '/body/rate_limit'],
    ],
    nul: [{ name: 'k\u0000', scopes: ['read:ai'] }],
    surrogate: [`{"name":${LONE},"scopes":["read:ai"]}`],
    padded: (n) => ({ name: 'k', scopes: ['read:ai'], user_id: 'x'.repeat(n) }),
  },
];

for (const engine of testEngines()) {
  describe(`bad input [${engine}]`, () => {
    let server: TestServer;
    let big: TestServer;
    let api: GuardedClient;
    let bigApi: GuardedClient;
    let fx: Fixture;
    let bigFx: Fixture;
    let otherApi: GuardedClient;

    async function makeFixture(c: Client): Promise<Fixture> {
      const conv = await c.post('/v1/conversations', {
        title: 'fixture',
        messages: [{ role: 'user', content: 'one' }],
      });
      assert.equal(conv.status, 201, conv.text);
      const tool = await c.post(`/v1/conversations/${conv.body.data.id}/tool-invocations`, { tool_name: 'fx' });
      assert.equal(tool.status, 201, tool.text);
      return { conv: conv.body.data.id, tool: tool.body.data.id };
    }

    /** Everything a failed write could have touched, as one comparable string. */
    async function snapshot(c: Client = api, f: Fixture = fx): Promise<string> {
      const parts = await Promise.all([
        c.get('/v1/conversations?archived=true&per_page=100'),
        c.get(`/v1/conversations/${f.conv}?include_tool_steps=true&limit=1000`),
        c.get(`/v1/conversations/${f.conv}/messages?limit=100`),
        c.get(`/v1/conversations/${f.conv}/tool-invocations?limit=100`),
        c.get('/v1/keys'),
        c.get('/v1/audit-events?limit=100'),
      ]);
      for (const p of parts) assert.equal(p.status, 200, p.text);
      // a key's last_used_at moves (at most once a minute, off the response path) because the
      // refused request used the key: that is bookkeeping, not a write the request made
      return JSON.stringify(
        parts.map((p) => p.body),
        (k, v) => (k === 'last_used_at' ? undefined : v),
      );
    }

    /** Runs a failing write and checks that nothing changed. */
    async function refused(
      send: () => Promise<Reply>,
      status: number,
      code?: string,
      c: Client = api,
      f: Fixture = fx,
    ): Promise<Reply> {
      const before = await snapshot(c, f);
      const r = await send();
      assertError(r, status, code);
      assert.equal(await snapshot(c, f), before, 'no partial write');
      return r;
    }

    before(async () => {
      server = await startServer(engine, { http: { bodyLimit: 2048 }, limits: { rate: 1_000_000 } });
      big = await startServer(engine, { limits: { rate: 1_000_000 } });
      const ws = await newWorkspace(server);
      api = new GuardedClient(server.url, ws.admin.key);
      fx = await makeFixture(api);
      const other = await newWorkspace(server, 'other');
      otherApi = new GuardedClient(server.url, other.admin.key);
      await makeFixture(otherApi);
      const bigWs = await newWorkspace(big);
      bigApi = new GuardedClient(big.url, bigWs.admin.key);
      bigFx = await makeFixture(bigApi);
    });
    after(async () => {
      await server.close();
      await big.close();
    });

    for (const t of TARGETS) {
      describe(t.name, () => {
        test('the valid body is accepted (so the refusals below are about the defect alone)', async () => {
          const r = await api.request(t.method, t.path(fx), { body: t.valid() });
          assert.ok(r.status === 200 || r.status === 201, r.text);
        });

        test('malformed JSON → 400 invalid_json', async () => {
          for (const text of ['{"title":', '{title: 1}', "{'a':1}", '{"a":1}}', 'nul']) {
            await refused(() => api.raw(t.method, t.path(fx), text), 400, 'invalid_json');
          }
        });

        test('empty body with a JSON content type → 400', async () => {
          await refused(() => api.raw(t.method, t.path(fx), ''), 400);
        });

        test('wrong content type → 415 unsupported_media_type', async () => {
          const json = JSON.stringify(t.valid());
          for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
            await refused(() => api.raw(t.method, t.path(fx), json, ct), 415, 'unsupported_media_type');
          }
        });

        test('body over the limit → 413 payload_too_large (configured 2 KiB, and the 1 MiB default)', async () => {
          const ok = JSON.stringify(t.padded(1500));
          assert.ok(ok.length < 2048);
          const accepted = await api.raw(t.method, t.path(fx), ok);
          assert.ok(accepted.status < 413, 'a body under the limit is not refused for size');
          await refused(() => api.request(t.method, t.path(fx), { body: t.padded(2100) }), 413, 'payload_too_large');
          await refused(
            () => bigApi.request(t.method, t.path(bigFx), { body: t.padded(1024 * 1024) }),
            413,
            'payload_too_large',
            bigApi,
            bigFx,
          );
        });

        test('unknown field → 400 validation_failed naming it', async () => {
          const r = await refused(
            () => api.request(t.method, t.path(fx), { body: { ...t.valid(), surprise_field: 1 } }),
            400,
            'validation_failed',
          );
          const fields = (r.body.error.details ?? []).map((d: { field: string }) => d.field);
          assert.ok(fields.includes('/body/surprise_field'), JSON.stringify(r.body.error));
        });

        test('wrong JSON types → 400, never coerced', async () => {
          for (const [body, field] of t.wrongTypes) {
            const r = await refused(() => api.request(t.method, t.path(fx), { body }), 400, 'validation_failed');
            const fields = (r.body.error.details ?? []).map((d: { field: string }) => d.field);
            assert.ok(
              fields.some((f: string) => f.startsWith(field)),
              `${field} in ${JSON.stringify(fields)}`,
            );
          }
        });

        test('NUL in text, keys or values → 400', async () => {
          for (const body of t.nul) {
            await refused(() => api.request(t.method, t.path(fx), { body }), 400, 'validation_failed');
          }
        });

        test('lone surrogates → 400', async () => {
          for (const text of t.surrogate) {
            await refused(() => api.raw(t.method, t.path(fx), text), 400, 'validation_failed');
          }
        });

        test('__proto__ / constructor.prototype keys → 4xx, nothing polluted', async () => {
          const texts = [
            '{"__proto__":{"polluted":"yes"}}',
            '{"metadata":{"__proto__":{"polluted":"yes"}}}',
            '{"constructor":{"prototype":{"polluted":"yes"}}}',
            '{"metadata":{"constructor":{"prototype":{"polluted":"yes"}}}}',
            '{"input":{"a":[{"__proto__":{"polluted":"yes"}}]}}',
          ];
          for (const text of texts) {
            const before = await snapshot();
            const r = await api.raw(t.method, t.path(fx), text);
            assert.ok(r.status >= 400 && r.status < 500, `${text}: ${r.status} ${r.text}`);
            assert.equal(await snapshot(), before, 'no partial write');
          }
          const fresh: Record<string, unknown> = {};
          assert.equal(fresh.polluted, undefined);
          assert.deepEqual(Object.keys(Object.prototype), []);
          assert.equal((await api.get('/v1/conversations')).status, 200, 'the server keeps answering');
        });
      });
    }

    test('NUL in a query string → 400', async () => {
      for (const path of [
        '/v1/conversations?search=a%00b',
        '/v1/conversations?user_id=%00',
        `/v1/conversations/${fx.conv}/messages?cursor=%00`,
      ]) {
        assertError(await api.get(path), 400, 'validation_failed');
      }
    });

    test('a plain "constructor" or "prototype" key in free metadata is stored as data and harmless', async () => {
      const r = await api.post('/v1/conversations', { metadata: { constructor: 'c', prototype: 'p', toString: 1 } });
      assert.equal(r.status, 201);
      assert.deepEqual(r.body.data.metadata, { constructor: 'c', prototype: 'p', toString: 1 });
      const got = await api.get(`/v1/conversations/${r.body.data.id}`);
      assert.deepEqual(got.body.data.metadata, { constructor: 'c', prototype: 'p', toString: 1 });
    });

    test('out-of-range or non-numeric pagination → 400', async () => {
      const paths = [
        '/v1/conversations?per_page=0',
        '/v1/conversations?per_page=101',
        '/v1/conversations?page=0',
        '/v1/conversations?page=-1',
        '/v1/conversations?per_page=abc',
        '/v1/conversations?page=1.5',
        '/v1/conversations?limit=0',
        `/v1/conversations/${fx.conv}?limit=1001`,
        `/v1/conversations/${fx.conv}?limit=0`,
        `/v1/conversations/${fx.conv}?limit=ten`,
        `/v1/conversations/${fx.conv}/messages?limit=101`,
        `/v1/conversations/${fx.conv}/messages?limit=0`,
        `/v1/conversations/${fx.conv}/tool-invocations?limit=x`,
        '/v1/audit-events?limit=1000',
        '/v1/conversations?archived=maybe',
        '/v1/conversations?order=sideways',
        '/v1/conversations?created_after=yesterday',
        `/v1/conversations/${fx.conv}?include_tool_steps=yes`,
      ];
      for (const p of paths) assertError(await api.get(p), 400, 'validation_failed');
      // the edges themselves are fine
      for (const p of [
        '/v1/conversations?per_page=100',
        '/v1/conversations?per_page=1&page=1',
        `/v1/conversations/${fx.conv}?limit=1000`,
      ]) {
        assert.equal((await api.get(p)).status, 200, p);
      }
    });

    test('bad cursors → 400 invalid_cursor: garbage, edited, another workspace’s, another sort’s, another list’s', async () => {
      for (let i = 0; i < 3; i++) await api.post('/v1/conversations', { title: `page ${i}` });
      for (let i = 0; i < 3; i++)
        await api.post(`/v1/conversations/${fx.conv}/messages`, { role: 'user', content: `m${i}` });
      const listCursor = (await api.get('/v1/conversations?limit=1&order=desc')).body.meta.next_cursor as string;
      assert.equal(typeof listCursor, 'string');
      assert.equal(
        (await api.get(`/v1/conversations?limit=1&order=desc&cursor=${encodeURIComponent(listCursor)}`)).status,
        200,
      );
      const msgCursor = (await api.get(`/v1/conversations/${fx.conv}/messages?limit=1`)).body.meta
        .next_cursor as string;
      assert.equal(typeof msgCursor, 'string');
      // the other workspace needs two conversations of its own for a next page
      await otherApi.post('/v1/conversations', { title: 'other 2' });
      const foreignCursor = (await otherApi.get('/v1/conversations?limit=1&order=desc')).body.meta
        .next_cursor as string;
      assert.equal(typeof foreignCursor, 'string');

      const flip = (s: string, at: number) => {
        const ch = s[at] === 'A' ? 'B' : 'A';
        return s.slice(0, at) + ch + s.slice(at + 1);
      };
      const q = (c: string) => encodeURIComponent(c);
      const cases: string[] = [
        '/v1/conversations?cursor=garbage',
        '/v1/conversations?cursor=a.b',
        '/v1/conversations?cursor=.',
        `/v1/conversations?limit=1&order=desc&cursor=${q(flip(listCursor, 3))}`,
        `/v1/conversations?limit=1&order=desc&cursor=${q(flip(listCursor, listCursor.length - 2))}`,
        `/v1/conversations?limit=1&order=desc&cursor=${q(foreignCursor)}`,
        `/v1/conversations?limit=1&order=asc&cursor=${q(listCursor)}`,
        `/v1/conversations?limit=1&order=desc&order_by=created_at&cursor=${q(listCursor)}`,
        `/v1/conversations?limit=1&cursor=${q(msgCursor)}`,
        `/v1/conversations/${fx.conv}/messages?cursor=garbage`,
        `/v1/conversations/${fx.conv}/messages?limit=1&cursor=${q(flip(msgCursor, 2))}`,
        `/v1/conversations/${fx.conv}/messages?limit=1&order=desc&cursor=${q(msgCursor)}`,
        `/v1/conversations/${fx.conv}/tool-invocations?cursor=${q(msgCursor)}`,
        `/v1/audit-events?cursor=${q(listCursor)}`,
      ];
      for (const p of cases) assertError(await api.get(p), 400, 'invalid_cursor');
    });

    test('unknown query parameter → 400 naming it, on every route', async () => {
      const doomed = (await api.post('/v1/conversations', { title: 'must survive' })).body.data.id;
      const paths: Array<[string, string]> = [
        ['GET', '/v1/conversations?colour=red'],
        ['GET', `/v1/conversations/${fx.conv}?colour=red`],
        ['GET', `/v1/conversations/${fx.conv}/messages?colour=red`],
        ['GET', `/v1/conversations/${fx.conv}/tool-invocations?colour=red`],
        ['GET', `/v1/conversations/${fx.conv}/tool-invocations/${fx.tool}?colour=red`],
        ['GET', '/v1/audit-events?colour=red'],
        ['GET', '/v1/keys?colour=red'],
        ['POST', '/v1/conversations?colour=red'],
        ['PATCH', `/v1/conversations/${fx.conv}?colour=red`],
        ['DELETE', `/v1/conversations/${doomed}?colour=red`],
        ['POST', '/v1/keys?colour=red'],
      ];
      for (const [method, p] of paths) {
        const body = method === 'POST' && p.startsWith('/v1/keys') ? { name: 'k', scopes: ['read:ai'] } : undefined;
        const r = await refused(
          () =>
            api.request(method, p, {
              body: body ?? (method === 'DELETE' || method === 'GET' ? undefined : { title: 't' }),
            }),
          400,
          'validation_failed',
        );
        assert.ok(r.text.includes('colour'), r.text);
      }
    });

    test('unknown route → 404 not_found in the same envelope', async () => {
      for (const [m, p] of [
        ['GET', '/v1/nothing-here'],
        ['POST', '/v1/conversations/x/y/z'],
        ['GET', '/v2/conversations'],
        ['PUT', '/v1/nothing-here'],
      ] as const) {
        const r: Reply = await api.request(m, p);
        assertError(r, 404, 'not_found');
        assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'request_id']);
      }
    });
  });
}
