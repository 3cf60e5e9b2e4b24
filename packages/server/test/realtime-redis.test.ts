import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { eventually, LiveSocket } from './helpers/live.js';
import { type ChildServer, startChildServer, startRedis, type TestRedis } from './helpers/redis.js';

/**
 * Two instances in two processes on one database (one SQLite file, or one PostgreSQL database)
 * sharing a Redis this test starts itself: fan-out, presence, forced delete and tokens across them.
 */
for (const engine of testEngines()) {
  describe(`realtime across instances through Redis [${engine}]`, () => {
    let redis: TestRedis;
    let a: TestServer;
    let b: ChildServer;
    let apiA: Client;
    let apiB: Client;
    let key: string;

    before(async () => {
      redis = await startRedis();
      a = await startServer(engine, { redis: { url: redis.url } });
      b = await startChildServer({
        PARLEY_DATABASE_URL: a.parley.config.database.url,
        PARLEY_REDIS_URL: redis.url,
        PARLEY_PRESENCE_LEASE_SECONDS: '5',
      });
      const k = await (await newWorkspace(a)).key(['read:ai', 'write:ai']);
      key = k.secret;
      apiA = k.client;
      apiB = new Client(b.url, key);
    });
    after(async () => {
      await b?.kill();
      await a?.close();
      await redis?.stop();
    });

    const bearer = () => ({ headers: { authorization: `Bearer ${key}` } });
    const stream = (base: string, id: string, q = '') => `${base}/v1/conversations/${id}/stream${q}`;

    test('written on B, received on A; presence counted on B; a delete on B closes A’s socket', async () => {
      const id = (await apiA.post('/v1/conversations', { title: 'x' })).body.data.id as string;
      const s = await LiveSocket.ready(stream(a.url, id), bearer());
      await apiB.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'from B' });
      const got = await s.waitForEvents(1);
      assert.equal(got[0]?.data.content, 'from B');
      assert.equal((await apiB.get(`/v1/conversations/${id}`)).body.data.live_connections, 1);
      const busy = await apiB.delete(`/v1/conversations/${id}?if_idle=true`);
      assert.equal(busy.status, 409);
      assert.equal(busy.body.error.live_connections, 1);
      // a stream token minted on B opens a stream on A (one secret, kept in the database)
      const token = (await apiB.post(`/v1/conversations/${id}/stream-tokens`, {})).body.data.token;
      const t = await LiveSocket.ready(stream(a.url, id, `?token=${token}`));
      assert.equal((await apiB.get(`/v1/conversations/${id}`)).body.data.live_connections, 2);
      assert.equal((await apiB.delete(`/v1/conversations/${id}`)).status, 204);
      for (const sock of [s, t]) assert.equal((await sock.closed).code, 4410);
      assert.equal((await apiA.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await apiA.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'x' })).status, 404);
    });

    test('ghost presence: B is SIGKILLed holding a socket; DELETE ?if_idle=true on A is 409 until the lease runs out, then 204', async () => {
      const id = (await apiA.post('/v1/conversations', { title: 'ghost' })).body.data.id as string;
      const s = await LiveSocket.ready(stream(b.url, id), bearer());
      assert.equal((await apiA.get(`/v1/conversations/${id}`)).body.data.live_connections, 1);
      await b.kill('SIGKILL');
      await s.closed;
      assert.equal((await apiA.delete(`/v1/conversations/${id}?if_idle=true`)).status, 409, 'the lease still holds');
      // the lease is 5 s here; poll (bounded) until it has expired
      const status = await eventually(
        async () => (await apiA.delete(`/v1/conversations/${id}?if_idle=true`)).status,
        204,
        400,
      );
      assert.equal(status, 204);
      assert.equal((await apiA.get(`/v1/conversations/${id}`)).status, 404);
    });

    test('one Redis plan: /readyz and /metrics report presence in Redis and the live streams of each instance', async () => {
      const id = (await apiA.post('/v1/conversations', { title: 'ops' })).body.data.id as string;
      const s = await LiveSocket.ready(stream(a.url, id), bearer());
      const ready = await apiA.with(undefined).get('/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.presence, 'redis');
      assert.equal(ready.body.fanout, 'redis');
      assert.equal(ready.body.shared_state, 'redis');
      assert.equal(ready.body.live_streams, 1);
      const metrics = (await apiA.with(undefined).get('/metrics')).text;
      assert.match(metrics, /^parley_live_streams 1$/m);
      assert.match(metrics, /^parley_presence_up 1$/m);
      s.close();
      await s.closed;
      assert.equal(await eventually(async () => (await apiA.with(undefined).get('/readyz')).body.live_streams, 0), 0);
      // the rate limiter, presence and PUBLISH share one command connection; pub/sub has its own.
      // B was SIGKILLed by the ghost test, so A's are the only connections left besides this probe.
      const probe = new Redis(redis.url);
      try {
        const me = await probe.client('ID');
        const others = String(await probe.client('LIST'))
          .split('\n')
          .filter((l) => l.startsWith('id=') && !l.startsWith(`id=${me} `));
        assert.equal(others.length, 2, others.join('\n'));
        assert.equal(others.filter((l) => /\bsub=1\b/.test(l)).length, 1, 'one subscriber connection');
      } finally {
        probe.disconnect();
      }
    });

    test('Redis gone: DELETE ?if_idle=true answers 503 (never a blind 204), GET shows live_connections null', async () => {
      const id = (await apiA.post('/v1/conversations', { title: 'no redis' })).body.data.id as string;
      await redis.kill();
      const r = await apiA.delete(`/v1/conversations/${id}?if_idle=true`);
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'service_unavailable');
      assert.ok(r.headers.get('retry-after'));
      const g = await apiA.get(`/v1/conversations/${id}`);
      assert.equal(g.status, 200);
      assert.equal(g.body.data.live_connections, null);
      const refused = await LiveSocket.open(stream(a.url, id), bearer());
      assert.equal((await refused.closed).code, 1013, 'a stream cannot attach without presence');
      // still ready (the database answers), with the fallback stated
      const ready = await apiA.with(undefined).get('/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.presence, 'unavailable');
      assert.equal(ready.body.shared_state, 'fallback');
      assert.match((await apiA.with(undefined).get('/metrics')).text, /^parley_presence_up 0$/m);
      // a plain DELETE does not ask about presence: it deletes without Redis
      assert.equal((await apiA.delete(`/v1/conversations/${id}`)).status, 204);
      assert.equal((await apiA.get(`/v1/conversations/${id}`)).status, 404);
    });
  });
}
