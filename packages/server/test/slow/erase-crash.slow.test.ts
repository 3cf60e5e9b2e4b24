import { describe, test } from 'node:test';
import { eraseKillRound } from '../helpers/erase-kill.js';
import { testEngines } from '../helpers/harness.js';

/**
 * 17 more kill -9 rounds during an erase job (with the 3 of erase-crash.fault.test.ts, 20) on each
 * engine; the engines side by side (each its own server and database), each engine's rounds in order.
 */
describe('erase survives kill -9, 17 more rounds', { concurrency: true }, () => {
  for (const engine of testEngines()) {
    describe(`[${engine}]`, { concurrency: false }, () => {
      for (let round = 4; round <= 20; round++) {
        // a round is ~5 s on a quiet machine, over 100 s at a load average of 20 and more
        test(
          `round ${round}: killed mid-job, the next start resumes; the receipt counts every conversation once`,
          {
            timeout: 600_000,
          },
          () => eraseKillRound(engine, round),
        );
      }
    });
  }
});
