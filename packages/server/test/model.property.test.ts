import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type Client, newWorkspace, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { boundedRun, PROPERTY_TEST_TIMEOUT_MS, propertySeed, withSeed } from './helpers/seed.js';

/**
 * Model-based test: random sequences of writes and lists run against the HTTP API and against a
 * plain in-memory model of what the API promises; after every step the two must agree.
 */

const RUNS = Number(process.env.PARLEY_PROPERTY_RUNS ?? 30);
const USERS = ['u1', 'u2', 'u3'] as const;
const CONTACTS = ['c1', 'c2'] as const;

type Role = 'user' | 'assistant';

interface ModelConversation {
  id: string;
  userId: string | null;
  contactId: string | null;
  title: string | null;
  titleSource: 'auto' | 'user' | null;
  archived: boolean;
  messageCount: number;
  createdAt: number;
  updatedAt: number;
  deleted: boolean;
}

type Step =
  | {
      kind: 'create';
      tick: number;
      userId: string | null;
      contactId: string | null;
      title: string | null;
      messages: Array<{ role: Role; content: string }>;
    }
  | { kind: 'append'; tick: number; target: number; role: Role; content: string }
  | {
      kind: 'patch';
      tick: number;
      target: number;
      title: string | null;
      archived: boolean | null;
      contact: string | null | undefined;
    }
  | { kind: 'archive'; tick: number; target: number; archived: boolean }
  | { kind: 'delete'; tick: number; target: number }
  | {
      kind: 'list';
      tick: number;
      userId: string | null;
      contactId: string | null;
      archived: 'false' | 'true' | 'only' | null;
      order: 'asc' | 'desc' | null;
      orderBy: 'updated_at' | 'created_at' | null;
      perPage: number;
      page: number;
    }
  /** Starts a keyset walk (cursor pages); `next` steps continue it while other steps write. */
  | {
      kind: 'walk';
      tick: number;
      userId: string | null;
      archived: 'false' | 'true' | 'only' | null;
      order: 'asc' | 'desc' | null;
      orderBy: 'updated_at' | 'created_at' | null;
      limit: number;
    }
  | { kind: 'next'; tick: number };

// Words only, single-spaced: short texts, and long ones up to the 200 characters a title may
// have (longer than the 80 an automatic title keeps: see autoTitleOf)
const WORD = fc.constantFrom('alpha', 'beta', 'gamma', 'delta', 'deal', 'contract', 'Série', '東京');
const fitTitle = (words: string[]) => {
  let t = words.join(' ');
  while (t.length > 200) t = t.slice(0, t.lastIndexOf(' '));
  return t;
};
const text = fc.oneof(
  { weight: 3, arbitrary: fc.array(WORD, { minLength: 1, maxLength: 4 }).map((w) => w.join(' ')) },
  { weight: 2, arbitrary: fc.array(WORD, { minLength: 12, maxLength: 45 }).map(fitTitle) },
);
const role = fc.constantFrom<Role>('user', 'assistant');
const tick = fc.integer({ min: 0, max: 2 }); // 0 makes ties in updated_at: the id decides
const target = fc.nat({ max: 1000 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      tick,
      userId: maybe(fc.constantFrom(...USERS)),
      contactId: maybe(fc.constantFrom(...CONTACTS)),
      title: maybe(text),
      messages: fc.array(fc.record({ role, content: text }), { maxLength: 3 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), tick, target, role, content: text }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('patch' as const),
      tick,
      target,
      title: maybe(text),
      archived: maybe(fc.boolean()),
      contact: fc.constantFrom<string | null | undefined>(undefined, null, ...CONTACTS),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('archive' as const), tick, target, archived: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), tick, target }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('walk' as const),
      tick,
      // mostly unfiltered and one row a page, so walks last several pages while others write
      userId: fc.option(fc.constantFrom(...USERS), { nil: null, freq: 4 }),
      archived: fc.constantFrom('true' as const, 'true' as const, 'false' as const, 'only' as const, null),
      order: maybe(fc.constantFrom('asc' as const, 'desc' as const)),
      orderBy: maybe(fc.constantFrom('updated_at' as const, 'created_at' as const)),
      limit: fc.integer({ min: 1, max: 2 }),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('next' as const), tick }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('list' as const),
      tick,
      userId: maybe(fc.constantFrom(...USERS)),
      contactId: maybe(fc.constantFrom(...CONTACTS)),
      archived: maybe(fc.constantFrom('false' as const, 'true' as const, 'only' as const)),
      order: maybe(fc.constantFrom('asc' as const, 'desc' as const)),
      orderBy: maybe(fc.constantFrom('updated_at' as const, 'created_at' as const)),
      perPage: fc.integer({ min: 1, max: 8 }),
      page: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The automatic title of a first user message: the text itself up to 80 characters; past that
 * the server shortens it (at a word, with "…"): the model takes the server's title once it is a
 * shortening of the text, so a long title cannot pass by being the whole text or another text.
 */
/** What the runs reached, so a generator that stops reaching a case fails the test. */
const reached = { cursorPages: 0, shortenedTitles: 0, longTitles: 0 };

function autoTitleOf(content: string, fromServer: unknown, where: string): string {
  if (Array.from(content).length <= 80) return content;
  reached.shortenedTitles++;
  assert.equal(typeof fromServer, 'string', `${where}: an automatic title`);
  const t = fromServer as string;
  assert.ok(t.endsWith('…'), `${where}: a shortened title ends with …: ${t}`);
  const kept = t.slice(0, -1);
  assert.ok(content.startsWith(kept) && kept.length > 0, `${where}: ${t} is a beginning of the message`);
  assert.ok(Array.from(kept).length <= 80, `${where}: ${t} keeps at most 80 characters`);
  return t;
}

/** What the model says the API shows for one conversation. */
function expected(c: ModelConversation) {
  return {
    id: c.id,
    title: c.title,
    title_source: c.titleSource,
    user_id: c.userId,
    context: c.contactId === null ? {} : { contact_id: c.contactId },
    archived: c.archived,
    message_count: c.messageCount,
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
  };
}

function shown(wire: Record<string, unknown>) {
  const { id, title, title_source, user_id, context, archived, message_count, created_at, updated_at } = wire;
  return { id, title, title_source, user_id, context, archived, message_count, created_at, updated_at };
}

type Filters = Pick<Extract<Step, { kind: 'list' }>, 'userId' | 'contactId' | 'archived' | 'order' | 'orderBy'>;

/** The position of a row in a list's order: (column value, id), compared in the list's direction. */
function sortKey(q: Filters) {
  const col = (q.orderBy ?? 'updated_at') === 'created_at' ? 'createdAt' : 'updatedAt';
  const dir = (q.order ?? 'desc') === 'desc' ? -1 : 1;
  const value = (c: ModelConversation) => c[col];
  const compare = (a: { value: number; id: string }, b: { value: number; id: string }) =>
    dir * (a.value - b.value || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { value, compare };
}

/** The rows a list shows, in its order. */
function modelRows(all: ModelConversation[], q: Filters): ModelConversation[] {
  const archived = q.archived ?? 'false';
  const rows = all.filter(
    (c) =>
      !c.deleted &&
      (q.userId === null || c.userId === q.userId) &&
      (q.contactId === null || c.contactId === q.contactId) &&
      (archived === 'true' || (archived === 'only' ? c.archived : !c.archived)),
  );
  const { value, compare } = sortKey(q);
  return rows.sort((a, b) => compare({ value: value(a), id: a.id }, { value: value(b), id: b.id }));
}

/** The model's answer to a list query: filter, sort by (column, id), one page. */
function modelList(all: ModelConversation[], q: Extract<Step, { kind: 'list' }>) {
  const rows = modelRows(all, q);
  const start = (q.page - 1) * q.perPage;
  return { total: rows.length, page: rows.slice(start, start + q.perPage) };
}

function listPath(q: Extract<Step, { kind: 'list' }>): string {
  const p = new URLSearchParams({ per_page: String(q.perPage), page: String(q.page) });
  if (q.userId !== null) p.set('user_id', q.userId);
  if (q.contactId !== null) p.set('contact_id', q.contactId);
  if (q.archived !== null) p.set('archived', q.archived);
  if (q.order !== null) p.set('order', q.order);
  if (q.orderBy !== null) p.set('order_by', q.orderBy);
  return `/v1/conversations?${p}`;
}

const EVERYTHING: Extract<Step, { kind: 'list' }> = {
  kind: 'list',
  tick: 0,
  userId: null,
  contactId: null,
  archived: 'true',
  order: null,
  orderBy: null,
  perPage: 100,
  page: 1,
};

for (const engine of testEngines()) {
  describe(`model-based property [${engine}]`, () => {
    let server: TestServer;
    let now = Date.UTC(2030, 0, 1);

    before(async () => {
      // one run makes well over the default per-key limit within one (frozen) window
      server = await startServer(engine, { limits: { rate: 10_000_000 } });
      // the model owns time: every timestamp the server writes is one the model knows
      server.clock.now = () => now;
    });
    after(async () => server.close());

    async function runSteps(api: Client, steps: Step[]): Promise<void> {
      const model: ModelConversation[] = [];
      const pick = (i: number) => model[i % model.length];
      // the keyset walk in progress: its query, and the position and cursor of its last page
      const state: {
        walk: { q: Filters & { limit: number }; after: { value: number; id: string }; cursor: string } | null;
      } = { walk: null };
      const walkPath = (q: Filters & { limit: number }, cursor: string | null) => {
        const p = new URLSearchParams({ limit: String(q.limit) });
        if (q.userId !== null) p.set('user_id', q.userId);
        if (q.archived !== null) p.set('archived', q.archived);
        if (q.order !== null) p.set('order', q.order);
        if (q.orderBy !== null) p.set('order_by', q.orderBy);
        if (cursor !== null) p.set('cursor', cursor);
        return `/v1/conversations?${p}`;
      };
      /** One cursor page against the model: the rows after `after` now, at most `limit`; a cursor iff more follow. */
      const page = async (
        q: Filters & { limit: number },
        after: { value: number; id: string } | null,
        cursor: string | null,
        where: string,
      ) => {
        const r = await api.get(walkPath(q, cursor));
        assert.equal(r.status, 200, `${where}: ${r.text}`);
        if (cursor !== null) reached.cursorPages++;
        const { value, compare } = sortKey(q);
        const rest = modelRows(model, q).filter(
          (c) => after === null || compare({ value: value(c), id: c.id }, after) > 0,
        );
        const want = rest.slice(0, q.limit);
        assert.deepEqual(
          r.body.data.map((c: { id: string }) => c.id),
          want.map((c) => c.id),
          `${where}: cursor page ids and order`,
        );
        const next = r.body.meta.next_cursor as string | null;
        assert.equal(next !== null, rest.length > q.limit, `${where}: next_cursor iff more rows follow`);
        const last = want[want.length - 1];
        state.walk = next !== null && last ? { q, after: { value: value(last), id: last.id }, cursor: next } : null;
      };

      for (const [n, s] of steps.entries()) {
        now += s.tick;
        const where = `step ${n} ${JSON.stringify(s)}`;
        let touched: ModelConversation | undefined;

        if (s.kind === 'create') {
          const body: Record<string, unknown> = {};
          if (s.userId !== null) body.user_id = s.userId;
          if (s.contactId !== null) body.context = { contact_id: s.contactId };
          if (s.title !== null) body.title = s.title;
          if (s.title !== null && s.title.length > 80) reached.longTitles++;
          if (s.messages.length > 0) body.messages = s.messages;
          const r = await api.post('/v1/conversations', body);
          assert.equal(r.status, 201, `${where}: ${r.text}`);
          const firstUser = s.messages.find((m) => m.role === 'user');
          touched = {
            id: r.body.data.id,
            userId: s.userId,
            contactId: s.contactId,
            title: s.title ?? (firstUser ? autoTitleOf(firstUser.content, r.body.data.title, where) : null),
            titleSource: s.title !== null ? 'user' : firstUser ? 'auto' : null,
            archived: false,
            messageCount: s.messages.length,
            createdAt: now,
            updatedAt: now,
            deleted: false,
          };
          model.push(touched);
          assert.deepEqual(shown(r.body.data), expected(touched), where);
        } else if (s.kind === 'list') {
          const r = await api.get(listPath(s));
          assert.equal(r.status, 200, `${where}: ${r.text}`);
          const want = modelList(model, s);
          assert.deepEqual(
            r.body.data.map((c: { id: string }) => c.id),
            want.page.map((c) => c.id),
            `${where}: ids and order`,
          );
          assert.equal(r.body.meta.total, want.total, `${where}: meta.total`);
          assert.equal(r.body.meta.total_exact, true, where);
          assert.equal(r.body.meta.per_page, s.perPage, where);
          assert.equal(r.body.meta.page, s.page, where);
        } else if (s.kind === 'walk') {
          await page({ ...s, contactId: null }, null, null, where);
        } else if (s.kind === 'next') {
          const w = state.walk;
          if (w !== null) await page(w.q, w.after, w.cursor, where);
        } else if (model.length > 0) {
          const c = pick(s.target) as ModelConversation;
          touched = c;
          const gone = c.deleted;
          let refused = false;
          let r: Reply;
          if (s.kind === 'append') {
            r = await api.post(`/v1/conversations/${c.id}/messages`, { role: s.role, content: s.content });
            if (!gone) {
              assert.equal(r.status, 201, `${where}: ${r.text}`);
              c.messageCount += 1;
              c.updatedAt = now;
              if (c.titleSource === null && s.role === 'user') {
                const got = await api.get(`/v1/conversations/${c.id}?limit=1`);
                c.title = autoTitleOf(s.content, got.body.data.title, where);
                c.titleSource = 'auto';
              }
            }
          } else if (s.kind === 'delete') {
            r = await api.delete(`/v1/conversations/${c.id}`);
            if (!gone) {
              assert.equal(r.status, 204, `${where}: ${r.text}`);
              c.deleted = true;
            }
          } else {
            const body: Record<string, unknown> = {};
            if (s.kind === 'archive') body.archived = s.archived;
            else {
              if (s.title !== null) body.title = s.title;
              if (s.archived !== null) body.archived = s.archived;
              if (s.contact !== undefined) body.context = { contact_id: s.contact };
            }
            r = await api.patch(`/v1/conversations/${c.id}`, body);
            if (Object.keys(body).length === 0) {
              // the body is checked before the conversation is looked up, deleted or not
              assert.equal(r.status, 400, `${where}: an empty patch is refused`);
              assert.equal(r.body.error.code, 'validation_failed');
              refused = true;
            } else if (!gone) {
              assert.equal(r.status, 200, `${where}: ${r.text}`);
              if (typeof body.title === 'string') {
                c.title = body.title;
                c.titleSource = 'user';
              }
              if (typeof body.archived === 'boolean') c.archived = body.archived;
              if (s.kind === 'patch' && s.contact !== undefined) c.contactId = s.contact;
              c.updatedAt = now;
              assert.deepEqual(shown(r.body.data), expected(c), where);
            }
          }
          if (gone && !refused) {
            assert.equal(r.status, 404, `${where}: a deleted conversation is gone`);
            assert.equal(r.body.error.code, 'not_found');
          }
        }

        // after every step: the whole list, every field the model knows, and the touched one by id
        const all = await api.get(listPath(EVERYTHING));
        const want = modelList(model, EVERYTHING);
        assert.equal(all.body.meta.total, want.total, `${where}: total after the step`);
        assert.equal(all.body.meta.total_exact, true);
        assert.deepEqual(all.body.data.map(shown), want.page.map(expected), `${where}: list after the step`);
        if (touched) {
          const got = await api.get(`/v1/conversations/${touched.id}`);
          if (touched.deleted) {
            assert.equal(got.status, 404, `${where}: get after delete`);
          } else {
            assert.equal(got.status, 200, where);
            assert.deepEqual(shown(got.body.data), expected(touched), `${where}: get`);
            assert.equal(got.body.data.messages.length, touched.messageCount, where);
          }
        }
      }
    }

    test('random create/append/patch/archive/delete/list/cursor-walk sequences agree with the model', {
      timeout: PROPERTY_TEST_TIMEOUT_MS,
    }, async (t) => {
      const SEED = propertySeed(`model property [${engine}]`);
      // counted per engine: one engine's runs must not vouch for another's
      Object.assign(reached, { cursorPages: 0, shortenedTitles: 0, longTitles: 0 });
      await withSeed(SEED, () =>
        fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 30, maxLength: 70 }), async (steps) => {
            // a fresh workspace per run: the model starts empty
            const ws = await newWorkspace(server, 'model');
            const api = (await ws.key(['read:ai', 'write:ai'])).client;
            await runSteps(api, steps);
          }),
          { seed: SEED, numRuns: RUNS, ...boundedRun },
        ),
      );
      t.diagnostic(`reached: ${JSON.stringify(reached)}`);
      assert.ok(reached.cursorPages > 0, 'the runs followed cursors while writing');
      assert.ok(reached.shortenedTitles > 0, 'the runs made automatic titles from messages over 80 characters');
      assert.ok(reached.longTitles > 0, 'the runs set titles over 80 characters');
    });
  });
}
