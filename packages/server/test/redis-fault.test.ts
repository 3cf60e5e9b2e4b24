import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { freePort, sleep } from './helpers/processes.js';

/**
 * Redis killed (SIGKILL) and frozen (SIGSTOP) under load, on a redis-server this test starts on
 * a port of its own (the machine's Redis is never touched): no 5xx, rate-limit headers on every
 * answer, /readyz and /metrics say "fallback", and shared counting resumes by itself.
 */
// scale-out suite: runs when PARLEY_TEST_ENGINES includes postgres (CI), and then fails, never
// skips, if a server is missing
if (testEngines().includes('postgres'))
  describe('Redis faults', () => {
    let port: number;
    let redisProc: ChildProcess;
    let server: TestServer;
    let api: Client;
    let keyId: string;
    const prefix = 'fault:';

    async function startRedis(): Promise<void> {
      redisProc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 100; i++) {
        const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          await probe.ping();
          probe.disconnect();
          return;
        } catch {
          probe.disconnect();
          await sleep(50);
        }
      }
      throw new Error(`redis-server did not start on port ${port}`);
    }

    /** The shared count of our key in the current window, read straight from Redis. */
    async function sharedCount(): Promise<number> {
      const r = new Redis({ port, host: '127.0.0.1' });
      try {
        const keys = await r.keys(`${prefix}rl:{key:${keyId}}:*`);
        let n = 0;
        for (const k of keys) n += Number((await r.get(k)) ?? 0);
        return n;
      } finally {
        r.disconnect();
      }
    }

    async function sharedState(): Promise<string> {
      const r = await api.with(undefined).get('/readyz');
      assert.equal(r.status, 200, r.text);
      return r.body.shared_state;
    }

    /** Requests from 4 workers until `stop` resolves; every answer checked. */
    async function load(stop: Promise<void>): Promise<number> {
      let done = false;
      void stop.then(() => {
        done = true;
      });
      let count = 0;
      const worker = async () => {
        while (!done) {
          const r = await api.get('/v1/conversations?per_page=1');
          assert.ok(r.status < 500, `status ${r.status}: ${r.text}`);
          assert.equal(r.status, 200);
          for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id']) {
            assert.ok(r.headers.get(h), `${h} missing`);
          }
          count++;
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return count;
    }

    async function waitForState(want: string, withinMs: number): Promise<void> {
      const deadline = Date.now() + withinMs;
      for (;;) {
        if ((await sharedState()) === want) return;
        assert.ok(Date.now() < deadline, `shared_state did not become ${want} within ${withinMs} ms`);
        await sleep(100);
      }
    }

    before(async () => {
      port = await freePort();
      await startRedis();
      server = await startServer('sqlite', {
        redis: { url: `redis://127.0.0.1:${port}`, prefix },
        limits: { windowSeconds: 3600 },
      });
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai'], { rate_limit: 1_000_000 });
      api = k.client;
      keyId = k.id;
    });
    after(async () => {
      await server?.close();
      if (redisProc && redisProc.exitCode === null) {
        redisProc.kill('SIGCONT');
        redisProc.kill('SIGKILL');
      }
    });

    test('with Redis up, counts are shared (kept in Redis)', async () => {
      assert.equal(await sharedState(), 'redis');
      for (let i = 0; i < 5; i++) assert.equal((await api.get('/v1/conversations')).status, 200);
      assert.equal(await sharedCount(), 5);
      const metrics = await api.with(undefined).get('/metrics');
      assert.match(metrics.text, /^parley_shared_state_up 1$/m);
    });

    test('SIGKILL mid-load: no 5xx, headers present, fallback reported; shared again after restart', async () => {
      const n = await load(
        (async () => {
          await sleep(300);
          redisProc.kill('SIGKILL');
          await sleep(1000);
        })(),
      );
      assert.ok(n > 0);
      assert.equal(await sharedState(), 'fallback');
      assert.match((await api.with(undefined).get('/metrics')).text, /^parley_shared_state_up 0$/m);
      await startRedis();
      await waitForState('redis', 10_000);
      for (let i = 0; i < 3; i++) assert.equal((await api.get('/v1/conversations')).status, 200);
      assert.equal(await sharedCount(), 3, 'the fresh Redis holds the count again');
    });

    test('SIGSTOP mid-load: no 5xx, no waiting on Redis, fallback; shared again after SIGCONT', async () => {
      const before = await sharedCount();
      const n = await load(
        (async () => {
          await sleep(300);
          redisProc.kill('SIGSTOP');
          await sleep(1500);
        })(),
      );
      assert.ok(n > 0);
      assert.equal(await sharedState(), 'fallback');
      redisProc.kill('SIGCONT');
      await waitForState('redis', 10_000);
      const resumed = await sharedCount();
      for (let i = 0; i < 3; i++) assert.equal((await api.get('/v1/conversations')).status, 200);
      assert.equal(await sharedCount(), resumed + 3, 'counting in Redis again');
      assert.ok(resumed >= before);
    });
  });
