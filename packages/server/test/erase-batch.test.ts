import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERASE_BUDGET_MS, EraseBatch, PG_ERASE_BUDGET_MS, WALL_STRETCH } from '../src/services/erase.js';

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
