import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { ulidToUuid } from '../src/ids.js';
import type { Database } from '../src/store/schema.js';
import { Client, startServer, type TestServer, testEngines } from './helpers/harness.js';

/** Bytes that are not UTF-8: a stray continuation byte, and the UTF-8 form of a lone surrogate (U+D800). */
const BAD_BYTES = [Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80])];
const withBytes = (before: string, bad: Buffer, after: string) =>
  Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]);

const uuid = (id: string) => ulidToUuid(id.slice(id.indexOf('_') + 1));

/** Rows in the tables a write could touch, read under the API. */
async function storedRows(server: TestServer): Promise<number> {
  const db = (server.parley.store as unknown as { kysely: Kysely<Database> }).kysely;
  let n = 0;
  for (const t of ['conversations', 'messages', 'conversation_events', 'idempotency_records'] as const) {
    const r = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(t)}`.execute(db);
    n += Number(r.rows[0]?.n ?? 0);
  }
  return n;
}

for (const engine of testEngines()) {
  describe(`strict decoding of bytes and numbers [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let conv: string;

    before(async () => {
      server = await startServer(engine);
      api = new Client(server.url, server.instanceKey);
      // bot_id 'bot': the Botpress surface reaches only the conversations of the x-bot-id it is sent
      const c = await api.post('/v1/conversations', {
        title: 'target',
        bot_id: 'bot',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(c.status, 201, c.text);
      conv = c.body.data.id;
    });
    after(async () => server.close());

    /** One write per surface, with its own headers and the shape its errors come in. */
    const writes = (): Array<{
      surface: string;
      method: string;
      path: string;
      body: [string, string];
      headers?: Record<string, string>;
      shape: string;
    }> => [
      { surface: 'native', method: 'POST', path: '/v1/conversations', body: ['{"title":"a', '"}'], shape: 'native' },
      {
        surface: 'native',
        method: 'PATCH',
        path: `/v1/conversations/${conv}`,
        body: ['{"title":"a', '"}'],
        shape: 'native',
      },
      {
        surface: 'leadlex',
        method: 'PATCH',
        path: `/v1/lexi/conversations/${conv}`,
        body: ['{"title":"a', '"}'],
        shape: 'native',
      },
      {
        surface: 'lexicon',
        method: 'POST',
        path: '/api/v1/chats/',
        body: ['{"user_id":"u","title":"a', '"}'],
        headers: { 'x-api-key': server.instanceKey, authorization: '' },
        shape: 'detail',
      },
      {
        surface: 'fini',
        method: 'DELETE',
        path: '/v2/hc-interactions/public',
        body: [`{"ids":["${uuid(conv)}`, '"]}'],
        shape: 'fini',
      },
      {
        surface: 'botpress',
        method: 'PUT',
        path: `/v1/chat/conversations/${conv}`,
        body: ['{"tags":{"a":"', '"}}'],
        headers: { 'x-bot-id': 'bot' },
        shape: 'botpress',
      },
      {
        surface: 'openai',
        method: 'POST',
        path: '/openai/v1/conversations',
        body: ['{"metadata":{"a":"', '"}}'],
        shape: 'openai',
      },
    ];

    function assertShape(
      shape: string,
      r: { status: number; body: any; text: string; headers: Headers },
      status: number,
    ) {
      assert.equal(r.status, status, r.text);
      assert.ok(r.headers.get('x-request-id'), 'a request id on the refusal');
      if (shape === 'native') assert.equal(typeof r.body.error.code, 'string', r.text);
      if (shape === 'detail') assert.equal(typeof r.body.detail, 'string', r.text);
      if (shape === 'fini') assert.equal(r.body.statusCode, status, r.text);
      if (shape === 'botpress') assert.equal(r.body.code, status, r.text);
      if (shape === 'openai') assert.equal(typeof r.body.error.type, 'string', r.text);
    }

    test('a body that is not UTF-8 is refused on every surface, and nothing is stored', async () => {
      const before = await storedRows(server);
      for (const w of writes()) {
        for (const bad of BAD_BYTES) {
          const [head, tail] = w.body as [string, string];
          const r = await api.request(w.method, w.path, {
            raw: withBytes(head, bad, tail),
            headers: { 'content-type': 'application/json', ...(w.headers ?? {}) },
          });
          assertShape(w.shape, r, 400);
          assert.ok(!r.text.includes('\ufffd'), `${w.surface}: no replacement character echoed`);
        }
      }
      assert.equal(await storedRows(server), before, 'no row was written');
      const c = await api.get(`/v1/conversations/${conv}`);
      assert.equal(c.body.data.title, 'target');
    });

    test('JSON in another charset is refused with 415; UTF-8 spelled either way is accepted', async () => {
      for (const w of writes()) {
        const [head, tail] = w.body as [string, string];
        const r = await api.request(w.method, w.path, {
          raw: `${head}x${tail}`,
          headers: { 'content-type': 'application/json; charset=latin1', ...(w.headers ?? {}) },
        });
        assertShape(w.shape, r, 415);
      }
      for (const ct of [
        'application/json; charset=utf-8',
        'application/json;charset="UTF-8"',
        'application/json; charset=utf8',
      ]) {
        const r = await api.request('POST', '/v1/conversations', {
          raw: '{"title":"ok"}',
          headers: { 'content-type': ct },
        });
        assert.equal(r.status, 201, `${ct}: ${r.text}`);
      }
    });

    test('numbers a double cannot hold are refused, not stored changed', async () => {
      for (const n of ['1e400', '-1e400', '12345678901234567890', '9007199254740992']) {
        const r = await api.request('POST', '/v1/conversations', {
          raw: `{"metadata":{"n":${n}}}`,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(r.status, 400, `${n}: ${r.text}`);
        assert.equal(r.body.error.details[0].field, '/body/metadata/n');
      }
      const ok = await api.request('POST', '/v1/conversations', {
        raw: '{"metadata":{"a":9007199254740991,"b":-1.5e-7,"c":0.1}}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(ok.status, 201, ok.text);
      assert.deepEqual(ok.body.data.metadata, { a: 9007199254740991, b: -1.5e-7, c: 0.1 });
    });

    test('query values: invalid UTF-8 refused, whole numbers in decimal digits only', async () => {
      for (const path of [
        '/v1/conversations?search=%FF',
        '/v1/conversations?search=%ED%A0%80',
        '/v1/conversations?search=%E0%A4',
        '/v1/lexi/conversations?search=%FF',
      ]) {
        const r = await api.get(path);
        assert.equal(r.status, 400, `${path}: ${r.text}`);
        assert.match(r.body.error.message, /search/);
      }
      const botpress = await api.get('/v1/chat/conversations?channel=%C3', { 'x-bot-id': 'bot' });
      assertShape('botpress', botpress, 400);
      for (const v of ['0x10', '1e1', '+5', ' 7', '07', '1.0', '']) {
        const r = await api.get(`/v1/conversations?page=${encodeURIComponent(v)}`);
        assert.equal(r.status, 400, `page=${JSON.stringify(v)}: ${r.text}`);
      }
      const fini = await api.get('/v2/hc-interactions/public?limit=0x10');
      assertShape('fini', fini, 400);
      const good = await api.get('/v1/conversations?page=2&per_page=10&search=caf%C3%A9+au+lait');
      assert.equal(good.status, 200, good.text);
      assert.equal(good.body.meta.page, 2);
    });

    test('Botpress PUT honours Idempotency-Key like every other write', async () => {
      const h = { 'x-bot-id': 'bot', 'idempotency-key': 'bp-put-1' };
      const first = await api.request('PUT', `/v1/chat/conversations/${conv}`, {
        body: { tags: { a: '1' } },
        headers: h,
      });
      assert.equal(first.status, 200, first.text);
      const replay = await api.request('PUT', `/v1/chat/conversations/${conv}`, {
        body: { tags: { a: '1' } },
        headers: h,
      });
      assert.equal(replay.status, 200);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      const other = await api.request('PUT', `/v1/chat/conversations/${conv}`, {
        body: { tags: { a: '2' } },
        headers: h,
      });
      assertShape('botpress', other, 422);
      const malformed = await api.request('PUT', `/v1/chat/conversations/${conv}`, {
        body: { tags: { a: '3' } },
        headers: { 'x-bot-id': 'bot', 'idempotency-key': 'bad key with spaces' },
      });
      assertShape('botpress', malformed, 400);
    });

    test('LeadLex answers any malformed id the router takes with 404, as its page documents', async () => {
      for (const len of [256, 300, 499]) {
        const r = await api.get(`/v1/lexi/conversations/${'a'.repeat(len)}`);
        assert.equal(r.status, 404, `${len}: ${r.text}`);
        assert.equal(r.body.error.code, 'not_found');
      }
    });
  });
}
