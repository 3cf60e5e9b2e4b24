import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Parley } from '../../sdk/src/index.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';
import { placeHold } from './helpers/holds.js';
import { waitForJob } from './helpers/jobs.js';

const DAY = 86_400_000;

for (const engine of testEngines()) {
  describe(`retention [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let other: TestWorkspace;

    before(async () => {
      server = await startServer(engine, { jobs: { batchSize: 3, retentionIntervalMs: 0 } });
      ws = await newWorkspace(server, 'r');
      other = await newWorkspace(server, 'other');
    });
    after(async () => server.close());

    const make = async (w: TestWorkspace, body: Record<string, unknown>) => {
      const r = await w.admin.post('/v1/conversations', { title: 'x', ...body });
      assert.equal(r.status, 201, r.text);
      return r.body.data.id as string;
    };

    test('policy: GET empty, PUT, GET; admin only; an empty policy removes it', async () => {
      const empty = await ws.admin.get('/v1/retention');
      assert.deepEqual(empty.body.data, { default: null, users: {}, bots: {}, updated_at: null });
      const policy = {
        default: { action: 'archive', inactive_days: 30 },
        users: { vip: { action: 'archive', inactive_days: 365 } },
        bots: { 'sales-bot': { action: 'delete', inactive_days: 10 } },
      };
      const put = await ws.admin.request('PUT', '/v1/retention', { body: policy });
      assert.equal(put.status, 200, put.text);
      const got = await ws.admin.get('/v1/retention');
      assert.deepEqual({ ...got.body.data, updated_at: null }, { ...policy, updated_at: null });
      const writer = await ws.key(['read:ai', 'write:ai']);
      assert.equal((await writer.client.get('/v1/retention')).status, 403);
      const bad = await ws.admin.request('PUT', '/v1/retention', {
        body: { default: { action: 'shred', inactive_days: 1 }, users: {}, bots: {} },
      });
      assert.equal(bad.status, 400);
      // the other workspace has none
      assert.equal((await other.admin.get('/v1/retention')).body.data.default, null);
      const audit = await ws.admin.get('/v1/audit-events?action=retention.updated');
      assert.equal(audit.body.data.length, 1);
    });

    test('dry run = real run: overrides, archive vs delete, held skipped, moved clock', async () => {
      const oldPlain = [await make(ws, {}), await make(ws, {}), await make(ws, {})];
      const oldSales = [await make(ws, { bot_id: 'sales-bot' }), await make(ws, { bot_id: 'sales-bot' })];
      const oldVip = await make(ws, { user_id: 'vip', bot_id: 'sales-bot' });
      const heldSales = await make(ws, { bot_id: 'sales-bot', context: { matter_id: 'm-1' } });
      const foreign = await make(other, { bot_id: 'sales-bot' });
      await placeHold(ws, 'matter_id', 'm-1');
      server.clock.advance(20 * DAY);
      const fresh = await make(ws, { bot_id: 'sales-bot' });
      const freshPlain = await make(ws, {});
      // day 20: sales-bot's 10-day delete applies to the old ones; the 30-day archive not yet
      const dry = await ws.admin.post('/v1/retention/run?dry_run=true', {});
      assert.equal(dry.status, 200, dry.text);
      assert.deepEqual(
        { ...dry.body.data.counts, scanned: 0 },
        { scanned: 0, deleted: 2, archived: 0, held: 1 },
        JSON.stringify(dry.body.data),
      );
      assert.deepEqual([...dry.body.data.sample.delete].sort(), [...oldSales].sort());
      assert.deepEqual(dry.body.data.sample.held, [heldSales]);
      // the dry run changed nothing
      for (const id of oldSales) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 200);
      const run = await ws.admin.post('/v1/retention/run', {});
      assert.equal(run.status, 202, run.text);
      const done = await waitForJob(ws.admin, run.body.data.id);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.deepEqual(done.result.counts, dry.body.data.counts, 'the real run did what the dry run said');
      for (const id of oldSales) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await ws.admin.get(`/v1/conversations/${heldSales}`)).status, 200, 'held: kept');
      assert.equal((await ws.admin.get(`/v1/conversations/${oldVip}`)).status, 200, "the user's rule wins");
      assert.equal((await ws.admin.get(`/v1/conversations/${fresh}`)).status, 200);
      assert.equal((await other.admin.get(`/v1/conversations/${foreign}`)).status, 200, 'other workspace untouched');

      // day 40: the default archives the plain old ones (not the fresh one), vip keeps its 365 days
      server.clock.advance(20 * DAY);
      const dry2 = await ws.admin.post('/v1/retention/run?dry_run=true', {});
      const run2 = await ws.admin.post('/v1/retention/run', {});
      const done2 = await waitForJob(ws.admin, run2.body.data.id);
      assert.deepEqual(done2.result.counts, dry2.body.data.counts);
      assert.equal(done2.result.counts.archived, 3);
      for (const id of oldPlain) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).body.data.archived, true);
      assert.equal((await ws.admin.get(`/v1/conversations/${freshPlain}`)).body.data.archived, false);
      assert.equal((await ws.admin.get(`/v1/conversations/${oldVip}`)).body.data.archived, false);
      // archived ones are not archived again
      const dry3 = await ws.admin.post('/v1/retention/run?dry_run=true', {});
      assert.equal(dry3.body.data.counts.archived, 0);
      const audit = await ws.admin.get('/v1/audit-events?action=retention.ran');
      assert.equal(audit.body.data.length, 2);
      assert.deepEqual(audit.body.data[0].counts, done2.result.counts);
    });

    test('dry run of a draft policy: what it would do, nothing saved; a real run refuses a draft', async () => {
      const w = await newWorkspace(server, 'draft');
      const saved = { default: { action: 'archive', inactive_days: 300 }, users: {}, bots: {} };
      assert.equal((await w.admin.request('PUT', '/v1/retention', { body: saved })).status, 200);
      const oldBot = await make(w, { bot_id: 'legacy' });
      const oldUser = await make(w, { user_id: 'gone', bot_id: 'legacy' });
      server.clock.advance(10 * DAY);
      const draft = {
        default: null,
        users: { gone: { action: 'archive' as const, inactive_days: 5 } },
        bots: { legacy: { action: 'delete' as const, inactive_days: 5 } },
      };
      const dry = await w.admin.post('/v1/retention/run?dry_run=true', { policy: draft });
      assert.equal(dry.status, 200, dry.text);
      assert.deepEqual(dry.body.data.counts, { scanned: 2, deleted: 1, archived: 1, held: 0 });
      assert.deepEqual(dry.body.data.sample, { delete: [oldBot], archive: [oldUser], held: [] });
      // the saved policy (300 days) would do nothing, and it is still the one saved
      const savedDry = await w.admin.post('/v1/retention/run?dry_run=true', {});
      assert.deepEqual({ ...savedDry.body.data.counts, scanned: 0 }, { scanned: 0, deleted: 0, archived: 0, held: 0 });
      const got = await w.admin.get('/v1/retention');
      assert.deepEqual({ ...got.body.data, updated_at: null }, { ...saved, updated_at: null });
      // an empty draft (no rule) would do nothing; a bad one is refused like PUT refuses it
      const none = await w.admin.post('/v1/retention/run?dry_run=true', {
        policy: { default: null, users: {}, bots: {} },
      });
      assert.equal(none.status, 200, none.text);
      assert.equal(none.body.data.counts.deleted + none.body.data.counts.archived, 0);
      const bad = await w.admin.post('/v1/retention/run?dry_run=true', {
        policy: { default: { action: 'delete', inactive_days: 0 }, users: {}, bots: {} },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
      const real = await w.admin.post('/v1/retention/run', { policy: draft });
      assert.equal(real.status, 400, real.text);
      assert.equal(real.body.error.code, 'validation_failed');
      assert.equal((await w.admin.get(`/v1/conversations/${oldBot}`)).status, 200);
      // the SDK sends the draft
      const sdk = new Parley({ baseUrl: server.url, apiKey: w.admin.key ?? '' });
      const viaSdk = await sdk.retention.run({ dryRun: true, policy: draft });
      assert.ok('dry_run' in viaSdk && viaSdk.counts.deleted === 1);
    });

    test('SDK: retention.get/put/run, users.erase, jobs.get/list/wait', async () => {
      const secret = (await ws.key(['admin'])).secret;
      const sdk = new Parley({ baseUrl: server.url, apiKey: secret });
      const put = await sdk.retention.put({ default: { action: 'archive', inactive_days: 90 }, users: {}, bots: {} });
      assert.equal(put.default?.inactive_days, 90);
      assert.equal((await sdk.retention.get()).default?.action, 'archive');
      const dry = await sdk.retention.run({ dryRun: true });
      assert.ok('dry_run' in dry && dry.dry_run === true);
      const queued = await sdk.retention.run();
      assert.ok('kind' in queued && queued.kind === 'retention.run');
      assert.equal((await sdk.jobs.wait(queued.id, { intervalMs: 20 })).state, 'succeeded');
      await make(ws, { user_id: 'sdk-user' });
      const job = await sdk.users.erase('sdk-user');
      const done = await sdk.jobs.wait(job.id, { intervalMs: 20 });
      assert.equal(done.state, 'succeeded');
      assert.equal((done.result as { receipt: { counts: { conversations: number } } }).receipt.counts.conversations, 1);
      assert.equal((await sdk.jobs.get(job.id)).id, job.id);
      const ids: string[] = [];
      for await (const j of sdk.jobs.list({ kind: 'user.erase', limit: 1 })) ids.push(j.id);
      assert.ok(ids.includes(job.id));
    });

    test('the scheduler queues a run for each workspace with a policy, one lease holder at a time', async () => {
      const { scheduleRetention } = await import('../src/services/retention.js');
      const deps = { store: server.parley.store, clock: server.clock };
      const first = await scheduleRetention(deps, server.parley.retention, 'instance-a', 60_000);
      assert.ok(first >= 1);
      assert.equal(
        await scheduleRetention(deps, server.parley.retention, 'instance-b', 60_000),
        0,
        'the lease is held',
      );
      server.clock.advance(61_000);
      assert.ok(
        (await scheduleRetention(deps, server.parley.retention, 'instance-b', 60_000)) >= 1,
        'expired: taken over',
      );
      const jobs = await ws.admin.get('/v1/jobs?kind=retention.run');
      for (const j of jobs.body.data) await waitForJob(ws.admin, j.id);
    });
  });
}
