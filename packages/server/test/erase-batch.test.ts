import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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

// EraseBatch.rest on SQLite: the eraser rests while requests are being served, and no longer
describe('EraseBatch rest', () => {
  /** A Traffic whose idleness the test sets. */
  class FakeTraffic extends Traffic {
    busy = true;
    looked = 0;
    override idleMs(): number {
      this.looked++;
      return this.busy ? 0 : QUIET_MS;
    }
  }

  test('SQLite: rests while requests keep coming, and ends once they pause, long before the hold', async () => {
    const traffic = new FakeTraffic();
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    let ended = false;
    const t0 = performance.now();
    const rest = b.rest(1000).then(() => {
      ended = true;
    });
    await sleep(30);
    assert.equal(ended, false, 'the rest ended while requests were still coming');
    assert.ok(traffic.looked > 1, 'the rest looked at the traffic more than once');
    traffic.busy = false;
    await rest;
    // it ended on the pause: the rest as long as the hold (1,000 ms) would be far longer
    assert.ok(performance.now() - t0 < 900, `rest took ${performance.now() - t0} ms`);
  });

  test('SQLite: traffic that never pauses still leaves the eraser its turn after as long as the hold', async () => {
    const traffic = new FakeTraffic();
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    const t0 = performance.now();
    await b.rest(40);
    assert.ok(performance.now() - t0 >= 39, 'the rest ended before the hold was up');
    assert.ok(traffic.looked > 1);
  });

  test('SQLite with no traffic at all: a single look after one timer, then the next transaction', async () => {
    const traffic = new FakeTraffic();
    traffic.busy = false;
    const b = new EraseBatch(ERASE_BUDGET_MS, true, undefined, traffic);
    await b.rest(1000);
    assert.equal(traffic.looked, 1);
  });
});
