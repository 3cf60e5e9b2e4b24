import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { conversationMatches } from './helpers/search-oracle.js';

/**
 * Random sequences of creates, appends, renames, archives and deletes; after each sequence every
 * probe query must return exactly the conversations the in-memory oracle says match, and
 * meta.total must equal that count (a count(*) over the model), on every engine.
 */
const SEED = Number(process.env.PARLEY_PROPERTY_SEED ?? 20_250_105);
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

const text = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 5 }).map((w) => w.join(' '));

type Step =
  | { kind: 'create'; title: string | null; messages: string[] }
  | { kind: 'append'; target: number; content: string }
  | { kind: 'rename'; target: number; title: string }
  | { kind: 'archive'; target: number; archived: boolean }
  | { kind: 'delete'; target: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    title: fc.option(text, { nil: null }),
    messages: fc.array(text, { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('append' as const), target: fc.nat(), content: text }),
  fc.record({ kind: fc.constant('rename' as const), target: fc.nat(), title: text }),
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

    test('result sets and totals equal the oracle after random operation sequences', async () => {
      await fc.assert(
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
          for (const probe of PROBES) {
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
            }
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  });
}
