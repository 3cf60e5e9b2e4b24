import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testEngines } from '../helpers/harness.js';
import { killRounds } from '../helpers/kill-rounds.js';

/**
 * 18 more kill -9 rounds under a mixed writer (with the 2 of kill9.fault.test.ts, 20) on each engine;
 * the engines side by side (each its own server and database).
 */
describe('kill -9 under a mixed writer, 18 rounds', { concurrency: true }, () => {
  for (const engine of testEngines()) {
    test(`[${engine}] every acknowledged write survives, every retried request lands once`, {
      timeout: 1_200_000,
    }, async () => {
      const stats = await killRounds(18, engine, (s) => console.log(`# kill -9 ${engine} ${s}`));
      console.log(`# kill -9 ${engine}: ${JSON.stringify(stats)}`);
      assert.equal(stats.rounds, 18);
      assert.ok(stats.deletes > 0 && stats.appends > 0 && stats.creates > 0, 'every kind of write was acknowledged');
      // over 18 rounds some requests are always in flight at the kill
      assert.ok(stats.retried > 0, 'requests were in flight at a kill and retried with their key');
    });
  }
});
