import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PostgresStore } from '../src/store/postgres/index.js';
import type { ConversationFilter } from '../src/store/types.js';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

for (const engine of testEngines()) {
  describe(`bounded totals [${engine}]`, () => {
    let server: TestServer;
    let wsId: string;

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      wsId = ws.id;
      for (let i = 0; i < 3; i++) {
        const r = await ws.admin.post('/v1/conversations', {
          context: { contact_id: 'c1' },
          messages: [{ role: 'user', content: `walrus report ${i}` }],
        });
        assert.equal(r.status, 201);
      }
    });
    after(async () => server.close());

    test('a total past its cap stops there and says it is not exact (search and context filters)', async () => {
      for (const filter of [{ search: 'walrus' }, { contactId: 'c1' }]) {
        const total = (cap: number) =>
          server.parley.store.read(wsId, (r) => r.conversations.total({ archived: 'exclude', ...filter }, cap));
        const capped = await total(2);
        assert.deepEqual(capped, { total: 2, exact: false }, JSON.stringify(filter));
        const whole = await total(3);
        assert.deepEqual(whole, { total: 3, exact: true }, JSON.stringify(filter));
      }
    });
  });
}

/**
 * PostgreSQL counts a search total two ways (store/postgres/search.ts countMatches): every match from
 * the GIN indexes, deduplicated as it streams, or, for a word in a large share of messages, the
 * newest conversations tested one by one (with a fallback to the index count when too few of the
 * ones it may test match). The planner statistics choose; here each plan is forced, over every
 * shape a total meets, and both must give the answer the data holds.
 */
describe('bounded search totals: both PostgreSQL plans give the same answer [postgres]', () => {
  if (!testEngines().includes('postgres')) return;
  let server: TestServer;
  let wsId: string;
  const expected = new Map<string, number>();

  before(async () => {
    server = await startServer('postgres');
    const ws = await newWorkspace(server);
    wsId = ws.id;
    const userKey = await ws.key(['read:ai', 'write:ai'], { user_id: 'u_walrus' });
    // 24 conversations: `walrus` in messages of every one (two each in the even ones), `tusk` in the
    // titles of every third, `narwhal` in one message of one; some archived, some deleted
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const client = i % 4 === 0 ? userKey.client : ws.admin;
      const messages = [{ role: 'user', content: `walrus report number ${i}` }];
      if (i % 2 === 0) messages.push({ role: 'assistant', content: 'the walrus again, and a seal' });
      for (let k = 0; k < 3; k++) messages.push({ role: 'user', content: `filler ${k} about the sea` });
      if (i === 5) messages.push({ role: 'assistant', content: 'a narwhal was seen' });
      const r = await client.post('/v1/conversations', {
        title: i % 3 === 0 ? `tusk log ${i}` : `plain ${i}`,
        messages,
      });
      assert.equal(r.status, 201);
      ids.push(r.body.data.id);
    }
    for (const i of [1, 2, 3])
      assert.equal((await ws.admin.patch(`/v1/conversations/${ids[i]}`, { archived: true })).status, 200);
    for (const i of [6, 7]) assert.equal((await ws.admin.delete(`/v1/conversations/${ids[i]}`)).status, 204);
    // what the data holds, by hand: 22 left, 3 of them archived; titles `tusk` at 0,3,9,12,15,18,21
    expected.set('walrus|exclude', 19);
    expected.set('walrus|include', 22);
    expected.set('walrus|only', 3);
    expected.set('walrus|user', 6); // 0,4,8,12,16,20: u_walrus, none archived or deleted
    expected.set('tusk|exclude', 6); // 0,9,12,15,18,21 (3 is archived)
    expected.set('narwhal|exclude', 1);
    expected.set('walrus tusk|exclude', 0); // never in the same text
    expected.set('sea|exclude', 19);
    expected.set('zzz|exclude', 0);
  });
  after(async () => server.close());

  test('index and scan plans: same totals for every cap, filter and frequency', async () => {
    const store = server.parley.store as PostgresStore;
    const cases: Array<{ key: string; filter: ConversationFilter }> = [];
    for (const [key] of expected) {
      const [text, mode] = key.split('|') as [string, string];
      const filter: ConversationFilter =
        mode === 'user'
          ? { archived: 'exclude', search: text, userId: 'u_walrus' }
          : { archived: mode as 'exclude' | 'include' | 'only', search: text };
      cases.push({ key, filter });
    }
    try {
      for (const plan of ['index', 'scan', 'auto'] as const) {
        store.searchIndex.totalPlan = plan;
        for (const { key, filter } of cases) {
          const n = expected.get(key) as number;
          for (const cap of [1, 2, 5, 19, 1000]) {
            const got = await server.parley.store.read(wsId, (r) => r.conversations.total(filter, cap));
            const want = n > cap ? { total: cap, exact: false } : { total: n, exact: true };
            assert.deepEqual(got, want, `${plan} ${key} cap ${cap}`);
          }
        }
      }
    } finally {
      store.searchIndex.totalPlan = 'auto';
    }
  });

  test('searchPage (the total from the ranked rows where they say it): the rows of search and the total of total', async () => {
    const store = server.parley.store as PostgresStore;
    assert.equal(store.searchIndex.windowTotal, true, 'PostgreSQL counts from the ranked rows');
    for (const [key, n] of expected) {
      const [text, mode] = key.split('|') as [string, string];
      const filter: ConversationFilter =
        mode === 'user'
          ? { archived: 'exclude', search: text, userId: 'u_walrus' }
          : { archived: mode as 'exclude' | 'include' | 'only', search: text };
      for (const cap of [1, 2, 5, 19, 1000]) {
        const want = n > cap ? { total: cap, exact: false } : { total: n, exact: true };
        // first page, a page by offset, a page past the end, and a cursor page
        for (const page of [{}, { offset: 2 }, { offset: 50 }]) {
          const q = { ...filter, orderBy: 'relevance' as const, order: 'asc' as const, limit: 3, ...page };
          const got = await server.parley.store.read(wsId, (r) => r.conversations.searchPage(q, cap));
          const rows = await server.parley.store.read(wsId, (r) => r.conversations.search(q));
          assert.deepEqual(got.total, want, `${key} cap ${cap} ${JSON.stringify(page)}`);
          assert.deepEqual(got.rows, rows, `${key} cap ${cap} ${JSON.stringify(page)}: rows`);
          const last = rows[rows.length - 1];
          if (last === undefined) continue;
          const after = { value: last.score, id: last.conversation.id };
          const next = await server.parley.store.read(wsId, (r) => r.conversations.searchPage({ ...q, after }, cap));
          assert.deepEqual(next.total, want, `${key} cap ${cap} after a cursor`);
          assert.deepEqual(
            next.rows,
            await server.parley.store.read(wsId, (r) => r.conversations.search({ ...q, after })),
            `${key} cap ${cap}: cursor rows`,
          );
        }
      }
    }
  });
});
