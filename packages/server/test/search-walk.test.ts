import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { seedData } from '../src/seed/run.js';
import type { PostgresStore } from '../src/store/postgres/index.js';
import { tsvLiteral } from '../src/store/postgres/search.js';
import type { ConversationListQuery } from '../src/store/types.js';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

/**
 * PostgreSQL's ranked search takes a common word's candidate window from an index-only walk of
 * messages_search_walk (migration 14: (workspace_id, id) INCLUDE (conversation_id, search_lex),
 * search_lex = the message's lexemes without positions, NULL when too long for an index entry).
 * search_lex is a generated column: every write path keeps it. Here: it is the stripped tsvector
 * of the content after each path (create, append, update, delete, conversation delete, import,
 * the bulk loader), and the walk gives the same pages, cursors and totals as the plan that reads
 * message rows, for common, rare, prefix, phrase and long-message searches, windows cut or not.
 */
describe('search window walk: search_lex kept by every write, same pages as the row plan [postgres]', () => {
  if (!testEngines().includes('postgres')) return;
  let server: TestServer;
  let store: PostgresStore;
  let pool: pg.Pool;
  const contents = new Map<string, string>();
  // 400 distinct words: lexemes far past what an index entry may hold (search_lex NULL)
  const long = `${Array.from({ length: 400 }, (_, i) => `lengthy${i.toString().padStart(4, '0')}`).join(' ')} walrus tail`;

  before(async () => {
    server = await startServer('postgres');
    store = server.parley.store as PostgresStore;
    pool = store.pool;
  });
  after(async () => server.close());

  const lexOk = async (what: string) => {
    // what search_lex must be: strip() of the tsvector the store writes for the content, or NULL
    // when that is longer than 1,500 bytes in text form
    const r = await pool.query<{ id: string; ok: boolean; big: boolean }>(
      `SELECT m.id,
              CASE WHEN octet_length(strip(v.t::tsvector)::text) <= 1500
                THEN m.search_lex IS NOT NULL AND m.search_lex = strip(v.t::tsvector)
                ELSE m.search_lex IS NULL END AS ok,
              octet_length(strip(v.t::tsvector)::text) > 1500 AS big
       FROM messages m JOIN unnest($1::text[], $2::text[]) AS v(i, t) ON v.i = m.workspace_id || '|' || m.id`,
      [[...contents.keys()], [...contents.values()].map(tsvLiteral)],
    );
    assert.equal(r.rowCount, contents.size, `${what}: every message there`);
    const bad = r.rows.filter((x) => !x.ok).map((x) => x.id);
    assert.deepEqual(bad, [], `${what}: search_lex of these messages`);
    const rows = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages');
    assert.equal(rows.rows[0]?.n, contents.size, `${what}: no other message`);
    return r.rows.filter((x) => x.big).length;
  };

  test('every write path leaves search_lex the stripped lexemes of the content (NULL when too long)', async () => {
    const ws = await newWorkspace(server);
    const a = await ws.admin.post('/v1/conversations', {
      title: 'walrus log',
      messages: [
        { role: 'user', content: 'the walrus sat on the ice' },
        { role: 'assistant', content: long },
      ],
    });
    assert.equal(a.status, 201, a.text);
    const cid = a.body.data.id as string;
    for (const m of a.body.data.messages) contents.set(`${ws.id}|${m.id}`, m.content);
    assert.equal(await lexOk('create'), 1, 'the long message has no search_lex');

    const app = await ws.admin.post(`/v1/conversations/${cid}/messages`, {
      role: 'user',
      content: 'a seal and a walrus',
    });
    assert.equal(app.status, 201, app.text);
    contents.set(`${ws.id}|${app.body.data.id}`, 'a seal and a walrus');
    await lexOk('append');

    const first = a.body.data.messages[0].id as string;
    const longId = a.body.data.messages[1].id as string;
    await store.transact(ws.id, async (w) => {
      assert.ok(await w.messages.update(cid, first, { content: 'now about narwhals', metadata: {} }));
      assert.ok(await w.messages.update(cid, longId, { content: 'short again, walrus', metadata: {} }));
    });
    contents.set(`${ws.id}|${first}`, 'now about narwhals');
    contents.set(`${ws.id}|${longId}`, 'short again, walrus');
    assert.equal(await lexOk('update'), 0, 'an update that shortens a message gives it search_lex');
    await store.transact(ws.id, async (w) => {
      assert.ok(await w.messages.update(cid, first, { content: long, metadata: {} }));
    });
    contents.set(`${ws.id}|${first}`, long);
    assert.equal(await lexOk('update to long'), 1, 'an update that lengthens a message clears it');

    await store.transact(ws.id, async (w) => {
      assert.ok(await w.messages.delete(cid, app.body.data.id, Date.now()));
    });
    contents.delete(`${ws.id}|${app.body.data.id}`);
    await lexOk('message delete');

    // import: the workspace's export into a second workspace
    const exp = await ws.admin.get('/v1/export?format=jsonl');
    assert.equal(exp.status, 200, exp.text);
    const other = await newWorkspace(server);
    const imp = await other.admin.request('POST', '/v1/import', {
      raw: exp.text,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.equal(imp.status, 200, imp.text);
    const imported = await pool.query<{ id: string; content: string }>(
      `SELECT workspace_id || '|' || id AS id, content FROM messages WHERE workspace_id = $1`,
      [other.id],
    );
    assert.equal(imported.rowCount, 2);
    for (const m of imported.rows) contents.set(m.id, m.content);
    assert.equal(await lexOk('import'), 2);

    const del = await ws.admin.delete(`/v1/conversations/${cid}`);
    assert.equal(del.status, 204, del.text);
    const left = await pool.query<{ id: string }>(`SELECT workspace_id || '|' || id AS id FROM messages`);
    for (const key of [...contents.keys()]) if (!left.rows.some((m) => m.id === key)) contents.delete(key);
    await lexOk('conversation delete');

    // the bulk loader (seed-data, COPY) into a database that already holds rows
    await seedData(store, { workspaces: 1, conversations: 40, messages: 200, seed: 7, now: Date.UTC(2026, 10, 1) });
    const seeded = await pool.query<{ id: string; content: string }>(
      `SELECT workspace_id || '|' || id AS id, content FROM messages WHERE NOT (workspace_id || '|' || id = ANY($1::text[]))`,
      [[...contents.keys()]],
    );
    assert.ok(seeded.rowCount !== null && seeded.rowCount >= 150);
    for (const m of seeded.rows) contents.set(m.id, m.content);
    await lexOk('seed-data');
  });

  test('walk and row plans: the same pages, cursors and totals, windows cut and not', async () => {
    // a workspace of ~6,000 messages, so the common words' windows stop at their 2,000
    const opts = { workspaces: 1, conversations: 1_200, messages: 6_000, seed: 11, now: Date.UTC(2026, 10, 1) };
    await seedData(store, opts);
    const big = await pool.query<{ w: string }>(
      'SELECT workspace_id AS w FROM messages GROUP BY 1 ORDER BY count(*) DESC LIMIT 1',
    );
    const wsId = big.rows[0]?.w as string;
    // a long message (search_lex NULL) that matches a common word, as the newest message
    const conv = await pool.query<{ id: string }>(
      'SELECT id FROM conversations WHERE workspace_id = $1 ORDER BY id LIMIT 1',
      [wsId],
    );
    const words = await pool.query<{ word: string; ndoc: number }>(
      `SELECT word, ndoc FROM ts_stat($$SELECT search_tsv FROM messages WHERE workspace_id = '${wsId}'$$)
       ORDER BY ndoc DESC, word LIMIT 40`,
    );
    const common = words.rows.map((r) => r.word);
    assert.ok((words.rows[0]?.ndoc ?? 0) > 2_000, 'the commonest word fills a window');
    const sample = await pool.query<{ content: string }>(
      `SELECT content FROM messages WHERE workspace_id = $1 ORDER BY id DESC LIMIT 5`,
      [wsId],
    );
    const phrases = sample.rows.flatMap((r) => {
      const w = r.content.split(/\s+/).filter((x) => /^[a-z]{3,}$/.test(x));
      return w.length >= 2 ? [`"${w[0]} ${w[1]}"`] : [];
    });
    assert.ok(phrases.length > 0);
    const newest = await pool.query<{ id: string }>('SELECT max(id) AS id FROM messages WHERE workspace_id = $1', [
      wsId,
    ]);
    await store.transact(wsId, async (w) => {
      await w.messages.insert({
        id: `${newest.rows[0]?.id}z`,
        conversationId: conv.rows[0]?.id as string,
        role: 'user',
        content: `${long} ${common[0]} ${common[1]}`,
        metadata: {},
        createdAt: Date.UTC(2026, 10, 2),
      });
    });
    const texts = [
      ...common.slice(0, 12),
      `${common[0]} ${common[1]}`,
      `${common[2]} ${common[5]} ${common[9]}`,
      (common[3] as string).slice(0, 3), // a prefix
      ...phrases,
      `${phrases[0]} ${common[0]}`,
      'lengthy0007', // only in the long message (NULL search_lex)
      'nosuchwordanywhere',
    ];
    const pageOf = async (text: string, plan: 'walk' | 'heap') => {
      store.searchIndex.windowPlan = plan;
      const q: ConversationListQuery = {
        archived: 'exclude',
        search: text,
        orderBy: 'relevance',
        order: 'asc',
        limit: 7,
      } as ConversationListQuery;
      const one = await store.read(wsId, (r) => r.conversations.searchPage(q, 1_000));
      const last = one.rows[one.rows.length - 1];
      const two =
        last === undefined
          ? null
          : await store.read(wsId, (r) =>
              r.conversations.searchPage({ ...q, after: { value: last.score, id: last.conversation.id } }, 1_000),
            );
      const deep = await store.read(wsId, (r) => r.conversations.search({ ...q, limit: 200, offset: 100 }));
      return { one, two, deep };
    };
    try {
      for (const text of texts) {
        const heap = await pageOf(text, 'heap');
        const walk = await pageOf(text, 'walk');
        assert.deepEqual(walk, heap, text);
      }
      const hit = await pageOf('lengthy0007', 'walk');
      assert.equal(hit.one.rows.length, 1, 'the long message is found through the walk');
    } finally {
      store.searchIndex.windowPlan = 'auto';
    }
  });
});
