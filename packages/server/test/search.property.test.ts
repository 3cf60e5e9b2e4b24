import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { SEARCH_CANDIDATES } from '../src/store/kysely/search-index.js';
import { MAX_TERMS } from '../src/store/search-terms.js';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { conversationMatches, oracleTerms } from './helpers/search-oracle.js';
import { boundedRun, PROPERTY_TEST_TIMEOUT_MS, propertySeed, withSeed } from './helpers/seed.js';

/**
 * Random sequences of creates, appends, renames, archives and deletes; after each sequence every
 * probe query must return exactly the conversations the in-memory oracle says match, and
 * meta.total must equal that count (a count(*) over the model), on every engine.
 */
const RUNS = Number(process.env.PARLEY_PROPERTY_RUNS ?? 12);

const WORDS = ['apple', 'apricot', 'Banana', 'cherry', 'crème', 'creme', '東京', '京都', '🎉', 'NEAR(', 'OR', '%_'];
const PROBES = [
  'apple',
  'ap',
  'creme',
  'CRÈME',
  'banana cherry',
  '"apple banana"',
  '東京',
  '京',
  '🎉',
  'NEAR(',
  'OR',
  '%_',
  'zzz',
];

/** The term cap as docs/search.md states it ("terms after the 64th are ignored"). */
const TERM_CAP = 64;
// Words of equal length, none a prefix of another: enough distinct terms to pass the term cap
const VOCAB = Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(3, '0')}`);
const ANY_WORD = fc.constantFrom(...WORDS, ...VOCAB);
const fit = (max: number) => (words: string[]) => {
  let t = words.join(' ');
  while (t.length > max) t = t.slice(0, t.lastIndexOf(' '));
  return t;
};
const short = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 5 }).map((w) => w.join(' '));
/** Titles: short, or long up to the 200 characters a title may have. */
const titleText = fc.oneof(
  { weight: 3, arbitrary: short },
  { weight: 1, arbitrary: fc.array(ANY_WORD, { minLength: 20, maxLength: 60 }).map(fit(200)) },
);
/** Messages: short, or long with more distinct words than the term cap. */
const text = fc.oneof(
  { weight: 3, arbitrary: short },
  {
    weight: 1,
    arbitrary: fc.array(ANY_WORD, { minLength: TERM_CAP + 10, maxLength: TERM_CAP + 40 }).map((w) => w.join(' ')),
  },
);
const FILLERS = Array.from({ length: 8 }, (_, i) => `qqfill${i}`);
/**
 * A query with more terms than the cap: a stored text's words, then words stored nowhere. Past
 * the cap the extra words are ignored, so the text is found exactly when its own words already
 * make 64 distinct terms (the oracle decides which).
 */
const capProbe = (stored: string) => `${stored} ${FILLERS.join(' ')}`;

type Step =
  | { kind: 'create'; title: string | null; messages: string[] }
  | { kind: 'append'; target: number; content: string }
  | { kind: 'rename'; target: number; title: string }
  | { kind: 'archive'; target: number; archived: boolean }
  | { kind: 'delete'; target: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    title: fc.option(titleText, { nil: null }),
    messages: fc.array(text, { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('append' as const), target: fc.nat(), content: text }),
  fc.record({ kind: fc.constant('rename' as const), target: fc.nat(), title: titleText }),
  fc.record({ kind: fc.constant('archive' as const), target: fc.nat(), archived: fc.boolean() }),
  fc.record({ kind: fc.constant('delete' as const), target: fc.nat() }),
);

interface Model {
  id: string;
  title: string | null;
  messages: string[];
  archived: boolean;
}

for (const engine of testEngines()) {
  describe(`search model [${engine}]`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => server.close());

    test('the analyzer caps terms where the docs say', () => {
      assert.equal(MAX_TERMS, TERM_CAP, 'src/store/search-terms.ts MAX_TERMS = the 64 of docs/search.md');
    });

    test('result sets and totals equal the oracle after random operation sequences', {
      timeout: PROPERTY_TEST_TIMEOUT_MS,
    }, async (t) => {
      const SEED = propertySeed(`search property [${engine}]`);
      const reached = { capProbes: 0, capProbesFound: 0, longTitles: 0 };
      await withSeed(SEED, () =>
        fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
            const api: Client = (await newWorkspace(server)).admin;
            const live: Model[] = [];
            for (const s of steps) {
              const target = live.length > 0 && s.kind !== 'create' ? live[s.target % live.length] : undefined;
              if (s.kind === 'create') {
                const body: Record<string, unknown> = {
                  messages: s.messages.map((content) => ({ role: 'user', content })),
                };
                if (s.title !== null) body.title = s.title;
                const r = await api.post('/v1/conversations', body);
                assert.equal(r.status, 201);
                live.push({ id: r.body.data.id, title: r.body.data.title, messages: [...s.messages], archived: false });
                if ((s.title?.length ?? 0) > 80) reached.longTitles++;
              } else if (!target) {
              } else if (s.kind === 'append') {
                assert.equal(
                  (await api.post(`/v1/conversations/${target.id}/messages`, { role: 'assistant', content: s.content }))
                    .status,
                  201,
                );
                target.messages.push(s.content);
              } else if (s.kind === 'rename') {
                assert.equal((await api.patch(`/v1/conversations/${target.id}`, { title: s.title })).status, 200);
                target.title = s.title;
              } else if (s.kind === 'archive') {
                assert.equal((await api.patch(`/v1/conversations/${target.id}`, { archived: s.archived })).status, 200);
                target.archived = s.archived;
              } else {
                assert.equal((await api.delete(`/v1/conversations/${target.id}`)).status, 204);
                live.splice(live.indexOf(target), 1);
              }
            }
            // cap probes from long stored texts: found when the text's own words reach the cap, not when
            // the fillers fall inside it
            const stored = live
              .flatMap((c) => [c.title ?? '', ...c.messages])
              .filter((x) => oracleTerms(x).length >= TERM_CAP - 24)
              .slice(0, 3);
            const probes = [...PROBES, ...stored.map(capProbe)];
            for (const probe of probes) {
              const isCap = !PROBES.includes(probe);
              if (isCap) reached.capProbes++;
              for (const archived of ['false', 'true'] as const) {
                const r = await api.get(
                  `/v1/conversations?per_page=100&archived=${archived}&search=${encodeURIComponent(probe)}`,
                );
                assert.equal(r.status, 200);
                const want = live
                  .filter((c) => (archived === 'true' || !c.archived) && conversationMatches(c, probe))
                  .map((c) => c.id)
                  .sort();
                assert.deepEqual(
                  (r.body.data as Array<{ id: string }>).map((c) => c.id).sort(),
                  want,
                  `${probe} archived=${archived}`,
                );
                assert.equal(r.body.meta.total, want.length);
                assert.equal(r.body.meta.total_exact, true);
                if (isCap && want.length > 0) reached.capProbesFound++;
              }
            }
          }),
          { seed: SEED, numRuns: RUNS, ...boundedRun },
        ),
      );
      t.diagnostic(`reached: ${JSON.stringify(reached)}`);
      assert.ok(reached.capProbesFound > 0, 'queries over the term cap were asked and found something');
      assert.ok(reached.longTitles > 0, 'titles over 80 characters were searched');
    });

    test(`more matching messages than the candidate window (${SEARCH_CANDIDATES}): pages rank the newest hits, the total counts all`, async () => {
      const api: Client = (await newWorkspace(server)).admin;
      const PER = 100;
      const OUTSIDE = 3;
      const N = Math.ceil(SEARCH_CANDIDATES / PER) + OUTSIDE;
      const create = async (body: Record<string, unknown>) => {
        const r = await api.post('/v1/conversations', { user_id: 'wu', ...body });
        assert.equal(r.status, 201, r.text);
        return r.body.data.id as string;
      };
      // a title hit (titles have a window of their own), then N conversations of PER hits each,
      // oldest first: the newest SEARCH_CANDIDATES messages leave the first ones out
      const titled = await create({ title: 'wombat in the title only' });
      const convs: string[] = [];
      for (let i = 0; i < N; i++) {
        server.clock.advance(1000);
        const messages = Array.from({ length: PER }, (_, j) => ({ role: 'user', content: `wombat note ${i} ${j}` }));
        convs.push(await create({ title: `batch ${i}`, messages }));
      }
      assert.ok(N * PER > SEARCH_CANDIDATES, 'more hits than the window');
      const inWindow = convs.slice(N - Math.ceil(SEARCH_CANDIDATES / PER));
      assert.ok(inWindow.length < convs.length);

      const walk = async (query: string) => {
        const ids: string[] = [];
        let cursor: string | null = null;
        let total: unknown;
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 50, 'the cursor walk ends');
          const r: { status: number; text: string; body: any } = await api.get(
            `/v1/conversations?limit=7&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          assert.equal(r.status, 200, r.text);
          total ??= r.body.meta.total;
          ids.push(...r.body.data.map((c: { id: string }) => c.id));
          cursor = r.body.meta.next_cursor;
          if (!cursor) break;
        }
        return { ids, total };
      };
      const ranked = await walk('search=wombat');
      assert.equal(new Set(ranked.ids).size, ranked.ids.length, 'no conversation twice');
      assert.deepEqual(
        [...ranked.ids].sort(),
        [titled, ...inWindow].sort(),
        'the window: the newest hits and the title',
      );
      assert.equal(ranked.total, N + 1, 'meta.total counts every match, not the window');
      // a narrowing filter ranks every match (docs/search.md): the old conversations come back
      const filtered = await walk('search=wombat&user_id=wu');
      assert.deepEqual([...filtered.ids].sort(), [titled, ...convs].sort(), 'with user_id every match');
    });
  });
}
