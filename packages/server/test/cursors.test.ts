import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { newSdkWorkspace } from './helpers/sdk.js';

const OTHER = 'This cursor belongs to a list with other filters; send the cursor alone or the same filters';
const q = (c: string) => encodeURIComponent(c);
const ids = (r: Reply) => (r.body.data as Array<{ id: string }>).map((x) => x.id);

/** A cursor alone continues its list: the filters and sort it was minted for travel inside it. */
for (const engine of testEngines()) {
  describe(`cursors carry their list [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let b1: string[];
    let conv: string;

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 } });
      const admin = (await newSdkWorkspace(server)).admin;
      api = admin.client;
      b1 = [];
      for (let i = 0; i < 5; i++) {
        b1.push((await admin.parley.conversations.create({ title: `b1 apple ${i}`, bot_id: 'b1' })).id);
        await admin.parley.conversations.create({ title: `b2 apple ${i}`, bot_id: 'b2' });
      }
      conv = b1[0] as string;
      for (let i = 0; i < 5; i++) await admin.parley.messages.append(conv, { role: 'user', content: `m${i}` });
    });
    after(async () => server.close());

    const refused = (r: Reply, status: number, code: string) => {
      assert.equal(r.status, status, r.text);
      assert.equal(r.body.error.code, code, r.text);
      return r.body.error.message as string;
    };

    test('conversations: the cursor alone continues the filtered, sorted list with its page size', async () => {
      const first = await api.get('/v1/conversations?bot_id=b1&order=asc&order_by=created_at&limit=2');
      assert.deepEqual(ids(first), b1.slice(0, 2));
      const cursor = first.body.meta.next_cursor as string;
      const alone = await api.get(`/v1/conversations?cursor=${q(cursor)}`);
      assert.equal(alone.status, 200, alone.text);
      assert.deepEqual(ids(alone), b1.slice(2, 4));
      assert.equal(alone.body.meta.per_page, 2);
      const third = await api.get(`/v1/conversations?cursor=${q(alone.body.meta.next_cursor)}`);
      assert.deepEqual(ids(third), b1.slice(4));
      assert.equal(third.body.meta.next_cursor, null);
      // a limit may come with it
      assert.deepEqual(ids(await api.get(`/v1/conversations?cursor=${q(cursor)}&limit=3`)), b1.slice(2, 5));
      // the same filters resent (defaults spelled out or not) still work
      for (const same of [
        'bot_id=b1&order=asc&order_by=created_at',
        'bot_id=b1&order=asc&order_by=created_at&archived=false&limit=2',
      ]) {
        const r = await api.get(`/v1/conversations?${same}&cursor=${q(cursor)}`);
        assert.deepEqual(ids(r), b1.slice(2, 4), same);
      }
    });

    test('conversations: a cursor with other filters or sort is refused, saying why', async () => {
      const cursor = (await api.get('/v1/conversations?bot_id=b1&order=asc&limit=2')).body.meta.next_cursor as string;
      for (const other of [
        'bot_id=b2',
        'order=desc',
        'bot_id=b1',
        'bot_id=b1&order=asc&archived=true',
        'search=apple',
      ]) {
        const message = refused(await api.get(`/v1/conversations?${other}&cursor=${q(cursor)}`), 400, 'invalid_cursor');
        assert.equal(message, OTHER, other);
      }
    });

    test('search: the cursor alone continues the search', async () => {
      const first = await api.get('/v1/conversations?search=apple&bot_id=b2&limit=2');
      assert.equal(first.status, 200, first.text);
      const seen = new Set(ids(first));
      let cursor = first.body.meta.next_cursor as string | null;
      while (cursor) {
        const r = await api.get(`/v1/conversations?cursor=${q(cursor)}`);
        assert.equal(r.status, 200, r.text);
        for (const c of r.body.data) {
          assert.equal(c.bot_id, 'b2');
          assert.ok(c.match, 'a search page carries match');
          assert.ok(!seen.has(c.id), 'no repeats');
          seen.add(c.id);
        }
        cursor = r.body.meta.next_cursor;
      }
      assert.equal(seen.size, 5);
    });

    test('a search too long to carry: the cursor stays short and asks for the same filters back', async () => {
      const long = Array.from({ length: 300 }, () => 'apple').join(' ');
      const first = await api.get(`/v1/conversations?search=${q(long)}&bot_id=b1&limit=2`);
      assert.equal(first.status, 200, first.text);
      const cursor = first.body.meta.next_cursor as string;
      assert.ok(cursor.length < 1024, `cursor of ${cursor.length} characters`);
      const alone = await api.get(`/v1/conversations?cursor=${q(cursor)}`);
      assert.equal(alone.status, 400, alone.text);
      assert.equal(alone.body.error.code, 'invalid_cursor');
      assert.match(alone.body.error.message, /send it with the same filters/);
      const again = await api.get(`/v1/conversations?search=${q(long)}&bot_id=b1&cursor=${q(cursor)}`);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.data.length, 2);
      assert.ok(!ids(first).some((id) => ids(again).includes(id)), 'the next page');
      const other = await api.get(`/v1/conversations?search=${q(long)}&bot_id=b2&cursor=${q(cursor)}`);
      assert.equal(other.body.error.message, OTHER);
    });

    test('limit with per_page, and page with cursor: 400 validation_failed, never one silently ignored', async () => {
      refused(await api.get('/v1/conversations?limit=2&per_page=3'), 400, 'validation_failed');
      const cursor = (await api.get('/v1/conversations?limit=2')).body.meta.next_cursor as string;
      refused(await api.get(`/v1/conversations?page=2&cursor=${q(cursor)}`), 400, 'validation_failed');
    });

    test('messages: the cursor keeps its order and page size; another order is refused', async () => {
      const first = await api.get(`/v1/conversations/${conv}/messages?order=desc&limit=2`);
      const contents = (r: Reply) => (r.body.data as Array<{ content: string }>).map((m) => m.content);
      assert.deepEqual(contents(first), ['m4', 'm3']);
      const cursor = first.body.meta.next_cursor as string;
      assert.deepEqual(contents(await api.get(`/v1/conversations/${conv}/messages?cursor=${q(cursor)}`)), ['m2', 'm1']);
      assert.deepEqual(contents(await api.get(`/v1/conversations/${conv}/messages?order=desc&cursor=${q(cursor)}`)), [
        'm2',
        'm1',
      ]);
      const message = refused(
        await api.get(`/v1/conversations/${conv}/messages?order=asc&cursor=${q(cursor)}`),
        400,
        'invalid_cursor',
      );
      assert.equal(message, OTHER);
    });

    test('audit events: newest first by default, and the cursor alone continues that order', async () => {
      const doomed: string[] = [];
      for (let i = 0; i < 3; i++) doomed.push((await api.post('/v1/conversations', { title: `d${i}` })).body.data.id);
      for (const id of doomed) assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 204);
      const first = await api.get('/v1/audit-events?limit=1');
      assert.equal(first.body.data[0].target_id, doomed[2]);
      const next = await api.get(`/v1/audit-events?cursor=${q(first.body.meta.next_cursor)}`);
      assert.deepEqual(
        (next.body.data as Array<{ target_id: string }>).map((e) => e.target_id),
        [doomed[1]],
      );
      refused(
        await api.get(`/v1/audit-events?order=asc&cursor=${q(first.body.meta.next_cursor)}`),
        400,
        'invalid_cursor',
      );
    });
  });
}
