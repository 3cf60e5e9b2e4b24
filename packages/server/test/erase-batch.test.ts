import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERASE_BUDGET_MS, EraseBatch, PG_ERASE_BUDGET_MS, QUIET_MS, WALL_STRETCH } from '../src/services/erase.js';
import { Traffic } from '../src/services/traffic.js';

// EraseBatch's sizing rule, fed figures directly (no clock, no database): on SQLite a transaction
// is judged by the CPU its thread spent in it, on PostgreSQL by its wall time.

describe('EraseBatch sizing', () => {
  test('SQLite: a transaction long in wall time but cheap in CPU (a loaded machine) does not shrink the batch', () => {
    const b = new EraseBatch(ERASE_BUDGET_MS, true);
    const first = b.size;
    b.took(ERASE_BUDGET_MS * 3, first, ERASE_BUDGET_MS / 4);
    assert.equal(b.size, first * 2);
  });

  test('SQLite: a transaction over the budget in CPU halves the batch, whatever its wall time', () => {
    const b = new EraseBatch(ERASE_BUDGET_MS, true);
    const first = b.size;
    b.took(ERASE_BUDGET_MS / 4, first, ERASE_BUDGET_MS * 2);
    assert.equal(b.size, first / 2);
  });

  test('SQLite: a wall time far past the budget (I/O waits) halves the batch even when the CPU was small', () => {
    const b = new EraseBatch(ERASE_BUDGET_MS, true);
    const first = b.size;
    b.took(ERASE_BUDGET_MS * WALL_STRETCH * 2, first, 1);
    assert.equal(b.size, first / 2);
  });

  test('SQLite without a CPU figure falls back to wall time', () => {
    const b = new EraseBatch(ERASE_BUDGET_MS, true);
    const first = b.size;
    b.took(ERASE_BUDGET_MS * 2, first);
    assert.equal(b.size, first / 2);
  });

  test('PostgreSQL: wall time decides (the work is in the database server)', () => {
    const b = new EraseBatch(PG_ERASE_BUDGET_MS, false);
    const first = b.size;
    b.took(PG_ERASE_BUDGET_MS * 2, first, 1);
    assert.equal(b.size, first / 2);
  });

  test('begin/end measure the transaction and return its wall time', () => {
    const b = new EraseBatch(ERASE_BUDGET_MS, true);
    b.begin();
    const held = b.end(b.size);
    assert.ok(held >= 0 && Number.isFinite(held));
  });
});

// EraseBatch.rest on SQLite: the eraser rests while requests are being served, and no longer. No
// assertion here depends on how fast timers fire (a loaded machine stalls them): the rest is followed
// look by look, and its only clock bound is a lower one.
describe('EraseBatch rest', () => {
  /** A Traffic whose idleness the test sets, counting the rest's looks at it. */
  class FakeTraffic extends Traffic {
    busy = true;
    looked = 0;
    private readonly waiting: Array<{ n: number; go: () => void }> = [];
    override idleMs(): number {
      this.looked++;
      for (const w of this.waiting.filter((x) => x.n <= this.looked)) w.go();
      return this.busy ? 0 : QUIET_MS;
    }
    lookedAtLeast(n: number): Promise<void> {
      return new Promise((go) => {
        if (this.looked >= n) go();
        else this.waiting.push({ n, go });
      });
    }
  }

  test('SQLite: rests while requests keep coming, and ends at its first look once they pause', {
    timeout: 20_000,
  }, async () => {
    const traffic = new FakeTraffic();
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    const cap = 1000;
    const t0 = performance.now();
    let ended = false;
    const rest = b.rest(cap).then(() => {
      ended = true;
    });
    await traffic.lookedAtLeast(3);
    // three looks at busy traffic: only the hold running out could have ended it
    assert.ok(!ended || performance.now() - t0 >= cap, 'the rest ended while requests were still coming');
    const looks = traffic.looked;
    traffic.busy = false;
    await rest;
    assert.equal(traffic.looked, looks + 1, 'the rest went on after the traffic paused');
  });

  test('SQLite: traffic that never pauses still leaves the eraser its turn once the hold is up, not before', async () => {
    const traffic = new FakeTraffic();
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    const t0 = performance.now();
    await b.rest(40);
    assert.ok(performance.now() - t0 >= 39, 'the rest ended before the hold was up');
    assert.ok(traffic.looked >= 1);
  });

  test('SQLite with no traffic at all: a single look after one timer, then the next transaction', async () => {
    const traffic = new FakeTraffic();
    traffic.busy = false;
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    await b.rest(1000);
    assert.equal(traffic.looked, 1);
  });
});
