import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { SeedGenerator, type SeedOptions } from '../src/seed/generator.js';
import { seedData } from '../src/seed/run.js';
import { KeysService } from '../src/services/keys.js';
import { tsvLiteral } from '../src/store/postgres/search.js';
import { analyze } from '../src/store/search-terms.js';
import { Client, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { conversationMatches } from './helpers/search-oracle.js';

const OPTS: SeedOptions = { workspaces: 2, conversations: 60, messages: 400, seed: 7, now: Date.UTC(2026, 10, 1) };

/** Every id the API's search returns, following cursors. */
async function searchAll(client: Client, text: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const r: { status: number; body: { data: Array<{ id: string }>; meta: { next_cursor: string | null } } } =
      await client.get(
        `/v1/conversations?archived=true&per_page=100&search=${encodeURIComponent(text)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
    assert.equal(r.status, 200);
    ids.push(...r.body.data.map((c) => c.id));
    cursor = r.body.meta.next_cursor;
  } while (cursor !== null);
  return ids.sort();
}

// Data loaded by `parley seed-data` (bulk writers, not the store's insert path) must be indexed
// exactly as the API would have indexed it, so the API's search finds it on both engines.
for (const engine of testEngines()) {
  describe(`seed-data is searchable (${engine})`, () => {
    let server: TestServer;
    const plan = new SeedGenerator(OPTS);
    const generated = [...new SeedGenerator(OPTS).conversations()];
    const clients = new Map<string, Client>();

    before(async () => {
      server = await startServer(engine);
      const store = server.parley.store;
      await seedData(store, OPTS, { batchMessages: 100 });
      const keys = new KeysService({ store, clock: server.clock });
      for (const ws of plan.workspaceIds) {
        const k = await store.transact(ws, (w) => keys.insert(w, { name: 'seed', scopes: ['read:ai'] }));
        clients.set(ws, new Client(server.url, k.secret));
      }
    });
    after(async () => {
      await server?.close();
    });

    test('phrases and prefixes from seeded messages and titles find exactly the matching conversations', async () => {
      const queries = new Set<string>();
      for (const c of generated.slice(0, 12)) {
        const words = analyze(c.messages[c.messages.length - 1]?.content ?? '').map((t) => t.text);
        queries.add(`"${words.slice(0, 3).join(' ')}"`);
        const titleWord = analyze(c.title).find((t) => t.kind === 'word');
        if (titleWord && titleWord.text.length > 3) queries.add(titleWord.text.slice(0, 3));
      }
      for (const ws of plan.workspaceIds) {
        const mine = generated.filter((c) => c.workspaceId === ws);
        for (const text of queries) {
          const expected = mine
            .filter((c) => conversationMatches({ title: c.title, messages: c.messages.map((m) => m.content) }, text))
            .map((c) => c.id)
            .sort();
          assert.deepEqual(await searchAll(clients.get(ws) as Client, text), expected, `${ws} ${text}`);
        }
      }
    });

    test('a seeded conversation is never found from another workspace', async () => {
      const [a, b] = plan.workspaceIds as [string, string];
      const only = generated.find((c) => c.workspaceId === a) as (typeof generated)[number];
      const ids = await searchAll(clients.get(b) as Client, only.title);
      assert.ok(!ids.includes(only.id));
    });

    if (engine === 'postgres') {
      test('search_tsv is the tsvector the store writes, and the search indexes are in place', async () => {
        const pool = (server.parley.store as unknown as { pool: pg.Pool }).pool;
        const msgs = new Map(generated.flatMap((c) => c.messages.map((m) => [m.id, m.content] as const)));
        const r = await pool.query<{ id: string; same: boolean }>(
          `SELECT id, search_tsv = (v.t)::tsvector AS same FROM messages
           JOIN unnest($1::text[], $2::text[]) AS v(i, t) ON v.i = messages.id`,
          [[...msgs.keys()], [...msgs.values()].map(tsvLiteral)],
        );
        assert.equal(r.rowCount, msgs.size);
        assert.ok(
          r.rows.every((x) => x.same),
          'every seeded message tsvector equals tsvLiteral(content)',
        );
        const t = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM conversations c JOIN unnest($1::text[], $2::text[]) AS v(i, t) ON v.i = c.id
           WHERE c.search_tsv = (v.t)::tsvector`,
          [generated.map((c) => c.id), generated.map((c) => tsvLiteral(c.title))],
        );
        assert.equal(t.rows[0]?.n, generated.length);
        const ix = await pool.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE indexname IN ('messages_search_tsv', 'conversations_search_tsv')
           ORDER BY indexname`,
        );
        assert.deepEqual(
          ix.rows.map((x) => x.indexname),
          ['conversations_search_tsv', 'messages_search_tsv'],
        );
      });
    }
  });
}
