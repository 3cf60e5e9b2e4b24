import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { newSdkWorkspace } from './helpers/sdk.js';

// Hot list and message reads run from queries compiled once per shape (store/query-template.ts).
// These walk the same data through different shapes in turn, so a template that kept the values
// or the shape of an earlier call would answer with the wrong rows.
for (const engine of testEngines()) {
  describe(`list shapes [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    const made: Array<{ id: string; user: string; bot: string; archived: boolean }> = [];

    before(async () => {
      server = await startServer(engine);
      const key = await (await newSdkWorkspace(server)).key(['read:ai', 'write:ai']);
      api = key.client;
      for (let i = 0; i < 14; i++) {
        const user = `u${i % 3}`;
        const bot = `b${i % 2}`;
        server.clock.advance(1000);
        const c = await key.parley.conversations.create({ user_id: user, bot_id: bot, title: `t${i}` });
        const archived = i % 5 === 0;
        if (archived) await key.parley.conversations.update(c.id, { archived: true });
        made.push({ id: c.id, user, bot, archived });
      }
    });
    after(async () => server.close());

    async function walk(query: string, limit: number): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const r: Reply = await api.get(`/v1/conversations?${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        ids.push(...r.body.data.map((c: { id: string }) => c.id));
        cursor = r.body.meta.next_cursor;
      } while (cursor);
      return ids;
    }

    test('cursor walks under different filters return exactly the matching rows, newest first', async () => {
      const newestFirst = [...made].reverse();
      const cases: Array<[string, (c: (typeof made)[number]) => boolean]> = [
        ['', (c) => !c.archived],
        ['user_id=u1', (c) => c.user === 'u1' && !c.archived],
        ['user_id=u2', (c) => c.user === 'u2' && !c.archived],
        ['bot_id=b0&archived=true', (c) => c.bot === 'b0'],
        ['archived=only', (c) => c.archived],
        ['user_id=u0&bot_id=b1', (c) => c.user === 'u0' && c.bot === 'b1' && !c.archived],
      ];
      for (const [query, keep] of cases) {
        for (const limit of [3, 5]) {
          assert.deepEqual(
            await walk(query, limit),
            newestFirst.filter(keep).map((c) => c.id),
            `${query} limit ${limit}`,
          );
        }
      }
    });

    test('page/per_page and totals follow the filter of each call', async () => {
      const all = [...made].reverse().filter((c) => !c.archived);
      const p2 = await api.get('/v1/conversations?page=2&per_page=4');
      assert.deepEqual(
        p2.body.data.map((c: { id: string }) => c.id),
        all.slice(4, 8).map((c) => c.id),
      );
      assert.equal(p2.body.meta.total, all.length);
      const u1 = await api.get('/v1/conversations?user_id=u1&page=1&per_page=2');
      assert.equal(u1.body.meta.total, all.filter((c) => c.user === 'u1').length);
      assert.ok(u1.body.data.every((c: { user_id: string }) => c.user_id === 'u1'));
    });

    test('message pages: GET shows the most recent oldest first; cursor pages walk every message, per conversation', async () => {
      const [a, b] = [made[1]?.id as string, made[2]?.id as string];
      // appended alternately and without moving the clock, so both conversations' messages share
      // timestamps and the keyset must order ties by id
      for (let i = 0; i < 11; i++) {
        for (const id of [a, b]) {
          if (id === a && i >= 7) continue;
          const r = await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: `${id} m${i}` });
          assert.equal(r.status, 201, r.text);
        }
      }
      const got = await api.get(`/v1/conversations/${b}?limit=3`);
      assert.deepEqual(
        got.body.data.messages.map((m: { content: string }) => m.content),
        [`${b} m8`, `${b} m9`, `${b} m10`],
      );
      const other = await api.get(`/v1/conversations/${a}?limit=2`);
      assert.deepEqual(
        other.body.data.messages.map((m: { content: string }) => m.content),
        [`${a} m5`, `${a} m6`],
      );

      /** Follows next_cursor from the first page to the end; every page at most `limit` long. */
      async function walkMessages(id: string, order: 'asc' | 'desc', limit: number): Promise<string[]> {
        const ids: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const q: string = `order=${order}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const r: Reply = await api.get(`/v1/conversations/${id}/messages?${q}`);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.ok(r.body.data.length <= limit, `${id} ${order} limit ${limit}: page of ${r.body.data.length}`);
          ids.push(...r.body.data.map((m: { id: string }) => m.id));
          cursor = r.body.meta.next_cursor;
          pages++;
          assert.ok(pages <= 50, `${id} ${order} limit ${limit}: the cursor never ends`);
        } while (cursor);
        return ids;
      }

      for (const [id, n] of [
        [a, 7],
        [b, 11],
      ] as const) {
        // the full list, oldest first, from the detail read (one page, no cursor involved)
        const full = (await api.get(`/v1/conversations/${id}?limit=1000`)).body.data.messages as Array<{
          id: string;
          content: string;
        }>;
        assert.equal(full.length, n, `${id}: every appended message`);
        const oldestFirst = full.map((m) => m.id);
        const newestFirst = [...oldestFirst].reverse();
        for (const limit of [1, 2, 3, 5, 100]) {
          assert.deepEqual(await walkMessages(id, 'asc', limit), oldestFirst, `${id} asc limit ${limit}`);
          assert.deepEqual(await walkMessages(id, 'desc', limit), newestFirst, `${id} desc limit ${limit}`);
        }
      }

      // a cursor belongs to its conversation's list: replayed on another it is refused, not followed
      const first = await api.get(`/v1/conversations/${a}/messages?limit=2`);
      assert.ok(first.body.meta.next_cursor, 'a first page of two has a next cursor');
      const foreign = await api.get(
        `/v1/conversations/${b}/messages?limit=2&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`,
      );
      assert.equal(foreign.status, 400, foreign.text);
      assert.equal(foreign.body.error.code, 'invalid_cursor');
    });
  });
}
