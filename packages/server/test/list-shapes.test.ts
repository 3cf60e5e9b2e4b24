import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, newWorkspace, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';

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
      const ws = await newWorkspace(server);
      api = (await ws.key(['read:ai', 'write:ai'])).client;
      for (let i = 0; i < 14; i++) {
        const user = `u${i % 3}`;
        const bot = `b${i % 2}`;
        server.clock.advance(1000);
        const c = (await api.post('/v1/conversations', { user_id: user, bot_id: bot, title: `t${i}` })).body.data;
        const archived = i % 5 === 0;
        if (archived) await api.patch(`/v1/conversations/${c.id}`, { archived: true });
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

    test('GET conversation: its most recent messages, oldest first (order=desc newest first), per conversation', async () => {
      const [a, b] = [made[1]?.id, made[2]?.id];
      for (const id of [a, b]) {
        for (let i = 0; i < 5; i++)
          await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: `${id} m${i}` });
      }
      const got = await api.get(`/v1/conversations/${b}?limit=3`);
      assert.deepEqual(
        got.body.data.messages.map((m: { content: string }) => m.content),
        [`${b} m2`, `${b} m3`, `${b} m4`],
      );
      const other = await api.get(`/v1/conversations/${a}?limit=2&order=desc`);
      assert.deepEqual(
        other.body.data.messages.map((m: { content: string }) => m.content),
        [`${a} m4`, `${a} m3`],
      );
    });
  });
}
