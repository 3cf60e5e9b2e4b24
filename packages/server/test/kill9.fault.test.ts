import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testEngines } from './helpers/harness.js';
import { lifecycleKillRounds } from './helpers/kill-lifecycle.js';
import { killRounds } from './helpers/kill-rounds.js';

/**
 * A small sample of kill -9 rounds on each engine: under a mixed writer (helpers/kill-rounds.ts),
 * during a bulk delete and during a purge (helpers/kill-lifecycle.ts). `npm run test:slow` runs
 * 18 more of each (test/slow/kill9-writer.slow.test.ts, kill9-lifecycle.slow.test.ts).
 */
for (const engine of testEngines()) {
  describe(`kill -9 [${engine}]`, () => {
    test('under a mixed writer, 2 rounds: nothing acknowledged lost, lost answers land once on retry', {
      timeout: 480_000,
    }, async () => {
      const stats = await killRounds(2, engine, (s) => console.log(`# kill -9 ${engine} ${s}`));
      console.log(`# kill -9 ${engine}: ${JSON.stringify(stats)}`);
      assert.equal(stats.rounds, 2);
      assert.ok(stats.creates + stats.appends > 0, 'the writer made acknowledged writes before the kill');
      // group commit is on by default on SQLite (off on PostgreSQL): the kills landed among grouped writes
      if (engine === 'sqlite') assert.ok(stats.grouped > 0, 'writes were group-committed before the kills');
    });

    for (const kind of ['bulk-delete', 'purge'] as const) {
      test(`during a ${kind}, 2 rounds: every conversation complete or gone, the sweep finishes, audit counts right`, {
        timeout: 480_000,
      }, async () => {
        const stats = await lifecycleKillRounds(kind, 2, engine, (s) => console.log(`# kill -9 ${engine} ${s}`));
        console.log(`# kill -9 ${engine} ${kind}: ${JSON.stringify(stats)}`);
        assert.equal(stats.rounds, 2);
      });
    }
  });
}
