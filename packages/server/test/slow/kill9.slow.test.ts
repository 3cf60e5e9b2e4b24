import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testEngines } from '../helpers/harness.js';
import { lifecycleKillRounds } from '../helpers/kill-lifecycle.js';
import { killRounds } from '../helpers/kill-rounds.js';

/** 18 more kill -9 rounds of each kind (with the 2 of kill9.fault.test.ts, 20) on each engine. */
for (const engine of testEngines()) {
  describe(`kill -9, 18 rounds [${engine}]`, () => {
    test('under a mixed writer', { timeout: 1_200_000 }, async () => {
      const stats = await killRounds(18, engine, (s) => console.log(`# kill -9 ${engine} ${s}`));
      console.log(`# kill -9 ${engine}: ${JSON.stringify(stats)}`);
      assert.equal(stats.rounds, 18);
      assert.ok(stats.deletes > 0 && stats.appends > 0 && stats.creates > 0, 'every kind of write was acknowledged');
      // over 18 rounds some requests are always in flight at the kill
      assert.ok(stats.retried > 0, 'requests were in flight at a kill and retried with their key');
    });

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
