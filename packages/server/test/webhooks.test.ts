import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '@parley/sdk';
import { ulidToUuid } from '../src/ids.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';
import { Receiver, until } from './helpers/receiver.js';

const HOUR = 3_600_000;
const uuid = (id: string) => ulidToUuid(id.slice(id.indexOf('_') + 1));

for (const engine of testEngines()) {
  describe(`webhooks (${engine})`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let rx: Receiver;

    before(async () => {
      server = await startServer(engine, { webhooks: { allowPrivate: true, pollMs: 50 } });
      ws = await newWorkspace(server, 'hooks');
      rx = await new Receiver().start();
    });
    after(async () => {
      await rx?.close();
      await server?.close();
    });

    /** A fresh endpoint on a fresh receiver path (its own deliveries are told apart by webhook-id). */
    async function endpoint(events: string[] = ['*'], url = rx.url): Promise<{ id: string; secret: string }> {
      const r = await ws.admin.post('/v1/webhooks', { url, events, description: 'test' });
      assert.equal(r.status, 201, r.text);
      return { id: r.body.data.webhook.id, secret: r.body.data.secret };
    }
    const forEndpoint = (deliveryIds: Set<string>) =>
      rx.got.filter((g) => deliveryIds.has(String(g.headers['webhook-id'])));
    async function deliveryIds(id: string): Promise<Set<string>> {
      const r = await ws.admin.get(`/v1/webhooks/${id}/deliveries?limit=100`);
      assert.equal(r.status, 200, r.text);
      return new Set(r.body.data.map((d: { id: string }) => d.id));
    }

    test('create shows the secret once; list, get, patch, delete; audited; user-bound and read keys refused', async () => {
      const r = await ws.admin.post('/v1/webhooks', { url: rx.url, events: ['conversation.created'] });
      assert.equal(r.status, 201, r.text);
      assert.match(r.body.data.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const id = r.body.data.webhook.id;
      assert.match(id, /^wh_/);
      const got = await ws.admin.get(`/v1/webhooks/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.text.includes('whsec_'), false, 'the secret is never shown again');
      assert.deepEqual(got.body.data.events, ['conversation.created']);
      const list = await ws.admin.get('/v1/webhooks');
      assert.ok(list.body.data.some((e: { id: string }) => e.id === id));
      const p = await ws.admin.patch(`/v1/webhooks/${id}`, { enabled: false, events: ['*'] });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.data.enabled, false);
      assert.deepEqual(p.body.data.events, ['*']);
      const bad = await ws.admin.post('/v1/webhooks', { url: rx.url, events: ['conversation.exploded'] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
      const ftp = await ws.admin.post('/v1/webhooks', { url: 'ftp://example.com/x', events: ['*'] });
      assert.equal(ftp.status, 400);

      const bound = await ws.key(['admin'], { user_id: 'u1' });
      const refused = await bound.client.get('/v1/webhooks');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'insufficient_permissions');
      const writer = await ws.key(['write:ai', 'read:ai']);
      assert.equal((await writer.client.get(`/v1/webhooks/${id}`)).status, 403);

      assert.equal((await ws.admin.delete(`/v1/webhooks/${id}`)).status, 204);
      assert.equal((await ws.admin.get(`/v1/webhooks/${id}`)).status, 404);
      const audit = await ws.admin.get('/v1/audit-events?limit=100');
      const actions = audit.body.data
        .filter((a: { target_id: string }) => a.target_id === id)
        .map((a: { action: string }) => a.action);
      assert.deepEqual(actions.sort(), ['webhook.created', 'webhook.deleted', 'webhook.updated']);
    });

    test("another workspace's webhook and delivery are 404, like missing ones", async () => {
      const mine = await endpoint(['conversation.created']);
      await ws.admin.post('/v1/conversations', { title: 'x' });
      const ids = [...(await deliveryIds(mine.id))];
      const other = await newWorkspace(server, 'other');
      const missing = await other.admin.get('/v1/webhooks/wh_01KF0Z8J1R5Q0V7M4T2B9XW3NA');
      for (const [method, path] of [
        ['GET', `/v1/webhooks/${mine.id}`],
        ['PATCH', `/v1/webhooks/${mine.id}`],
        ['DELETE', `/v1/webhooks/${mine.id}`],
        ['POST', `/v1/webhooks/${mine.id}/rotate-secret`],
        ['GET', `/v1/webhooks/${mine.id}/deliveries`],
        ['POST', `/v1/webhooks/${mine.id}/deliveries/${ids[0]}/retry`],
      ] as const) {
        const r = await other.admin.request(method, path, method === 'PATCH' ? { body: { enabled: false } } : {});
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.equal(r.body.error.code, 'not_found');
      }
      assert.equal(missing.status, 404);
      await ws.admin.delete(`/v1/webhooks/${mine.id}`);
    });

    test('lifecycle events from every surface, signed (verified with the SDK), filtered, content-free', async () => {
      const all = await endpoint(['*']);
      const onlyDeleted = await endpoint(['conversation.deleted']);
      const c = await ws.admin.post('/v1/conversations', {
        title: 'SECRET-TITLE',
        messages: [{ role: 'user', content: 'SECRET-CONTENT' }],
      });
      const id = c.body.data.id;
      await ws.admin.patch(`/v1/conversations/${id}`, { archived: true });
      await ws.admin.patch(`/v1/conversations/${id}`, { archived: false, metadata: { a: 1 } });
      // a compat surface's delete goes through the same service
      const fini = await ws.admin.request('DELETE', '/v2/hc-interactions/public', { body: { ids: [uuid(id)] } });
      assert.equal(fini.status, 200, fini.text);
      await until(async () => forEndpoint(await deliveryIds(all.id)).length >= 5, 'five deliveries');
      const mine = forEndpoint(await deliveryIds(all.id));
      const events = [];
      for (const g of mine) {
        events.push(
          await verifyWebhook<{ type: string; data: any }>(all.secret, g.headers as never, g.body, {
            now: server.clock.now(),
          }),
        );
        assert.equal(g.body.includes('SECRET'), false, 'no title or message content in any payload');
      }
      assert.deepEqual(
        events.map((e) => e.type),
        [
          'conversation.created',
          'conversation.archived',
          'conversation.archived',
          'conversation.updated',
          'conversation.deleted',
        ],
      );
      assert.equal(events[1]?.data.conversation.archived, true);
      assert.equal(events[2]?.data.conversation.archived, false);
      assert.deepEqual(events[3]?.data.changes, ['metadata']);
      assert.deepEqual(events[4]?.data, {
        conversation: { id, user_id: null },
        counts: { messages: 1, tool_invocations: 0 },
      });
      // the filter: one delivery, the delete, for the other endpoint
      await until(async () => forEndpoint(await deliveryIds(onlyDeleted.id)).length === 1, 'the filtered delivery');
      const filtered = forEndpoint(await deliveryIds(onlyDeleted.id));
      assert.equal(JSON.parse(filtered[0]?.body ?? '{}').type, 'conversation.deleted');
      // a wrong secret does not verify
      await assert.rejects(
        verifyWebhook(onlyDeleted.secret, mine[0]?.headers as never, mine[0]?.body ?? '', { now: server.clock.now() }),
        /no signature matches/,
      );
      await ws.admin.delete(`/v1/webhooks/${all.id}`);
      await ws.admin.delete(`/v1/webhooks/${onlyDeleted.id}`);
    });

    test('a write that rolls back delivers nothing (all-or-nothing bulk delete refused after deleting one)', async () => {
      const hook = await endpoint(['conversation.deleted']);
      const keep = (await ws.admin.post('/v1/conversations', { title: 'kept' })).body.data.id;
      const sentinel = (await ws.admin.post('/v1/conversations', { title: 'sentinel' })).body.data.id;
      // the first id is deleted inside the transaction, the second is missing: 406, rolled back
      const r = await ws.admin.request('DELETE', '/v2/hc-interactions/public', {
        body: { ids: [uuid(keep), '0b8626b0-4cc8-4a3d-8fc2-f18ad1a4a1a8'] },
      });
      assert.equal(r.status, 406, r.text);
      assert.equal((await ws.admin.get(`/v1/conversations/${keep}`)).status, 200);
      assert.equal((await ws.admin.delete(`/v1/conversations/${sentinel}`)).status, 204);
      await until(async () => forEndpoint(await deliveryIds(hook.id)).length === 1, 'the sentinel delete');
      const ids = await deliveryIds(hook.id);
      assert.equal(ids.size, 1, 'one outbox row: the committed delete only');
      const sent = forEndpoint(ids).map((g) => JSON.parse(g.body).data.conversation.id);
      assert.deepEqual(sent, [sentinel]);
      await ws.admin.delete(`/v1/webhooks/${hook.id}`);
    });

    test('a receiver failing 3 times: retried with growing delays (moved clock), then delivered once', async () => {
      const failing = await new Receiver().start();
      try {
        failing.respond = (_r, n) => (n <= 3 ? 500 : 200);
        const hook = await endpoint(['conversation.created'], failing.url);
        await ws.admin.post('/v1/conversations', { title: 'retry me' });
        await until(() => failing.got.length === 1, 'the first attempt');
        const log = async () => (await ws.admin.get(`/v1/webhooks/${hook.id}/deliveries`)).body.data[0];
        await until(async () => (await log()).attempts === 1, 'the first outcome');
        let d = await log();
        assert.equal(d.state, 'pending');
        assert.equal(d.last_status, 500);
        assert.equal(d.last_error, 'HTTP 500');
        const gaps: number[] = [];
        for (let n = 2; n <= 4; n++) {
          gaps.push(Date.parse(d.next_attempt_at) - Date.parse(d.last_attempt_at));
          // not due yet: nothing is sent until the clock passes next_attempt_at
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(failing.got.length, n - 1);
          server.clock.advance(HOUR);
          await until(() => failing.got.length === n, `attempt ${n}`);
          await until(async () => (await log()).attempts === n, `outcome ${n}`);
          d = await log();
        }
        assert.equal(d.state, 'delivered');
        assert.equal(d.last_status, 200);
        assert.equal(d.next_attempt_at, null);
        // base 30 s doubled, with equal jitter: at least half of 30 s, 60 s, 120 s
        assert.ok(gaps[0] !== undefined && gaps[0] >= 15_000 && gaps[0] <= 30_000, `gap 1 ${gaps[0]}`);
        assert.ok(gaps[1] !== undefined && gaps[1] >= 30_000 && gaps[1] <= 60_000, `gap 2 ${gaps[1]}`);
        assert.ok(gaps[2] !== undefined && gaps[2] >= 60_000 && gaps[2] <= 120_000, `gap 3 ${gaps[2]}`);
        server.clock.advance(HOUR);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(failing.got.length, 4, 'delivered once: nothing after the 2xx');
        assert.equal(new Set(failing.got.map((g) => g.headers['webhook-id'])).size, 1, 'one delivery id throughout');
        // a manual retry sends it again now
        const again = await ws.admin.post(`/v1/webhooks/${hook.id}/deliveries/${d.id}/retry`);
        assert.equal(again.status, 200, again.text);
        await until(() => failing.got.length === 5, 'the manual retry');
        await ws.admin.delete(`/v1/webhooks/${hook.id}`);
      } finally {
        await failing.close();
      }
    });

    test('retries stop after the retry window: failed', async () => {
      const down = await new Receiver().start();
      try {
        down.respond = () => 503;
        const hook = await endpoint(['conversation.created'], down.url);
        await ws.admin.post('/v1/conversations', { title: 'never' });
        const log = async () => (await ws.admin.get(`/v1/webhooks/${hook.id}/deliveries`)).body.data[0];
        await until(async () => (await log()).attempts === 1, 'the first outcome');
        server.clock.advance(25 * HOUR);
        await until(async () => (await log()).state === 'failed', 'failed after the window');
        assert.equal((await log()).attempts, 2);
        await ws.admin.delete(`/v1/webhooks/${hook.id}`);
      } finally {
        await down.close();
      }
    });

    test('secret rotation: both signatures during the overlap, the new one alone after it', async () => {
      const hook = await endpoint(['conversation.created']);
      const rot = await ws.admin.post(`/v1/webhooks/${hook.id}/rotate-secret`);
      assert.equal(rot.status, 200, rot.text);
      const fresh = rot.body.data.secret as string;
      assert.notEqual(fresh, hook.secret);
      assert.ok(rot.body.data.webhook.previous_secret_expires_at);
      await ws.admin.post('/v1/conversations', { title: 'rotated' });
      await until(async () => forEndpoint(await deliveryIds(hook.id)).length === 1, 'the delivery');
      const [g] = forEndpoint(await deliveryIds(hook.id));
      assert.ok(g);
      assert.equal(String(g.headers['webhook-signature']).split(' ').length, 2);
      const now = server.clock.now();
      await verifyWebhook(fresh, g.headers as never, g.body, { now });
      await verifyWebhook(hook.secret, g.headers as never, g.body, { now });
      // past the overlap the old secret no longer signs
      server.clock.advance(25 * HOUR);
      await ws.admin.post('/v1/conversations', { title: 'later' });
      await until(async () => forEndpoint(await deliveryIds(hook.id)).length === 2, 'the second delivery');
      const later = forEndpoint(await deliveryIds(hook.id)).find((x) => x !== g);
      assert.ok(later);
      assert.equal(String(later.headers['webhook-signature']).split(' ').length, 1);
      const at = server.clock.now();
      await verifyWebhook(fresh, later.headers as never, later.body, { now: at });
      await assert.rejects(verifyWebhook(hook.secret, later.headers as never, later.body, { now: at }));
      // and a stale timestamp is refused by the helper
      await assert.rejects(
        verifyWebhook(fresh, later.headers as never, later.body, { now: at + 3_600_000 }),
        /tolerance/,
      );
      await ws.admin.delete(`/v1/webhooks/${hook.id}`);
    });

    test('trash, restore, purge and native bulk delete are announced (trashed, restored, purged)', async () => {
      const other = await newWorkspace(server, 'trash-hooks');
      const r = await other.admin.post('/v1/webhooks', { url: rx.url, events: ['*'] });
      assert.equal(r.status, 201, r.text);
      const hook = { id: r.body.data.webhook.id as string, secret: r.body.data.secret as string };
      assert.equal((await other.admin.patch('/v1/workspace', { trash_days: 1 })).status, 200);
      const a = (await other.admin.post('/v1/conversations', { title: 'A' })).body.data.id;
      const b = (await other.admin.post('/v1/conversations', { title: 'B' })).body.data.id;
      assert.equal((await other.admin.delete(`/v1/conversations/${a}`)).status, 204);
      assert.equal((await other.admin.post(`/v1/conversations/${a}/restore`)).status, 200);
      const bulk = await other.admin.post('/v1/conversations/bulk-delete', { ids: [a, b] });
      assert.equal(bulk.status, 200, bulk.text);
      server.clock.advance(2 * 24 * HOUR);
      const purge = await other.admin.post('/v1/trash/purge', {});
      assert.equal(purge.status, 200, purge.text);
      const logIds = async () => {
        const d = await other.admin.get(`/v1/webhooks/${hook.id}/deliveries?limit=100`);
        return new Set<string>(d.body.data.map((x: { id: string }) => x.id));
      };
      await until(async () => forEndpoint(await logIds()).length === 8, 'eight deliveries');
      const events = [];
      for (const g of forEndpoint(await logIds())) {
        // some were sent before the clock moved two days: each is checked at its own send time
        const sentAt = Number(g.headers['webhook-timestamp']) * 1000;
        events.push(
          await verifyWebhook<{ type: string; data: any }>(hook.secret, g.headers as never, g.body, { now: sentAt }),
        );
      }
      const seen = events.map((e) => `${e.type} ${e.data.conversation.id === a ? 'A' : 'B'}`).sort();
      assert.deepEqual(seen, [
        'conversation.created A',
        'conversation.created B',
        'conversation.purged A',
        'conversation.purged B',
        'conversation.restored A',
        'conversation.trashed A',
        'conversation.trashed A',
        'conversation.trashed B',
      ]);
      const trashed = events.find((e) => e.type === 'conversation.trashed');
      assert.ok(trashed?.data.purge_at);
      assert.deepEqual(Object.keys(trashed?.data.counts ?? {}).sort(), ['messages', 'tool_invocations']);
    });

    test('an erase job announces user.erased and a retention run retention.ran, each to the endpoints that filter for it', async () => {
      const other = await newWorkspace(server, 'job-hooks');
      const make = async (events: string[]) => {
        const r = await other.admin.post('/v1/webhooks', { url: rx.url, events });
        assert.equal(r.status, 201, r.text);
        return { id: r.body.data.webhook.id as string, secret: r.body.data.secret as string };
      };
      const erasedOnly = await make(['user.erased']);
      const ranOnly = await make(['retention.ran']);
      const ids = async (id: string) => {
        const d = await other.admin.get(`/v1/webhooks/${id}/deliveries?limit=100`);
        assert.equal(d.status, 200, d.text);
        return new Set<string>(d.body.data.map((x: { id: string }) => x.id));
      };
      const c1 = (await other.admin.post('/v1/conversations', { user_id: 'ursula', title: 'secret title' })).body.data;
      const c2 = (await other.admin.post('/v1/conversations', { user_id: 'ursula' })).body.data;
      const erase = await other.admin.post('/v1/users/ursula/erase', {});
      assert.equal(erase.status, 202, erase.text);
      const put = await other.admin.request('PUT', '/v1/retention', {
        body: { default: { action: 'archive', inactive_days: 30 }, users: {}, bots: {} },
      });
      assert.equal(put.status, 200, put.text);
      const old = (await other.admin.post('/v1/conversations', { user_id: 'victor' })).body.data.id;
      server.clock.advance(31 * 24 * HOUR);
      const run = await other.admin.post('/v1/retention/run', {});
      assert.equal(run.status, 202, run.text);
      await until(async () => forEndpoint(await ids(erasedOnly.id)).length === 1, 'the user.erased delivery');
      await until(async () => forEndpoint(await ids(ranOnly.id)).length === 1, 'the retention.ran delivery');
      const [erasedGot] = forEndpoint(await ids(erasedOnly.id));
      const [ranGot] = forEndpoint(await ids(ranOnly.id));
      assert.ok(erasedGot && ranGot);
      const verify = (secret: string, g: typeof erasedGot) =>
        verifyWebhook<{ type: string; data: any }>(secret, g.headers as never, g.body, {
          now: Number(g.headers['webhook-timestamp']) * 1000,
        });
      const erased = await verify(erasedOnly.secret, erasedGot);
      assert.equal(erased.type, 'user.erased');
      assert.equal(erased.data.job_id, erase.body.data.id);
      assert.equal(erased.data.user_id, 'ursula');
      assert.deepEqual([...erased.data.conversation_ids].sort(), [c1.id, c2.id].sort());
      assert.equal(erased.data.counts.conversations, 2);
      assert.ok(!erasedGot.body.includes('secret title'), 'ids and counts, never content');
      const ran = await verify(ranOnly.secret, ranGot);
      assert.equal(ran.type, 'retention.ran');
      assert.equal(ran.data.job_id, run.body.data.id);
      assert.equal(ran.data.counts.archived, 1);
      assert.equal(ran.data.counts.deleted, 0);
      assert.equal((await other.admin.get(`/v1/conversations/${old}`)).body.data.archived, true);
      // the filters held: each endpoint got its one event type only
      assert.equal((await ids(erasedOnly.id)).size, 1);
      assert.equal((await ids(ranOnly.id)).size, 1);
    });

    test('the delivery log pages by cursor, newest first', async () => {
      const hook = await endpoint(['conversation.created']);
      for (let i = 0; i < 5; i++) await ws.admin.post('/v1/conversations', { title: `p${i}` });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor === null ? '?limit=2' : `?cursor=${encodeURIComponent(cursor)}`;
        const r = await ws.admin.get(`/v1/webhooks/${hook.id}/deliveries${q}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.data.length <= 2);
        for (const d of r.body.data) {
          assert.equal(d.event_type, 'conversation.created');
          seen.push(d.id);
        }
        cursor = r.body.meta.next_cursor;
      } while (cursor !== null);
      assert.equal(seen.length, 5);
      assert.deepEqual([...seen].sort().reverse(), seen, 'newest first, no repeats');
      await ws.admin.delete(`/v1/webhooks/${hook.id}`);
    });
  });

  describe(`webhooks address guard (${engine})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => {
      await server?.close();
    });

    test('loopback, private and link-local targets are refused without PARLEY_WEBHOOKS_ALLOW_PRIVATE', async () => {
      const ws = await newWorkspace(server, 'guard');
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://localhost:9/x',
        'https://10.1.2.3/x',
        'https://192.168.0.1/x',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]:9/x',
        'http://[::ffff:127.0.0.1]/x',
        'http://[fd00::1]/x',
      ]) {
        const r = await ws.admin.post('/v1/webhooks', { url, events: ['*'] });
        assert.equal(r.status, 400, `${url}: ${r.text}`);
        assert.equal(r.body.error.code, 'webhook_address_not_allowed', url);
      }
      const ok = await ws.admin.post('/v1/webhooks', { url: 'https://93.184.215.14/hook', events: ['*'] });
      assert.equal(ok.status, 201, ok.text);
      const patch = await ws.admin.patch(`/v1/webhooks/${ok.body.data.webhook.id}`, { url: 'http://127.0.0.1/x' });
      assert.equal(patch.status, 400);
      assert.equal(patch.body.error.code, 'webhook_address_not_allowed');
    });
  });
}
