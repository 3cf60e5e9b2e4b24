import { describe, test } from 'node:test';
import { eraseKillRound } from './helpers/erase-kill.js';
import { testEngines } from './helpers/harness.js';

/** Rounds per engine: each kills the server (SIGKILL) in the middle of an erase job. `test:slow` runs 17 more. */
const ROUNDS = Number(process.env.PARLEY_CRASH_ROUNDS ?? 3);

for (const engine of testEngines()) {
  describe(`erase survives kill -9 [${engine}]`, () => {
    for (let round = 1; round <= ROUNDS; round++) {
      test(`round ${round}: killed mid-job, the next start resumes; the receipt counts every conversation once`, () =>
        eraseKillRound(engine, round));
    }
  });
}
