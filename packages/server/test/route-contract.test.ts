import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../src/ids.js';
import {
  Client,
  newWorkspace,
  type Reply,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { fill, type Ids, NATIVE_ROUTES, type Route } from './helpers/routes.js';

const label = (r: Route) => `${r.method} ${r.path}`;

function send(client: Client, route: Route, ids: Ids, headers?: Record<string, string>): Promise<Reply> {
  return client.request(route.method, fill(route.path, ids), { body: route.body?.(), headers });
}

/** The headers and envelope every response must carry; returns the body's error for further checks. */
function assertContract(server: TestServer, r: Reply, status: number, code?: string) {
  const where = `${r.status} ${r.text}`;
  assert.equal(r.status, status, where);
  const rid = r.headers.get('x-request-id') ?? '';
  assert.match(rid, /^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'X-Request-ID is req_ + ULID');
  const limit = Number(r.headers.get('x-ratelimit-limit'));
  const remaining = Number(r.headers.get('x-ratelimit-remaining'));
  const reset = r.headers.get('x-ratelimit-reset') ?? '';
  assert.ok(Number.isInteger(limit) && limit > 0, `X-RateLimit-Limit ${limit}`);
  assert.ok(Number.isInteger(remaining) && remaining >= 0 && remaining <= limit, `X-RateLimit-Remaining ${remaining}`);
  assert.match(reset, /^\d+$/, 'X-RateLimit-Reset is whole epoch seconds');
  const nowSec = server.clock.now() / 1000;
  const window = server.parley.config.limits.windowSeconds;
  assert.ok(Number(reset) > nowSec - 1 && Number(reset) <= nowSec + window + 1, `Reset ${reset} near now ${nowSec}`);
  if (code === undefined) return undefined;
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const e = r.body?.error;
  assert.ok(e, `error envelope: ${r.text}`);
  assert.equal(e.code, code);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(e.request_id, rid, 'body request_id equals the header');
  assert.deepEqual(Object.keys(r.body).sort(), ['error'], 'nothing beside the error in the envelope');
  return e as { code: string; message: string; request_id: string };
}

/** Moves the clock to just after the start of a rate-limit window, so a count can't straddle two. */
function alignWindow(server: TestServer): void {
  const windowMs = server.parley.config.limits.windowSeconds * 1000;
  server.clock.advance(windowMs - (server.clock.now() % windowMs) + 5);
}

for (const engine of testEngines()) {
  describe(`route contract [${engine}]`, () => {
    let server: TestServer;
    let a: TestWorkspace;
    let b: TestWorkspace;
    let anon: Client;
    let foreign: Ids;

    /** Fresh objects in workspace A (or `ws`, owned by `user`) for one check (a route may delete them). */
    async function fixture(ws: TestWorkspace = a, user?: string): Promise<Ids> {
      // a webhook of its own (a route may delete it) that takes this conversation's creation, then
      // disabled so that later fixtures do not queue deliveries to it; nothing listens on port 9
      const h = await ws.admin.post('/v1/webhooks', { url: 'http://127.0.0.1:9/x', events: ['conversation.created'] });
      assert.equal(h.status, 201, h.text);
      const hook = h.body.data.webhook.id as string;
      const c = await ws.admin.post('/v1/conversations', {
        messages: [{ role: 'user', content: 'fixture' }],
        ...(user !== undefined ? { user_id: user } : {}),
      });
      assert.equal(c.status, 201, c.text);
      assert.equal((await ws.admin.patch(`/v1/webhooks/${hook}`, { enabled: false })).status, 200);
      const t = await ws.admin.post(`/v1/conversations/${c.body.data.id}/tool-invocations`, { tool_name: 'fx' });
      assert.equal(t.status, 201, t.text);
      const k = await ws.key(['read:ai']);
      const d = await ws.admin.get(`/v1/webhooks/${hook}/deliveries?limit=1`);
      assert.equal(d.status, 200, d.text);
      const j = await ws.admin.post('/v1/users/fixture-nobody/erase', {});
      assert.equal(j.status, 202, j.text);
      return {
        job_id: j.body.data.id,
        id: c.body.data.id,
        tool_id: t.body.data.id,
        key_id: k.id,
        ws_id: ws.id,
        webhook_id: hook,
        delivery_id: d.body.data[0].id,
      };
    }

    before(async () => {
      // the anonymous limit is tested on its own server below; here it must not get in the way
      server = await startServer(engine, { limits: { rateAnonymous: 1_000_000 }, webhooks: { allowPrivate: true } });
      a = await newWorkspace(server, 'a');
      b = await newWorkspace(server, 'b');
      anon = new Client(server.url);
      foreign = await fixture(b);
    });
    after(async () => server.close());

    for (const route of NATIVE_ROUTES) {
      describe(label(route), () => {
        test('no key → 401 invalid_key', async () => {
          const r = await send(anon, route, await fixture());
          assertContract(server, r, 401, 'invalid_key');
        });

        test('malformed key → 401 invalid_key', async () => {
          const ids = await fixture();
          for (const header of ['Bearer abc', 'Basic abc', 'Bearer', `Bearer prl_${'a'.repeat(42)}`, 'prl_x']) {
            const r = await send(anon, route, ids, { authorization: header });
            assertContract(server, r, 401, 'invalid_key');
          }
        });

        test('well-formed unknown key → 401 invalid_key', async () => {
          const unknown = `prl_${'A1b2-_'.repeat(7)}x`;
          assert.equal(unknown.length, 4 + 43);
          const r = await send(anon.with(unknown), route, await fixture());
          assertContract(server, r, 401, 'invalid_key');
        });

        test('revoked key → 401 on the very next request', async () => {
          const ids = await fixture();
          const k = await a.key(['admin']);
          assert.equal((await k.client.get('/v1/conversations')).status, 200, 'works before revocation');
          const rev = await a.admin.delete(`/v1/keys/${k.id}`);
          assert.equal(rev.status, 200, rev.text);
          assert.ok(rev.body.data.revoked_at);
          assertContract(server, await send(k.client, route, ids), 401, 'invalid_key');
        });

        test('expired key → 401', async () => {
          const ids = await fixture();
          const expiresAt = new Date(server.clock.now() + 60_000).toISOString();
          const k = await a.key(['admin'], { expires_at: expiresAt });
          assert.equal((await k.client.get('/v1/conversations')).status, 200, 'works before expiry');
          server.clock.advance(61_000);
          assertContract(server, await send(k.client, route, ids), 401, 'invalid_key');
        });

        test('missing scope → 403 insufficient_permissions naming the scope', async () => {
          const ids = await fixture();
          const without =
            route.scope === 'read:ai'
              ? ['write:ai']
              : route.scope === 'write:ai'
                ? ['read:ai']
                : ['read:ai', 'write:ai'];
          const k = await a.key(without);
          const e = assertContract(server, await send(k.client, route, ids), 403, 'insufficient_permissions');
          assert.ok(e?.message.includes(route.scope), `message names ${route.scope}: ${e?.message}`);
          if (route.instanceOnly) {
            // a workspace admin key is no instance admin key
            const e2 = assertContract(server, await send(a.admin, route, ids), 403, 'insufficient_permissions');
            assert.ok(e2?.message.includes('admin'), e2?.message);
          }
        });

        if (route.path.includes('{') && route.instanceOnly) {
          // the instance admin reaches every workspace: there is no foreign id, only a missing one
          test('a missing id → 404 not_found for the instance admin key', async () => {
            const instance = anon.with(server.instanceKey);
            const missing = { ...(await fixture()), ws_id: newId('workspace') };
            assertContract(server, await send(instance, route, missing), 404, 'not_found');
          });
        }

        if (route.path.includes('{') && !route.instanceOnly && !route.namesNoObject) {
          test("another workspace's id → 404 identical to a missing id", async () => {
            const own = await fixture();
            const missing: Ids = {
              id: newId('conversation'),
              tool_id: newId('toolInvocation'),
              key_id: newId('apiKey'),
              ws_id: newId('workspace'),
              webhook_id: newId('webhook'),
              delivery_id: newId('webhookDelivery'),
              job_id: newId('job'),
            };
            // all ids foreign vs all missing; and, with a tool id, own conversation + foreign tool
            const cases: Array<[Ids, Ids]> = [[foreign, missing]];
            if (route.path.includes('{tool_id}')) {
              cases.push([
                { ...own, tool_id: foreign.tool_id },
                { ...own, tool_id: missing.tool_id },
              ]);
            }
            for (const [theirs, none] of cases) {
              const x = await send(a.admin, route, theirs);
              const y = await send(a.admin, route, none);
              const ex = assertContract(server, x, 404, 'not_found');
              const ey = assertContract(server, y, 404, 'not_found');
              assert.ok(ex && ey);
              assert.equal(x.text.replace(ex.request_id, '<rid>'), y.text.replace(ey.request_id, '<rid>'));
              assert.equal(x.headers.get('content-type'), y.headers.get('content-type'));
            }
            // and the foreign object is untouched
            const still = await b.admin.get(`/v1/conversations/${foreign.id}/tool-invocations/${foreign.tool_id}`);
            assert.equal(still.status, 200);
            assert.equal((await b.admin.get(`/v1/keys/${foreign.key_id}`)).body.data.revoked_at, null);
          });
        }

        if (route.path.includes('{id}')) {
          test("a user-bound key: another user's (or no user's) conversation → 404 identical to a missing id", async () => {
            const alice = await a.key(['read:ai', 'write:ai'], { user_id: 'alice' });
            const missing: Ids = {
              id: newId('conversation'),
              tool_id: newId('toolInvocation'),
              key_id: '',
              ws_id: '',
              webhook_id: '',
              delivery_id: '',
              job_id: '',
            };
            for (const owner of ['bob', undefined]) {
              const theirs = await fixture(a, owner);
              const x = await send(alice.client, route, theirs);
              const y = await send(alice.client, route, { ...missing, key_id: theirs.key_id });
              const ex = assertContract(server, x, 404, 'not_found');
              const ey = assertContract(server, y, 404, 'not_found');
              assert.ok(ex && ey);
              assert.equal(x.text.replace(ex.request_id, '<rid>'), y.text.replace(ey.request_id, '<rid>'));
              // and their conversation is untouched
              const still = await a.admin.get(`/v1/conversations/${theirs.id}`);
              assert.equal(still.status, 200, `${owner}'s conversation is still there`);
              assert.equal(still.body.data.title, 'fixture');
              assert.equal(still.body.data.message_count, 1);
              assert.equal(still.body.data.tool_invocation_count, 1);
            }
            // while the same route on the key's own conversation works
            const own = await fixture(a, 'alice');
            const r = await send(alice.client, route, own);
            if (route.trashOnly) assert.equal(r.status, 404, `own conversation, in view: ${r.status} ${r.text}`);
            else assert.ok(r.status >= 200 && r.status < 300, `own conversation: ${r.status} ${r.text}`);
          });
        }

        const namesUser = route.namesUser;
        if (namesUser) {
          test('a user-bound key naming another user in the body or filter → 403 insufficient_permissions', async () => {
            const alice = await a.key(['read:ai', 'write:ai'], { user_id: 'alice' });
            const bobsBefore = (await a.admin.get('/v1/conversations?user_id=bob')).body.meta.total;
            const ask = (user: string) =>
              alice.client.request(route.method, route.path + (namesUser.query?.(user) ?? ''), {
                body: namesUser.body?.(user) ?? route.body?.(),
              });
            const e = assertContract(server, await ask('bob'), 403, 'insufficient_permissions');
            assert.match(e?.message ?? '', /bound to user alice/, `the message says why: ${e?.message}`);
            const search = namesUser.query ? await alice.client.get(`${route.path}?user_id=bob&search=fixture`) : null;
            if (search) assertContract(server, search, 403, 'insufficient_permissions');
            assert.equal((await a.admin.get('/v1/conversations?user_id=bob')).body.meta.total, bobsBefore, 'no effect');
            if (namesUser.query) {
              // without a filter, only the key's user's conversations: never bob's, never no one's
              await fixture(a, 'bob');
              await fixture(a);
              const mine = await alice.client.get(`${route.path}?per_page=100`);
              assert.equal(mine.status, 200);
              for (const c of mine.body.data) assert.equal(c.user_id, 'alice');
              const found = await alice.client.get(`${route.path}?search=fixture`);
              assert.equal(found.status, 200);
              for (const c of found.body.data) assert.equal(c.user_id, 'alice');
            }
            // naming its own user is fine
            const own = await ask('alice');
            assert.ok(own.status >= 200 && own.status < 300, `own user: ${own.status} ${own.text}`);
          });
        }

        test('over the limit → 429 rate_limited with Retry-After', async () => {
          const ids = await fixture();
          const k = await a.key(['admin'], { rate_limit: 2 });
          alignWindow(server);
          for (let i = 0; i < 2; i++) {
            const r = await send(k.client, route, ids);
            assert.notEqual(r.status, 429, r.text);
            assert.equal(r.headers.get('x-ratelimit-limit'), '2');
            assert.equal(r.headers.get('x-ratelimit-remaining'), String(1 - i));
          }
          const r = await send(k.client, route, ids);
          assertContract(server, r, 429, 'rate_limited');
          assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
          const retry = r.headers.get('retry-after') ?? '';
          assert.match(retry, /^\d+$/);
          const wait = Number(retry);
          assert.ok(wait >= 1 && wait <= server.parley.config.limits.windowSeconds, `Retry-After ${wait}`);
          assert.ok(
            Number(r.headers.get('x-ratelimit-reset')) - server.clock.now() / 1000 <= wait + 1,
            'Retry-After points at the reset',
          );
        });
      });
    }

    test('a valid incoming X-Request-ID is echoed, an invalid one replaced', async () => {
      const mine = newId('request');
      const ok = await a.admin.get('/v1/conversations', { 'x-request-id': mine });
      assert.equal(ok.headers.get('x-request-id'), mine);
      const err = await anon.get('/v1/conversations', { 'x-request-id': mine });
      assertContract(server, err, 401, 'invalid_key');
      assert.equal(err.body.error.request_id, mine);
      for (const bad of ['x'.repeat(300), 'has spaces in it', 'semi;colon']) {
        const r = await a.admin.get('/v1/conversations', { 'x-request-id': bad });
        assert.match(r.headers.get('x-request-id') ?? '', /^req_[0-9A-HJKMNP-TV-Z]{26}$/);
      }
    });

    test('unknown routes answer 404 not_found, known paths with another method 405, with the same headers and envelope', async () => {
      assertContract(server, await a.admin.get('/v1/nope'), 404, 'not_found');
      assertContract(server, await anon.get('/v1/nope'), 404, 'not_found');
      const wrong = await a.admin.request('PUT', '/v1/conversations');
      assertContract(server, wrong, 405, 'method_not_allowed');
      assert.equal(wrong.headers.get('allow'), 'GET, HEAD, POST');
    });
  });

  describe(`route contract: anonymous rate limit [${engine}]`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(engine, { limits: { rateAnonymous: 3 } });
    });
    after(async () => server.close());

    test('unauthenticated requests are limited per client address and never consume a key’s quota', async () => {
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai'], { rate_limit: 5 });
      alignWindow(server);
      const anon = new Client(server.url);
      const first = await k.client.get('/v1/conversations');
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-ratelimit-remaining'), '4');
      // missing, malformed and unknown keys all count against the address, not the key
      const tries = [
        () => anon.get('/v1/conversations'),
        () => anon.get('/v1/conversations', { authorization: 'Bearer abc' }),
        () => anon.with(`prl_${'z'.repeat(43)}`).get('/v1/conversations'),
      ];
      for (let i = 0; i < tries.length; i++) {
        const r = await (tries[i] as () => Promise<Reply>)();
        assertContract(server, r, 401, 'invalid_key');
        assert.equal(r.headers.get('x-ratelimit-limit'), '3');
        assert.equal(r.headers.get('x-ratelimit-remaining'), String(2 - i));
      }
      const over = await anon.get('/v1/conversations');
      assertContract(server, over, 429, 'rate_limited');
      assert.match(over.headers.get('retry-after') ?? '', /^\d+$/);
      // the key is untouched by all of that
      const again = await k.client.get('/v1/conversations');
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('x-ratelimit-limit'), '5');
      assert.equal(again.headers.get('x-ratelimit-remaining'), '3');
      // and public routes stay reachable
      assert.equal((await anon.get('/healthz')).status, 200);
    });
  });
}
