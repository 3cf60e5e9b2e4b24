import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testEngines } from '../helpers/harness.js';
import { lifecycleKillRounds } from '../helpers/kill-lifecycle.js';

/**
 * 18 more kill -9 rounds during a bulk delete and during a purge (with kill9.fault.test.ts's 2, 20)
 * on each engine; the engines side by side (each its own server and database), each engine's two
 * kinds in order.
 */
describe('kill -9 during erasure, 18 rounds', { concurrency: true }, () => {
  for (const engine of testEngines()) {
    describe(`[${engine}]`, { concurrency: false }, () => {
      for (const kind of ['bulk-delete', 'purge'] as const) {
        test(`during a ${kind}`, { timeout: 1_200_000 }, async () => {
          const stats = await lifecycleKillRounds(kind, 18, engine, (s) => console.log(`# kill -9 ${engine} ${s}`));
          console.log(`# kill -9 ${engine} ${kind}: ${JSON.stringify(stats)}`);
          assert.equal(stats.rounds, 18);
          // over 18 rounds the kill lands mid-erase at least once
          assert.ok(stats.killedMidErase > 0, 'a kill came while rows were being erased');
        });
      }
    });
  }
});
