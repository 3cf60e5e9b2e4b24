import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

interface Seeded {
  ws: TestWorkspace;
  /** Every conversation id, archived ones included. */
  all: string[];
  live: string;
  archived: string;
  tool: string;
  keyId: string;
}

/** The same shapes and words in both workspaces, so a leak would match every filter. */
async function seed(ws: TestWorkspace, tag: string): Promise<Seeded> {
  const api = ws.admin;
  const all: string[] = [];
  const mk = async (body: Record<string, unknown>) => {
    const r = await api.post('/v1/conversations', body);
    assert.equal(r.status, 201, r.text);
    all.push(r.body.data.id);
    return r.body.data.id as string;
  };
  const live = await mk({
    title: `zebra plans ${tag}`,
    user_id: 'u1',
    bot_id: 'b1',
    context: { contact_id: 'c1', deal_id: 'd1', matter_id: 'm1' },
    messages: [
      { role: 'user', content: `zebra question ${tag}` },
      { role: 'assistant', content: 'shared answer about giraffes' },
    ],
  });
  const archived = await mk({
    title: `archived zebra ${tag}`,
    user_id: 'u1',
    bot_id: 'b1',
    context: { contact_id: 'c1' },
    messages: [{ role: 'user', content: 'giraffes in the archive' }],
  });
  assert.equal((await api.patch(`/v1/conversations/${archived}`, { archived: true })).status, 200);
  await mk({ user_id: 'u2', messages: [{ role: 'user', content: `another zebra ${tag}` }] });
  const t = await api.post(`/v1/conversations/${live}/tool-invocations`, {
    tool_name: 'crm.lookup',
    input: { q: 'zebra' },
  });
  assert.equal(t.status, 201, t.text);
  const k = await ws.key(['read:ai']);
  return { ws, all, live, archived, tool: t.body.data.id, keyId: k.id };
}

const ids = (r: { body: { data: Array<{ id: string }> } }) => r.body.data.map((x) => x.id).sort();

for (const engine of testEngines()) {
  describe(`workspace isolation [${engine}]`, () => {
    let server: TestServer;
    let A: Seeded;
    let B: Seeded;

    /** What B looks like, from B's side: must not change whatever A does. */
    async function viewOfB(): Promise<string> {
      const api = B.ws.admin;
      const parts = await Promise.all([
        api.get('/v1/conversations?archived=true&per_page=100'),
        ...B.all.map((id) => api.get(`/v1/conversations/${id}?include_tool_steps=true`)),
        api.get(`/v1/conversations/${B.live}/messages?limit=100`),
        api.get(`/v1/conversations/${B.live}/tool-invocations?limit=100`),
        api.get('/v1/keys'),
        api.get('/v1/audit-events?limit=100'),
      ]);
      for (const p of parts) assert.equal(p.status, 200, p.text);
      return JSON.stringify(parts.map((p) => p.body));
    }

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 } });
      A = await seed(await newWorkspace(server, 'A'), 'alpha');
      B = await seed(await newWorkspace(server, 'B'), 'beta');
    });
    after(async () => server.close());

    test('lists, with and without filters and search, show only the own workspace', async () => {
      const queries = [
        '',
        '?archived=true',
        '?archived=only',
        '?user_id=u1',
        '?user_id=u2&archived=true',
        '?bot_id=b1&archived=true',
        '?contact_id=c1&archived=true',
        '?deal_id=d1',
        '?matter_id=m1',
        '?search=zebra&archived=true',
        '?search=giraffes&archived=true',
        '?search=zebra&user_id=u1',
        '?order_by=created_at&order=asc&archived=true',
        '?limit=1&archived=true',
        `?created_after=${encodeURIComponent(new Date(server.clock.now() - 3_600_000).toISOString())}&archived=true`,
      ];
      for (const side of [A, B]) {
        const other = side === A ? B : A;
        for (const q of queries) {
          const r = await side.ws.admin.get(`/v1/conversations${q}`);
          assert.equal(r.status, 200, `${q}: ${r.text}`);
          assert.ok(r.body.data.length > 0, `${q} finds the own rows`);
          for (const id of ids(r)) {
            assert.ok(side.all.includes(id), `${q}: ${id} belongs to this workspace`);
            assert.ok(!other.all.includes(id), `${q}: leaked ${id}`);
          }
          assert.ok(r.body.meta.total <= side.all.length, `${q}: total ${r.body.meta.total} counts only own rows`);
        }
        // exact expectations on the shared words
        assert.deepEqual(
          ids(await side.ws.admin.get('/v1/conversations?search=zebra&archived=true')),
          [...side.all].sort(),
        );
        const all = await side.ws.admin.get('/v1/conversations?archived=true&per_page=100');
        assert.equal(all.body.meta.total, side.all.length);
        assert.deepEqual(ids(all), [...side.all].sort());
        // the other workspace's unique word finds nothing here
        const word = side === A ? 'beta' : 'alpha';
        assert.deepEqual((await side.ws.admin.get(`/v1/conversations?search=${word}&archived=true`)).body.data, []);
      }
      // a cursor walk sees only own rows too
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/v1/conversations?archived=true&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await A.ws.admin.get(q);
        assert.equal(page.status, 200);
        seen.push(...ids(page));
        cursor = page.body.meta.next_cursor;
      } while (cursor);
      assert.deepEqual(seen.sort(), [...A.all].sort());
    });

    test("another workspace's conversations, messages and tool invocations are 404 for every verb, and untouched", async () => {
      const before = await viewOfB();
      const api = A.ws.admin;
      const c = B.live;
      const calls: Array<[string, string, unknown?]> = [
        ['GET', `/v1/conversations/${c}`],
        ['GET', `/v1/conversations/${B.archived}?include_tool_steps=true`],
        ['PATCH', `/v1/conversations/${c}`, { title: 'hijacked' }],
        ['PATCH', `/v1/conversations/${B.archived}`, { archived: false }],
        ['GET', `/v1/conversations/${c}/messages`],
        ['POST', `/v1/conversations/${c}/messages`, { role: 'user', content: 'injected' }],
        ['GET', `/v1/conversations/${c}/tool-invocations`],
        ['POST', `/v1/conversations/${c}/tool-invocations`, { tool_name: 'injected' }],
        ['GET', `/v1/conversations/${c}/tool-invocations/${B.tool}`],
        ['PATCH', `/v1/conversations/${c}/tool-invocations/${B.tool}`, { status: 'failed' }],
        // own conversation, other's tool invocation
        ['GET', `/v1/conversations/${A.live}/tool-invocations/${B.tool}`],
        ['PATCH', `/v1/conversations/${A.live}/tool-invocations/${B.tool}`, { status: 'failed' }],
        ['DELETE', `/v1/conversations/${c}`],
        ['DELETE', `/v1/conversations/${B.archived}`],
      ];
      for (const [method, path, body] of calls) {
        const r = await api.request(method, path, { body });
        assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
        assert.equal(r.body.error.code, 'not_found');
      }
      // linking a tool invocation to the other workspace's message is refused too
      const bMsg = (await B.ws.admin.get(`/v1/conversations/${c}/messages`)).body.data[0].id;
      const link = await api.post(`/v1/conversations/${A.live}/tool-invocations`, { tool_name: 'x', message_id: bMsg });
      assert.ok(link.status === 400 || link.status === 404, link.text);
      assert.equal(await viewOfB(), before, "B's data is exactly as it was");
    });

    test('audit events stay in their workspace', async () => {
      const victim = (await A.ws.admin.post('/v1/conversations', { messages: [{ role: 'user', content: 'bye' }] })).body
        .data.id;
      const before = await viewOfB();
      assert.equal((await A.ws.admin.delete(`/v1/conversations/${victim}`)).status, 204);
      const aEvents = (await A.ws.admin.get('/v1/audit-events?limit=100')).body.data as Array<{ target_id: string }>;
      assert.ok(
        aEvents.some((e) => e.target_id === victim),
        'A sees its own delete',
      );
      const bEvents = (await B.ws.admin.get('/v1/audit-events?limit=100')).body.data as Array<{ target_id: string }>;
      assert.ok(!bEvents.some((e) => e.target_id === victim), 'B does not');
      const aTargets = new Set(aEvents.map((e) => e.target_id));
      for (const e of bEvents) assert.ok(!aTargets.has(e.target_id), `B's event ${e.target_id} not in A`);
      assert.equal(await viewOfB(), before);
    });

    test("another workspace's keys: list excludes them, GET and DELETE are 404, the key keeps working", async () => {
      const listA = (await A.ws.admin.get('/v1/keys')).body.data.map((k: { id: string }) => k.id);
      assert.ok(listA.includes(A.keyId));
      assert.ok(!listA.includes(B.keyId));
      const get = await A.ws.admin.get(`/v1/keys/${B.keyId}`);
      const del = await A.ws.admin.delete(`/v1/keys/${B.keyId}`);
      assert.equal(get.status, 404);
      assert.equal(del.status, 404);
      assert.equal(get.body.error.code, 'not_found');
      const still = await B.ws.admin.get(`/v1/keys/${B.keyId}`);
      assert.equal(still.body.data.revoked_at, null);
      // a fresh B key still authenticates after A's attempt to revoke one
      const bKey = await B.ws.key(['read:ai']);
      assert.equal((await A.ws.admin.delete(`/v1/keys/${bKey.id}`)).status, 404);
      const list = await bKey.client.get('/v1/conversations?archived=true&per_page=100');
      assert.equal(list.status, 200);
      assert.deepEqual(ids(list), [...B.all].sort());
    });

    test('only the instance key creates workspaces; the new admin key works and sees an empty workspace', async () => {
      for (const ws of [A.ws, B.ws]) {
        const r = await ws.admin.post('/v1/workspaces', { name: 'sneaky' });
        assert.equal(r.status, 403, r.text);
        assert.equal(r.body.error.code, 'insufficient_permissions');
      }
      const instance = new Client(server.url, server.instanceKey);
      const r = await instance.post('/v1/workspaces', { name: 'fresh' });
      assert.equal(r.status, 201, r.text);
      assert.match(r.body.data.workspace.id, /^ws_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(r.body.data.workspace.name, 'fresh');
      assert.match(r.body.data.secret, /^prl_[A-Za-z0-9_-]{43}$/);
      assert.ok(r.body.data.key.scopes.includes('admin'));
      assert.equal(r.body.data.key.instance_admin, false);
      const fresh = new Client(server.url, r.body.data.secret);
      const empty = await fresh.get('/v1/conversations?archived=true');
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body.data, []);
      assert.equal(empty.body.meta.total, 0);
      assert.equal((await fresh.get(`/v1/conversations/${A.live}`)).status, 404);
      const made = await fresh.post('/v1/conversations', { title: 'first' });
      assert.equal(made.status, 201);
      assert.equal((await A.ws.admin.get(`/v1/conversations/${made.body.data.id}`)).status, 404);
      const k = await fresh.post('/v1/keys', { name: 'reader', scopes: ['read:ai'] });
      assert.equal(k.status, 201);
      // the new workspace's admin key is no instance key either
      assert.equal((await fresh.post('/v1/workspaces', { name: 'nested' })).status, 403);
    });
  });
}
