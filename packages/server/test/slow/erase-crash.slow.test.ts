import { describe, test } from 'node:test';
import { eraseKillRound } from '../helpers/erase-kill.js';
import { testEngines } from '../helpers/harness.js';

/** 17 more kill -9 rounds during an erase job (with the 3 of erase-crash.fault.test.ts, 20) on each engine. */
for (const engine of testEngines()) {
  describe(`erase survives kill -9, 17 more rounds [${engine}]`, () => {
    for (let round = 4; round <= 20; round++) {
      test(`round ${round}: killed mid-job, the next start resumes; the receipt counts every conversation once`, () =>
        eraseKillRound(engine, round));
    }
  });
}
