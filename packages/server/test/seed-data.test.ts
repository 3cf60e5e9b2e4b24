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
    let indexesBefore: string[] = [];

    /** The indexes on the tables a load writes (the loader drops some into empty tables and rebuilds them). */
    async function indexes(): Promise<string[]> {
      const store = server.parley.store;
      if (store.engine === 'sqlite') {
        const raw = (store as unknown as { raw: import('better-sqlite3').Database }).raw;
        return (
          raw.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`).all() as Array<{
            name: string;
            sql: string | null;
          }>
        ).map((r) => `${r.name} ${r.sql ?? ''}`);
      }
      const pool = (store as unknown as { pool: pg.Pool }).pool;
      const r = await pool.query<{ d: string }>(
        `SELECT indexdef AS d FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
      );
      return r.rows.map((x) => x.d);
    }

    async function keyFor(ws: string): Promise<Client> {
      const store = server.parley.store;
      const keys = new KeysService({ store, clock: server.clock });
      const k = await store.transact(ws, (w) => keys.insert(w, { name: 'seed', scopes: ['read:ai'] }));
      return new Client(server.url, k.secret);
    }

    before(async () => {
      server = await startServer(engine);
      indexesBefore = await indexes();
      await seedData(server.parley.store, OPTS, { batchMessages: 100 });
      for (const ws of plan.workspaceIds) clients.set(ws, await keyFor(ws));
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

    test('the indexes set aside for the load into empty tables are back, as the migrations define them', async () => {
      assert.ok(indexesBefore.length > 5);
      assert.deepEqual(await indexes(), indexesBefore);
    });

    test('meta.total counts every seeded live conversation of the workspace', async () => {
      for (const ws of plan.workspaceIds) {
        const live = generated.filter((c) => c.workspaceId === ws && !c.archived).length;
        const r = await (clients.get(ws) as Client).get('/v1/conversations?per_page=1');
        assert.equal(r.status, 200);
        assert.equal(r.body.meta.total, live, ws);
      }
    });

    test('a second load, into tables that already hold rows, is searchable and counted as well', async () => {
      const more: SeedOptions = { ...OPTS, seed: 8 };
      const morePlan = new SeedGenerator(more);
      const moreRows = [...new SeedGenerator(more).conversations()];
      await seedData(server.parley.store, more, { batchMessages: 150 });
      assert.deepEqual(await indexes(), indexesBefore);
      for (const ws of morePlan.workspaceIds) {
        const client = await keyFor(ws);
        const mine = moreRows.filter((c) => c.workspaceId === ws);
        const r = await client.get('/v1/conversations?per_page=1');
        assert.equal(r.body.meta.total, mine.filter((c) => !c.archived).length);
        const words = analyze(mine[0]?.messages[0]?.content ?? '').map((t) => t.text);
        const text = `"${words.slice(0, 2).join(' ')}"`;
        const expected = mine
          .filter((c) => conversationMatches({ title: c.title, messages: c.messages.map((m) => m.content) }, text))
          .map((c) => c.id)
          .sort();
        assert.ok(expected.length > 0);
        assert.deepEqual(await searchAll(client, text), expected, `${ws} ${text}`);
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
