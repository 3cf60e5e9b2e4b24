import assert from 'node:assert/strict';
import { test } from 'node:test';
import { killRounds } from './helpers/kill-rounds.js';

/**
 * A small sample of kill -9 rounds under a mixed writer (SQLite); `npm run test:slow` runs 18 more
 * (test/slow/kill9.slow.test.ts). What each round checks is in helpers/kill-rounds.ts.
 */
test('kill -9 under a mixed writer, 2 rounds: nothing acknowledged lost, lost answers land once on retry', {
  timeout: 180_000,
}, async () => {
  const stats = await killRounds(2, (s) => console.log(`# kill -9 ${s}`));
  console.log(`# kill -9: ${JSON.stringify(stats)}`);
  assert.equal(stats.rounds, 2);
  assert.ok(stats.creates + stats.appends > 0, 'the writer made acknowledged writes before the kill');
  assert.ok(stats.grouped > 0, 'writes were group-committed (commits of several writes) before the kills');
});
