import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, testEngines } from './helpers/harness.js';
import { freshPostgresDatabase } from './helpers/postgres.js';
import { bootstrapKey, type ParleyProcess, spawnParley } from './helpers/processes.js';

/**
 * Two Parley processes (the real CLI) on one PostgreSQL database and the machine's Redis, with a
 * key prefix of their own. Needs both servers: without them this fails, it never skips.
 */
const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// scale-out suite: runs when PARLEY_TEST_ENGINES includes postgres (CI), and then fails, never
// skips, if a server is missing
if (testEngines().includes('postgres'))
  describe('two instances on one PostgreSQL + Redis', () => {
    let db: { url: string; drop: () => Promise<void> };
    let a: ParleyProcess;
    let b: ParleyProcess;
    let adminA: Client;
    let adminB: Client;

    before(async () => {
      db = await freshPostgresDatabase();
      const env = {
        PARLEY_DATABASE_URL: db.url,
        PARLEY_REDIS_URL: REDIS_URL,
        PARLEY_REDIS_PREFIX: `parley-test-${randomBytes(6).toString('hex')}:`,
        // one long window, so a burst never straddles two windows
        PARLEY_RATE_LIMIT_WINDOW: '3600',
      };
      a = await spawnParley(env);
      b = await spawnParley({ ...env, PARLEY_BOOTSTRAP: 'false' });
      const instanceKey = bootstrapKey(a.output());
      const ws = await new Client(a.url, instanceKey).post('/v1/workspaces', { name: 'two' });
      assert.equal(ws.status, 201, ws.text);
      adminA = new Client(a.url, ws.body.data.secret);
      adminB = new Client(b.url, ws.body.data.secret);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
    });

    test('both report shared state in /readyz', async () => {
      for (const p of [a, b]) {
        const r = await new Client(p.url).get('/readyz');
        assert.equal(r.status, 200);
        assert.equal(r.body.engine, 'postgres');
        assert.equal(r.body.shared_state, 'redis');
      }
    });

    test("one key's limit is shared: admitted within limit + 2, the same Reset on both", async () => {
      const limit = 10;
      const k = await adminA.post('/v1/keys', { name: 'limited', scopes: ['read:ai'], rate_limit: limit });
      assert.equal(k.status, 201, k.text);
      const onA = new Client(a.url, k.body.data.secret);
      const onB = new Client(b.url, k.body.data.secret);
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? onA : onB).get('/v1/conversations')),
      );
      const admitted = replies.filter((r) => r.status === 200).length;
      const rejected = replies.filter((r) => r.status === 429);
      assert.equal(admitted + rejected.length, 30, 'only 200 or 429');
      assert.ok(admitted >= limit && admitted <= limit + 2, `admitted ${admitted}`);
      const resets = new Set(replies.map((r) => r.headers.get('x-ratelimit-reset')));
      assert.equal(resets.size, 1, `one Reset on both instances: ${[...resets].join(', ')}`);
      assert.ok(rejected.some((r) => r.headers.get('x-request-id') !== null));
    });

    test('an Idempotency-Key used on A replays on B', async () => {
      const headers = { 'idempotency-key': `k-${randomBytes(6).toString('hex')}` };
      const first = await adminA.post('/v1/conversations', { title: 'once' }, headers);
      assert.equal(first.status, 201);
      const again = await adminB.post('/v1/conversations', { title: 'once' }, headers);
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.body.data.id, first.body.data.id);
      const other = await adminB.post('/v1/conversations', { title: 'different' }, headers);
      assert.equal(other.status, 422);
      assert.equal(other.body.error.code, 'idempotency_key_reused');
    });

    test('20 concurrent identical keyed POSTs over both instances create exactly one', async () => {
      const key = `race-${randomBytes(6).toString('hex')}`;
      const title = `race ${key}`;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? adminA : adminB).post('/v1/conversations', { title }, { 'idempotency-key': key }),
        ),
      );
      for (const r of replies) assert.ok(r.status === 201 || r.status === 409, `${r.status} ${r.text}`);
      const ids = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.data.id));
      assert.equal(ids.size, 1, 'every success names the same conversation');
      const list = await adminA.get(`/v1/conversations?search=${encodeURIComponent(`"${title}"`)}&per_page=100`);
      assert.equal(list.body.data.filter((c: { title: string }) => c.title === title).length, 1);
    });

    test('deleted on A is 404 on B', async () => {
      const c = (await adminA.post('/v1/conversations', { messages: [{ role: 'user', content: 'bye' }] })).body.data;
      assert.equal((await adminB.get(`/v1/conversations/${c.id}`)).status, 200);
      assert.equal((await adminA.delete(`/v1/conversations/${c.id}`)).status, 204);
      const gone = await adminB.get(`/v1/conversations/${c.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, 'not_found');
      assert.equal(
        (await adminB.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'x' })).status,
        404,
      );
    });
  });
