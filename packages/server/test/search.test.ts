import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { analyze } from '../src/store/search-terms.js';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { newSdkWorkspace } from './helpers/sdk.js';
import { conversationMatches } from './helpers/search-oracle.js';

interface Item {
  id: string;
  title: string | null;
  match?: {
    message_id: string | null;
    field: 'title' | 'content';
    snippet: string;
    highlights: Array<{ start: number; end: number }>;
  };
}

const q = (text: string, extra = '') =>
  `/v1/conversations?archived=true&per_page=100&search=${encodeURIComponent(text)}${extra}`;

/** The shared corpus: every engine gets the same conversations, and must return the same sets. */
const CORPUS: Array<{ title: string; messages: string[] }> = [
  { title: 'Quarterly budget review', messages: ['Numbers for Q3 look fine.'] },
  {
    title: 'Team offsite',
    messages: [
      `${'We talked about venues, catering, travel, agendas and rooms for a long time. '.repeat(6)}Someone mentioned the budget once. ${'Then more logistics and schedules followed. '.repeat(6)}`,
    ],
  },
  {
    title: 'SQL help',
    messages: ["SELECT * FROM t WHERE a LIKE '%_x' OR 1=1; -- comment", 'use NEAR(a b) and a:b or -x'],
  },
  { title: 'Paths', messages: ['C:\\Users\\ana\\file_name.txt and 50% off, a_b_c'] },
  { title: 'Crème brûlée', messages: ['Straße café in Zürich, naïve résumé'] },
  { title: '東京の旅', messages: ['今日は東京タワーに行きました 🎉🚀', '서울에서 만나요'] },
  { title: 'New York trip', messages: ['york new is not the phrase; new york is'] },
  { title: 'Emoji only', messages: ['👍🏽 ❤️ 🇫🇷'] },
  { title: 'Or not', messages: ['OR AND NOT NEAR are words here'] },
];

const OPERATOR_LIKE = [
  '"',
  '""',
  '"unclosed phrase',
  '*',
  'budg*',
  '-budget',
  'budget -review',
  ':',
  'a:b',
  'title:budget',
  'NEAR(',
  'NEAR(a b)',
  'OR',
  'budget OR review',
  'AND',
  'NOT',
  "' OR 1=1 --",
  "'; DROP TABLE conversations; --",
  '%',
  '%_x',
  '_',
  'a_b',
  '\\',
  'C:\\Users',
  '()',
  '(budget)',
  '^budget',
  '{title}: budget',
  '<->',
  '!budget',
  '&|',
  ':*',
  'budget:*',
  "budget' & 'review",
  'x'.repeat(10_240),
  `${'budget '.repeat(1400)}`.slice(0, 10_240),
  Array.from({ length: 2000 }, (_, i) => `w${i}`)
    .join(' ')
    .slice(0, 10_240),
];

for (const engine of testEngines()) {
  describe(`search [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    const ids = new Map<string, string>();

    const search = async (text: string, extra = ''): Promise<Item[]> => {
      const r = await api.get(q(text, extra));
      assert.equal(r.status, 200, `${text.slice(0, 40)} -> ${r.status} ${r.text.slice(0, 200)}`);
      return r.body.data;
    };
    const expected = (text: string) =>
      CORPUS.filter((c) => conversationMatches(c, text))
        .map((c) => ids.get(c.title))
        .sort();

    before(async () => {
      server = await startServer(engine);
      const key = await (await newSdkWorkspace(server)).key(['read:ai', 'write:ai']);
      api = key.client;
      for (const c of CORPUS) {
        const made = await key.parley.conversations.create({
          title: c.title,
          messages: c.messages.map((content) => ({ role: 'user' as const, content })),
        });
        ids.set(c.title, made.id);
      }
    });
    after(async () => server.close());

    test('a title match outranks a passing mention; match says where', async () => {
      const items = await search('budget');
      assert.deepEqual(
        items.map((i) => i.id),
        [ids.get('Quarterly budget review'), ids.get('Team offsite')],
      );
      const [first, second] = items as [Item, Item];
      assert.equal(first.match?.field, 'title');
      assert.equal(first.match?.message_id, null);
      assert.equal(second.match?.field, 'content');
      assert.match(second.match?.message_id ?? '', /^msg_/);
    });

    test('snippets contain the match and the offsets point at it', async () => {
      for (const [text, word] of [
        ['budget', 'budget'],
        ['mention', 'mentioned'],
        ['cafe', 'café'],
        ['東京', '東京'],
        ['🚀', '🚀'],
        ['"new york"', 'new york'],
      ] as const) {
        const items = await search(text);
        assert.ok(items.length > 0, text);
        for (const it of items) {
          const m = it.match;
          assert.ok(m, `${text}: match present`);
          assert.ok(m.snippet.length <= 204, `${text}: snippet bounded`);
          assert.ok(m.highlights.length > 0, `${text}: highlighted`);
          let prev = 0;
          for (const h of m.highlights) {
            assert.ok(h.start >= prev && h.end > h.start && h.end <= m.snippet.length, `${text}: offsets in order`);
            prev = h.end;
          }
          const marked = m.highlights.map((h) => m.snippet.slice(h.start, h.end));
          assert.ok(
            marked.some(
              (s) =>
                analyze(s)
                  .map((t) => t.text)
                  .join(' ') ===
                analyze(word)
                  .map((t) => t.text)
                  .join(' '),
            ),
            `${text}: ${JSON.stringify(marked)} holds ${word}`,
          );
        }
      }
      // the passing mention sits in the middle of a long message: the snippet is cut around it
      const offsite = (await search('budget')).find((i) => i.id === ids.get('Team offsite'));
      assert.ok(offsite?.match?.snippet.startsWith('…') && offsite.match.snippet.endsWith('…'));
      assert.ok(offsite?.match?.snippet.includes('budget'));
    });

    test('operator-like and huge strings: 200 with the literal answer', async () => {
      for (const text of OPERATOR_LIKE) {
        const got = (await search(text)).map((i) => i.id).sort();
        assert.deepEqual(got, expected(text), `query ${JSON.stringify(text.slice(0, 60))}`);
      }
      // the literal answer is not empty where the words exist
      assert.deepEqual((await search('NEAR(')).length, 2);
      assert.deepEqual(
        (await search("' OR 1=1 --")).map((i) => i.id),
        [ids.get('SQL help')],
      );
    });

    test('case, accents, prefixes, phrases, CJK and emoji', async () => {
      const cases: Array<[string, string[]]> = [
        ['CRÈME', ['Crème brûlée']],
        ['zurich naive', ['Crème brûlée']],
        ['resu', ['Crème brûlée']],
        ['"new york"', ['New York trip']],
        ['"york new"', ['New York trip']],
        ['"new yorkers"', []],
        ['東京', ['東京の旅']],
        ['京タワー', ['東京の旅']],
        ['大阪', []],
        ['서울', ['東京の旅']],
        ['🎉', ['東京の旅']],
        ['❤', ['Emoji only']],
        ['👍🏽', ['Emoji only']],
        ['🍕', []],
        ['budget zebra', []],
      ];
      for (const [text, titles] of cases) {
        const got = (await search(text)).map((i) => i.id).sort();
        assert.deepEqual(got, titles.map((t) => ids.get(t)).sort(), text);
        assert.deepEqual(got, expected(text), `${text}: oracle`);
      }
    });

    // docs/search.md: "the last term, when it is an unquoted word, matches as a prefix";
    // "duplicated terms count once; terms after the 64th are ignored": a repeated last word or a cut
    // must not hand the prefix to another term.
    test('the prefix is the last typed term only, whatever repeats or falls past the cap', async () => {
      const other = (await (await newWorkspace(server)).key(['read:ai', 'write:ai'])).client;
      const words = Array.from({ length: 70 }, (_, i) => `k${String(i).padStart(3, '0')}`);
      const made = new Map<string, { id: string; messages: string[] }>();
      const corpus: Array<[string, string[]]> = [
        ['New Yorkers club', []],
        ['applesauce recipe', []],
        ['k words', [words.join(' ')]],
      ];
      for (const [title, messages] of corpus) {
        const r = await other.post('/v1/conversations', {
          title,
          messages: messages.map((content) => ({ role: 'user', content })),
        });
        assert.equal(r.status, 201, r.text);
        made.set(title, { id: r.body.data.id, messages });
      }
      const cases: Array<[string, string[]]> = [
        // terms: new, york, new* (the last): york must be a whole word
        ['new york new', []],
        // terms: apple, apple*: the first needs the whole word
        ['apple apple', []],
        // 63 words, then k06 (the 64th, not the last typed: a whole word, absent), then one ignored
        [`${words.slice(0, 63).join(' ')} k06 zzz`, []],
        // controls: the last typed word is the prefix; past the cap, words are ignored
        ['new york', ['New Yorkers club']],
        [`${words.slice(0, 64).join(' ')} zzz`, ['k words']],
      ];
      for (const [text, titles] of cases) {
        const r = await other.get(q(text));
        assert.equal(r.status, 200, r.text);
        const got = (r.body.data as Item[]).map((i) => i.id).sort();
        const oracle = [...made]
          .filter(([title, c]) => conversationMatches({ title, messages: c.messages }, text))
          .map(([, c]) => c.id)
          .sort();
        assert.deepEqual(
          oracle,
          titles.map((t) => made.get(t)?.id).sort(),
          `${text.slice(0, 40)}: the oracle reads the docs so`,
        );
        assert.deepEqual(got, oracle, `${text.slice(0, 40)}: engine`);
      }
    });

    test('combined with every list filter, totals bounded and exact', async () => {
      const mk = async (body: Record<string, unknown>) =>
        (await api.post('/v1/conversations', body)).body.data.id as string;
      const a = await mk({
        title: 'okapi plan',
        user_id: 'u1',
        bot_id: 'b1',
        context: { contact_id: 'c1', deal_id: 'd1', matter_id: 'm1' },
      });
      const b = await mk({ title: 'okapi notes', user_id: 'u2', bot_id: 'b2' });
      const c = await mk({ title: 'okapi archive' });
      assert.equal((await api.patch(`/v1/conversations/${c}`, { archived: true })).status, 200);
      const ids = async (extra: string) => {
        const r = await api.get(`/v1/conversations?search=okapi${extra}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.meta.total, r.body.data.length, extra);
        assert.equal(r.body.meta.total_exact, true);
        return (r.body.data as Item[]).map((i) => i.id).sort();
      };
      assert.deepEqual(await ids(''), [a, b].sort());
      assert.deepEqual(await ids('&archived=true'), [a, b, c].sort());
      assert.deepEqual(await ids('&archived=only'), [c]);
      assert.deepEqual(await ids('&user_id=u1'), [a]);
      assert.deepEqual(await ids('&bot_id=b2'), [b]);
      assert.deepEqual(await ids('&contact_id=c1'), [a]);
      assert.deepEqual(await ids('&deal_id=d1'), [a]);
      assert.deepEqual(await ids('&matter_id=m1'), [a]);
      assert.deepEqual(await ids('&created_before=2000-01-01T00:00:00Z'), []);
      assert.deepEqual(await ids('&updated_after=2000-01-01T00:00:00Z&order_by=updated_at'), [a, b].sort());
      assert.equal((await api.get('/v1/conversations?order_by=relevance')).status, 400);
      // page/per_page works on relevance too
      const p2 = await api.get('/v1/conversations?search=okapi&archived=true&per_page=2&page=2');
      assert.equal(p2.body.data.length, 1);
    });

    test('edits and deletes are reflected at once', async () => {
      const c = (await api.post('/v1/conversations', { title: 'gnu wildebeest' })).body.data.id;
      assert.deepEqual(
        (await search('wildebeest')).map((i) => i.id),
        [c],
      );
      assert.equal((await api.patch(`/v1/conversations/${c}`, { title: 'narwhal tusk' })).status, 200);
      assert.deepEqual(
        (await search('wildebeest')).map((i) => i.id),
        [],
      );
      assert.deepEqual(
        (await search('narwhal')).map((i) => i.id),
        [c],
      );
      assert.equal(
        (await api.post(`/v1/conversations/${c}/messages`, { role: 'user', content: 'a quokka smiles' })).status,
        201,
      );
      assert.deepEqual(
        (await search('quokka')).map((i) => i.id),
        [c],
      );
      assert.equal((await api.delete(`/v1/conversations/${c}`)).status, 204);
      assert.deepEqual(await search('narwhal'), []);
      assert.deepEqual(await search('quokka'), []);
    });

    test('relevance cursors: stable under concurrent inserts, tampered or foreign cursors are 400', async () => {
      // one mention each (tf = 1) in messages of different lengths: their relative order cannot
      // move with corpus statistics, so any duplicate or gap is the cursor's fault
      const original = new Set<string>();
      for (let i = 0; i < 23; i++) {
        const r = await api.post('/v1/conversations', {
          messages: [{ role: 'user', content: `ibis ${'filler '.repeat(i % 7)}${i}` }],
        });
        original.add(r.body.data.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let round = 0;
      do {
        const r: { status: number; body: { data: Item[]; meta: { next_cursor: string | null } } } = await api.get(
          `/v1/conversations?search=ibis&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        assert.equal(r.status, 200);
        seen.push(...r.body.data.map((i) => i.id));
        cursor = r.body.meta.next_cursor;
        // concurrent writers: new matching conversations (ranked anywhere), unrelated appends
        await api.post('/v1/conversations', { messages: [{ role: 'user', content: `ibis ${'x '.repeat(round)}` }] });
        await api.post('/v1/conversations', { messages: [{ role: 'user', content: 'ibis' }] });
        round++;
      } while (cursor !== null);
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      for (const id of original) assert.ok(seen.includes(id), 'no skips');

      const first = await api.get('/v1/conversations?search=ibis&limit=2');
      const good = first.body.meta.next_cursor as string;
      assert.equal(
        (await api.get(`/v1/conversations?search=ibis&limit=2&cursor=${encodeURIComponent(good)}`)).status,
        200,
      );
      const [payload, mac] = good.split('.') as [string, string];
      const forged = Buffer.from(JSON.stringify({ v: -1e9, i: 'conv_0' })).toString('base64url');
      for (const bad of [`${forged}.${mac}`, `${payload}.AAAA${mac.slice(4)}`, 'garbage', `${payload}x.${mac}`]) {
        const r = await api.get(`/v1/conversations?search=ibis&limit=2&cursor=${encodeURIComponent(bad)}`);
        assert.equal(r.status, 400, bad);
        assert.equal(r.body.error.code, 'invalid_cursor');
      }
      // minted for another search, another order, or another workspace
      assert.equal(
        (await api.get(`/v1/conversations?search=ibi&limit=2&cursor=${encodeURIComponent(good)}`)).status,
        400,
      );
      assert.equal(
        (await api.get(`/v1/conversations?search=ibis&order_by=updated_at&limit=2&cursor=${encodeURIComponent(good)}`))
          .status,
        400,
      );
      const other = await newWorkspace(server, 'other');
      const foreign = await other.admin.get(`/v1/conversations?search=ibis&limit=2&cursor=${encodeURIComponent(good)}`);
      assert.equal(foreign.status, 400);
      assert.equal(foreign.body.error.code, 'invalid_cursor');
    });

    test('another workspace never sees the hits', async () => {
      const other = await newWorkspace(server, 'other2');
      assert.deepEqual((await other.admin.get(q('budget'))).body.data, []);
      assert.deepEqual((await other.admin.get(q('東京'))).body.data, []);
    });
  });

  describe(`search candidate window [${engine}]`, () => {
    test('a very common word is ranked among its newest hits; rare words, filters and cursors stay complete', async () => {
      const server = await startServer(engine);
      try {
        const key = await (await newSdkWorkspace(server)).key(['read:ai', 'write:ai']);
        const api = key.client;
        const mk = async (body: Parameters<typeof key.parley.conversations.create>[0]) => {
          const made = await key.parley.conversations.create(body);
          server.clock.advance(1000); // ids (PostgreSQL's window order) follow creation
          return made.id;
        };
        // the oldest conversation holds the best wombat hit, then 3 × 1,000 weaker hits (> 2,000)
        const old = await mk({
          title: 'old one',
          user_id: 'u-old',
          messages: [
            { role: 'user', content: 'wombat wombat wombat' },
            { role: 'user', content: 'quokka' },
          ],
        });
        const big: string[] = [];
        for (let i = 0; i < 3; i++) {
          const messages = Array.from({ length: 1000 }, (_, n) => ({
            role: 'user' as const,
            content: `message ${n} of a long thread where a wombat is mentioned once among many other words`,
          }));
          big.push(await mk({ title: `thread ${i}`, messages }));
        }
        const get = async (path: string) => {
          const r = await api.get(path);
          assert.equal(r.status, 200, r.text);
          return r.body as { data: Item[]; meta: { total: number; total_exact: boolean; next_cursor: string | null } };
        };
        // the newest 2,000 message hits are the last two threads' messages
        const common = await get('/v1/conversations?search=wombat&per_page=100');
        assert.deepEqual(common.data.map((i) => i.id).sort(), [big[1], big[2]].sort());
        assert.equal(common.meta.total, 4, 'the total counts every match');
        assert.equal(common.meta.total_exact, true);
        // a rare word in the old conversation is still found, and a narrowing filter ranks every match
        assert.deepEqual(
          (await get('/v1/conversations?search=quokka')).data.map((i) => i.id),
          [old],
        );
        const mine = await get('/v1/conversations?search=wombat&user_id=u-old');
        assert.deepEqual(
          mine.data.map((i) => i.id),
          [old],
        );
        assert.equal(mine.data[0]?.match?.field, 'content');
        // cursor pages walk the window once: no duplicates, no skips, then the end
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await get(
            `/v1/conversations?search=wombat&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          seen.push(...page.data.map((i) => i.id));
          cursor = page.meta.next_cursor;
        } while (cursor !== null && seen.length < 10);
        assert.deepEqual(
          seen,
          common.data.map((i) => i.id),
        );
      } finally {
        await server.close();
      }
    });
  });
}
