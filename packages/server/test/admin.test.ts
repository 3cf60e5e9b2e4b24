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

interface AuditRow {
  id: string;
  actor_key_id: string | null;
  actor_type: string;
  action: string;
  target_type: string;
  target_id: string;
  created_at: string;
}

/** The id of the one key a fresh workspace holds: its first admin key. */
async function ownKeyId(ws: TestWorkspace): Promise<string> {
  const r = await ws.admin.get('/v1/keys');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.data.length, 1, 'a fresh workspace holds only its first admin key');
  return r.body.data[0].id;
}

async function audit(client: Client, query = ''): Promise<AuditRow[]> {
  const r = await client.get(`/v1/audit-events${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body.data;
}

/** Every page of a filtered audit list, following next_cursor. */
async function allPages(client: Client, query: string): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep = query ? '&' : '?';
    const r: Reply = await client.get(
      `/v1/audit-events${query}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    assert.equal(r.status, 200, r.text);
    out.push(...r.body.data);
    cursor = r.body.meta.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('audit pages never ended');
}

/** Waits (bounded) for the key's last_used_at, written off the response path, to satisfy `ok`. */
async function lastUsed(admin: Client, keyId: string, ok: (v: string | null) => boolean): Promise<string | null> {
  let v: string | null = null;
  for (let i = 0; i < 100; i++) {
    const r = await admin.get(`/v1/keys/${keyId}`);
    assert.equal(r.status, 200, r.text);
    v = r.body.data.last_used_at;
    if (ok(v)) return v;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return v;
}

for (const engine of testEngines()) {
  describe(`the last admin key [${engine}]`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => server.close());

    test('revoking the workspace’s last active admin key with itself → 409 last_admin_key; the key keeps working', async () => {
      const ws = await newWorkspace(server, 'lockout');
      const id = await ownKeyId(ws);
      const r = await ws.admin.delete(`/v1/keys/${id}`);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.error.code, 'last_admin_key');
      assert.match(r.body.error.message, /last active admin key/);
      assert.equal(r.headers.get('retry-after'), null, 'no retry cures it');
      assert.equal((await ws.admin.get('/v1/keys')).status, 200, 'still works');
      const revokedEvents = await audit(ws.admin, '?action=api_key.revoked');
      assert.deepEqual(revokedEvents, [], 'nothing was revoked');
    });

    test('with a second admin key the first can go; then the second is the last one', async () => {
      const ws = await newWorkspace(server, 'two admins');
      const first = await ownKeyId(ws);
      const second = await ws.key(['admin']);
      const gone = await second.client.delete(`/v1/keys/${first}`);
      assert.equal(gone.status, 200, gone.text);
      assert.equal((await ws.admin.get('/v1/keys')).status, 401, 'the first is revoked');
      const last = await second.client.delete(`/v1/keys/${second.id}`);
      assert.equal(last.status, 409, last.text);
      assert.equal(last.body.error.code, 'last_admin_key');
      // keys without the admin scope never count, and never get in the way
      const reader = await second.client.post('/v1/keys', { name: 'reader', scopes: ['read:ai', 'write:ai'] });
      assert.equal(reader.status, 201, reader.text);
      assert.equal((await second.client.delete(`/v1/keys/${reader.body.data.key.id}`)).status, 200);
    });

    test('two admin keys revoking each other at once: one wins, the workspace keeps an admin', async () => {
      for (let round = 0; round < 5; round++) {
        const ws = await newWorkspace(server, `race ${round}`);
        const first = { id: await ownKeyId(ws), client: ws.admin };
        const second = await ws.key(['admin']);
        const replies = await Promise.all([
          first.client.delete(`/v1/keys/${second.id}`),
          second.client.delete(`/v1/keys/${first.id}`),
        ]);
        const statuses = replies.map((r) => r.status).sort();
        // the loser is refused by the guard (409) or, when it came after the commit, by authentication (401)
        assert.ok(statuses[0] === 200 && (statuses[1] === 401 || statuses[1] === 409), JSON.stringify(statuses));
        const alive = [];
        for (const c of [first.client, second.client]) if ((await c.get('/v1/keys')).status === 200) alive.push(c);
        assert.equal(alive.length, 1, 'exactly one admin key left');
      }
    });

    test('an expired admin key does not count as one left', async () => {
      const ws = await newWorkspace(server, 'expiring');
      const first = await ownKeyId(ws);
      await ws.key(['admin'], { expires_at: new Date(server.clock.now() + 60_000).toISOString() });
      server.clock.advance(61_000);
      const r = await ws.admin.delete(`/v1/keys/${first}`);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.error.code, 'last_admin_key');
    });

    test('the instance admin key may revoke the last admin key (it is how an operator retires one)', async () => {
      const instance = new Client(server.url, server.instanceKey);
      const keys = await instance.get('/v1/keys');
      const own = keys.body.data.find((k: { instance_admin: boolean }) => k.instance_admin);
      assert.ok(own);
      const r = await instance.delete(`/v1/keys/${own.id}`);
      assert.equal(r.status, 200, r.text);
      assert.equal((await instance.get('/v1/keys')).status, 401);
    });
  });

  describe(`audit events [${engine}]`, () => {
    let server: TestServer;
    let instance: Client;
    let ws: TestWorkspace;
    let adminKeyId: string;

    before(async () => {
      server = await startServer(engine);
      instance = new Client(server.url, server.instanceKey);
      ws = await newWorkspace(server, 'audited');
      adminKeyId = await ownKeyId(ws);
    });
    after(async () => server.close());

    test('workspace creation records the instance admin key as actor, in the new workspace and in its own', async () => {
      const instanceKeyId = (await instance.get('/v1/keys')).body.data.find(
        (k: { instance_admin: boolean }) => k.instance_admin,
      ).id;
      const rows = await audit(ws.admin, '?order=asc');
      assert.deepEqual(
        rows.map((e) => [e.action, e.target_id, e.actor_key_id, e.actor_type]),
        [
          ['workspace.created', ws.id, instanceKeyId, 'api_key'],
          ['api_key.created', adminKeyId, instanceKeyId, 'api_key'],
        ],
      );
      const own = await audit(instance, `?action=workspace.created&order=asc`);
      assert.ok(
        own.some((e) => e.target_id === ws.id && e.actor_key_id === instanceKeyId),
        'the instance admin sees it too',
      );
      // the first start is the operator's doing: no key
      const boot = (await audit(instance, '?action=api_key.created&order=asc'))[0];
      assert.ok(boot);
      assert.equal(boot.actor_key_id, null);
      assert.equal(boot.actor_type, 'operator');
    });

    test('a key created and revoked through the API records the admin key that did it', async () => {
      const k = await ws.key(['read:ai']);
      assert.equal((await ws.admin.delete(`/v1/keys/${k.id}`)).status, 200);
      const rows = await audit(ws.admin, `?order=asc&actor_key_id=${adminKeyId}`);
      const mine = rows.filter((e) => e.target_id === k.id).map((e) => [e.action, e.actor_key_id, e.actor_type]);
      assert.deepEqual(mine, [
        ['api_key.created', adminKeyId, 'api_key'],
        ['api_key.revoked', adminKeyId, 'api_key'],
      ]);
    });

    test('archive, unarchive and rename are audited, without the title; other changes are not', async () => {
      const writer = await ws.key(['read:ai', 'write:ai']);
      const title = 'Confidential merger notes 7f3a';
      const c = await writer.client.post('/v1/conversations', { title });
      assert.equal(c.status, 201);
      const id: string = c.body.data.id;
      const steps: Array<[Record<string, unknown>, string[]]> = [
        [{ archived: true }, ['conversation.archived']],
        [{ archived: true }, []],
        [{ archived: false }, ['conversation.unarchived']],
        [{ title: 'Renamed secret title 9b2c' }, ['conversation.renamed']],
        [{ metadata: { a: 1 }, context: { deal_id: 'd1' } }, []],
        [{ title: 'Third title', archived: true }, ['conversation.archived', 'conversation.renamed']],
      ];
      let seen = 0;
      for (const [body, expected] of steps) {
        const r = await writer.client.patch(`/v1/conversations/${id}`, body);
        assert.equal(r.status, 200, r.text);
        const rows = await audit(ws.admin, `?conversation_id=${id}&order=asc`);
        const added = rows.slice(seen);
        seen = rows.length;
        assert.deepEqual(
          added.map((e) => e.action),
          expected,
          JSON.stringify(body),
        );
        for (const e of added) {
          assert.equal(e.actor_key_id, writer.id);
          assert.equal(e.target_type, 'conversation');
          assert.equal(e.target_id, id);
        }
      }
      const text = (await ws.admin.get(`/v1/audit-events?conversation_id=${id}`)).text;
      for (const t of [title, 'Renamed secret title', 'Third title']) assert.ok(!text.includes(t), 'no title');
    });

    test('filters: action, actor_key_id, conversation_id, created_after/before; pages keep the filter', async () => {
      const a = await ws.key(['read:ai', 'write:ai']);
      const b = await ws.key(['read:ai', 'write:ai']);
      const start = server.clock.now();
      const made: string[] = [];
      // an hour between deletes: the real time the requests take (seconds on a busy machine) never
      // moves a delete across the window's edges below
      const step = 3600_000;
      for (let i = 0; i < 5; i++) {
        server.clock.advance(step);
        const who = i % 2 === 0 ? a : b;
        const c = await who.client.post('/v1/conversations', { title: `f${i}` });
        made.push(c.body.data.id);
        assert.equal((await who.client.delete(`/v1/conversations/${c.body.data.id}`)).status, 204);
      }
      const byA = await allPages(ws.admin, `?action=conversation.deleted&actor_key_id=${a.id}&limit=1`);
      assert.deepEqual(
        byA.map((e) => e.target_id),
        [made[4], made[2], made[0]],
        'newest first, only a’s deletes, across pages of one',
      );
      const asc = await allPages(ws.admin, `?action=conversation.deleted&limit=2&order=asc`);
      assert.deepEqual(
        asc.map((e) => e.target_id).filter((t) => made.includes(t)),
        made,
      );
      assert.ok(asc.every((e) => e.action === 'conversation.deleted'));
      const one = await audit(ws.admin, `?conversation_id=${made[3]}`);
      assert.deepEqual(
        one.map((e) => [e.action, e.actor_key_id]),
        [['conversation.deleted', b.id]],
      );
      // a time window: the 2nd to 4th delete (created_after inclusive, created_before exclusive)
      const from = new Date(start + 2 * step).toISOString();
      const to = new Date(start + 5 * step).toISOString();
      const windowed = await allPages(
        ws.admin,
        `?action=conversation.deleted&created_after=${from}&created_before=${to}&limit=1`,
      );
      assert.deepEqual(
        windowed.map((e) => e.target_id),
        [made[3], made[2], made[1]],
      );
      for (const e of windowed)
        assert.ok(Date.parse(e.created_at) >= start + 2 * step && Date.parse(e.created_at) < start + 5 * step);
      // nothing matches: an empty page, not an error
      assert.deepEqual(await audit(ws.admin, `?actor_key_id=${newId('apiKey')}`), []);
    });

    test('a cursor is bound to its filters; bad filter values → 400', async () => {
      const first = await ws.admin.get('/v1/audit-events?action=conversation.deleted&limit=1');
      const cursor = first.body.meta.next_cursor;
      assert.ok(cursor, 'there is a next page');
      const other = await ws.admin.get(`/v1/audit-events?action=api_key.created&limit=1&cursor=${cursor}`);
      assert.equal(other.status, 400, other.text);
      assert.equal(other.body.error.code, 'invalid_cursor');
      const none = await ws.admin.get(`/v1/audit-events?limit=1&cursor=${cursor}`);
      assert.equal(none.status, 400);
      assert.equal(none.body.error.code, 'invalid_cursor');
      for (const q of ['created_after=yesterday', 'created_before=2026-13-01', 'actor=x', 'action=']) {
        const r = await ws.admin.get(`/v1/audit-events?${q}`);
        assert.equal(r.status, 400, `${q}: ${r.text}`);
        assert.equal(r.body.error.code, 'validation_failed');
      }
    });

    test('keys created by an admin key: the new key lists last_used_at null until it is used', async () => {
      const k = await ws.key(['read:ai']);
      const shown = await ws.admin.get(`/v1/keys/${k.id}`);
      assert.equal(shown.body.data.last_used_at, null);
    });
  });

  describe(`workspaces [${engine}]`, () => {
    let server: TestServer;
    let instance: Client;
    let a: TestWorkspace;
    let b: TestWorkspace;

    before(async () => {
      server = await startServer(engine);
      instance = new Client(server.url, server.instanceKey);
      a = await newWorkspace(server, 'alpha');
      b = await newWorkspace(server, 'beta');
    });
    after(async () => server.close());

    test('GET /v1/workspaces: the instance admin pages through all of them, oldest first', async () => {
      const seen: Array<{ id: string; name: string }> = [];
      let cursor: string | null = null;
      do {
        const r: Reply = await instance.get(`/v1/workspaces?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.data.length <= 1);
        seen.push(...r.body.data);
        cursor = r.body.meta.next_cursor;
      } while (cursor !== null);
      assert.deepEqual(
        seen.map((w) => w.name),
        ['default', 'alpha', 'beta'],
      );
      assert.deepEqual(
        seen.map((w) => w.id),
        [server.defaultWorkspaceId, a.id, b.id],
      );
      const bad = await instance.get('/v1/workspaces?cursor=abc.def');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_cursor');
    });

    test('a workspace admin key: its own workspace yes, the list no (403), another one 404 like a missing one', async () => {
      const own = await a.admin.get(`/v1/workspaces/${a.id}`);
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(Object.keys(own.body.data).sort(), ['created_at', 'id', 'name', 'trash_days']);
      assert.equal(own.body.data.name, 'alpha');
      const list = await a.admin.get('/v1/workspaces');
      assert.equal(list.status, 403);
      assert.equal(list.body.error.code, 'insufficient_permissions');
      const theirs = await a.admin.get(`/v1/workspaces/${b.id}`);
      const missing = await a.admin.get(`/v1/workspaces/${newId('workspace')}`);
      assert.equal(theirs.status, 404);
      assert.equal(missing.status, 404);
      assert.equal(
        theirs.text.replace(theirs.body.error.request_id, ''),
        missing.text.replace(missing.body.error.request_id, ''),
      );
      assert.equal(
        (await instance.get(`/v1/workspaces/${b.id}`)).body.data.name,
        'beta',
        'the instance admin sees any',
      );
    });

    test('PATCH renames (instance admin only), audited in that workspace without the name', async () => {
      const refused = await a.admin.patch(`/v1/workspaces/${a.id}`, { name: 'mine now' });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'insufficient_permissions');
      for (const body of [{ name: '' }, { name: '   ' }, {}, { name: 'x', extra: 1 }]) {
        const r = await instance.patch(`/v1/workspaces/${b.id}`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, 'validation_failed');
      }
      const r = await instance.patch(`/v1/workspaces/${b.id}`, { name: 'Beta Industries' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.name, 'Beta Industries');
      assert.equal(r.body.data.id, b.id);
      assert.equal((await b.admin.get(`/v1/workspaces/${b.id}`)).body.data.name, 'Beta Industries');
      const events = await b.admin.get('/v1/audit-events?action=workspace.renamed');
      assert.equal(events.body.data.length, 1);
      assert.equal(events.body.data[0].target_id, b.id);
      assert.ok(!events.text.includes('Beta Industries'), 'no name in the audit');
      assert.equal((await instance.patch(`/v1/workspaces/${newId('workspace')}`, { name: 'x' })).status, 404);
    });
  });

  describe(`last_used_at [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server, 'usage');
    });
    after(async () => server.close());

    test('set on use, then written at most once a minute per key', async () => {
      const store = server.parley.store;
      const writes: string[] = [];
      // every write transaction's key writer records the keys whose last_used_at it touches
      const transact = store.transact.bind(store);
      store.transact = (workspaceId, fn) =>
        transact(workspaceId, (w) => {
          const touch = w.keys.touchLastUsed.bind(w.keys);
          w.keys.touchLastUsed = (id, at, unlessAfter) => {
            writes.push(id);
            return touch(id, at, unlessAfter);
          };
          return fn(w);
        });
      const k = await ws.key(['read:ai']);
      assert.equal((await ws.admin.get(`/v1/keys/${k.id}`)).body.data.last_used_at, null);
      const t0 = server.clock.now();
      assert.equal((await k.client.get('/v1/conversations')).status, 200);
      const first = await lastUsed(ws.admin, k.id, (v) => v !== null);
      const firstAt = first === null ? Number.NaN : Date.parse(first);
      // the clock is real time plus an offset: the request ran a few ms after t0
      assert.ok(firstAt >= t0 && firstAt < t0 + 5_000, `the time of the first use: ${first}`);

      // 50 s of moved clock inside the first minute, leaving 10 s for the requests' own real time
      // (a busy machine takes seconds); then 15 s more puts the next request past the minute
      server.clock.advance(30_000);
      for (let i = 0; i < 5; i++) assert.equal((await k.client.get('/v1/conversations')).status, 200);
      server.clock.advance(20_000);
      assert.equal((await k.client.get('/v1/conversations')).status, 200);
      assert.equal(writes.filter((w) => w === k.id).length, 1, 'one write in the first minute, for 7 requests');

      server.clock.advance(15_000);
      const t1 = server.clock.now();
      assert.equal((await k.client.get('/v1/conversations')).status, 200);
      assert.equal(writes.filter((w) => w === k.id).length, 2, 'a minute later, one more');
      const later = await lastUsed(ws.admin, k.id, (v) => v !== null && Date.parse(v) >= t1);
      assert.ok(later !== null && Date.parse(later) >= t1 && Date.parse(later) < t1 + 5_000, `it moves: ${later}`);
      const listed = (await ws.admin.get('/v1/keys')).body.data.find((x: { id: string }) => x.id === k.id);
      assert.equal(listed.last_used_at, later, 'the list shows it too');
    });

    test('the conditional UPDATE never moves last_used_at back or within the minute (other instances)', async () => {
      const k = await ws.key(['read:ai']);
      const store = server.parley.store;
      const now = server.clock.now();
      const touch = (at: number, unlessAfter: number) =>
        store.transact(ws.id, (w) => w.keys.touchLastUsed(k.id, at, unlessAfter));
      await touch(now, now - 60_000);
      await touch(now + 30_000, now + 30_000 - 60_000);
      assert.equal(Date.parse((await ws.admin.get(`/v1/keys/${k.id}`)).body.data.last_used_at), now);
      await touch(now + 61_000, now + 1_000);
      assert.equal(Date.parse((await ws.admin.get(`/v1/keys/${k.id}`)).body.data.last_used_at), now + 61_000);
    });
  });
}
