import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type TestServer } from './helpers/harness.js';

// The request traffic SQLite's erase batches rest by (services/traffic.ts, EraseBatch.rest) is
// marked by the HTTP layer: a request's arrival and its answer, whatever the route or status.
describe('request traffic', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer('sqlite');
  });
  after(async () => {
    await server.close();
  });

  for (const [what, path, status] of [
    ['an answered request', '/healthz', 200],
    ['a refused request (no key)', '/v1/conversations', 401],
    ['an unknown route', '/v1/no-such-route', 404],
  ] as const) {
    test(`${what} marks the traffic`, async () => {
      await sleep(30);
      assert.ok(server.parley.traffic.idleMs() >= 25, 'no request was marked while none came');
      const t0 = performance.now();
      const res = await fetch(server.url + path);
      await res.arrayBuffer();
      assert.equal(res.status, status);
      // marked while the request was under way, so no longer ago than its start
      assert.ok(server.parley.traffic.idleMs() <= performance.now() - t0);
    });
  }
});
