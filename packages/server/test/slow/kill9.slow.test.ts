import assert from 'node:assert/strict';
import { test } from 'node:test';
import { killRounds } from '../helpers/kill-rounds.js';

/** 18 kill -9 rounds (with the 2 of kill9.fault.test.ts, 20) under a mixed writer on SQLite. */
test('kill -9 under a mixed writer, 18 rounds', { timeout: 900_000 }, async () => {
  const stats = await killRounds(18, (s) => console.log(`# kill -9 ${s}`));
  console.log(`# kill -9: ${JSON.stringify(stats)}`);
  assert.equal(stats.rounds, 18);
  assert.ok(stats.deletes > 0 && stats.appends > 0 && stats.creates > 0, 'every kind of write was acknowledged');
  // over 18 rounds some requests are always in flight at the kill
  assert.ok(stats.retried > 0, 'requests were in flight at a kill and retried with their key');
});
