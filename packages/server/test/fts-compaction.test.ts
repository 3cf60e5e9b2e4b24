/**
 * SQLite's background full-text compaction (store/sqlite/compaction.ts): deletes leave tombstones
 * in the FTS5 segments (migration 12: no merge inside the deleting transaction), and the
 * compaction merges them away after the erasures went quiet: no tombstone, no posting and no term
 * of a deleted row left, the rows still in view still found. It is stateless: a store opened on a
 * file with tombstones left (a crash, a restart) compacts them once started.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FTS_TABLES, hasTombstones } from '../src/store/sqlite/compaction.js';
import { createSqliteStore, type SqliteStore } from '../src/store/sqlite/index.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';

/** Rows of the table's FTS5 segment data whose bytes hold `text`. */
function segmentRowsHolding(store: SqliteStore, table: string, text: string): number {
  const r = store.raw
    .prepare(`SELECT count(*) AS n FROM ${table}_data WHERE instr(CAST(block AS BLOB), CAST(? AS BLOB)) > 0`)
    .get(text) as { n: number };
  return r.n;
}

async function tombstones(store: SqliteStore): Promise<boolean> {
  for (const t of FTS_TABLES) if (await hasTombstones(store.kysely, t)) return true;
  return false;
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (testEngines().includes('sqlite')) {
  describe('full-text compaction [sqlite]', () => {
    let server: TestServer;
    let ws: TestWorkspace;
    before(async () => {
      server = await startServer('sqlite');
      ws = await newWorkspace(server, 'compaction');
    });
    after(async () => server.close());

    test('after a bulk delete the background compaction removes the deleted rows’ postings and terms; the rest stay searchable', async () => {
      const store = server.parley.store as SqliteStore;
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const gone = i % 2 === 0;
        const c = await ws.admin.post('/v1/conversations', {
          title: gone ? `zqxgonetitle number ${i}` : `zqxkepttitle number ${i}`,
          messages: [{ role: 'user', content: gone ? `zqxgonebody words ${i}` : `zqxkeptbody words ${i}` }],
        });
        assert.equal(c.status, 201, c.text);
        if (gone) ids.push(c.body.data.id);
      }
      // the terms are in the index segments before
      assert.ok(segmentRowsHolding(store, 'message_idx', 'zqxgonebody') > 0, 'indexed');
      const r = await ws.admin.post('/v1/conversations/bulk-delete', { ids });
      assert.equal(r.status, 200, r.text);
      // the background run: it starts once the erasures were quiet (a second) and stops when no
      // tombstone is left
      await until('compaction done', async () => !(await tombstones(store)) && !store.compaction.active);
      assert.ok(store.compaction.slices > 0, 'the compaction ran');
      for (const t of FTS_TABLES) {
        for (const word of ['zqxgonebody', 'zqxgonetitle'])
          assert.equal(segmentRowsHolding(store, t, word), 0, `${t} still holds ${word}`);
      }
      const found = await ws.admin.get(`/v1/conversations?per_page=100&search=${encodeURIComponent('zqxkeptbody')}`);
      assert.equal(found.status, 200, found.text);
      assert.equal(found.body.data.length, 20);
      const titles = await ws.admin.get(`/v1/conversations?per_page=100&search=${encodeURIComponent('zqxkepttitle')}`);
      assert.equal(titles.body.data.length, 20);
      const gone = await ws.admin.get(`/v1/conversations?per_page=100&search=${encodeURIComponent('zqxgonebody')}`);
      assert.equal(gone.body.data.length, 0);
    });
  });

  describe('full-text compaction after a restart [sqlite]', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-compaction-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('a store opened on a file with tombstones left compacts them once started', async () => {
      const url = `sqlite:${path.join(dir, 'p.db')}`;
      const first = createSqliteStore(url);
      const insert = first.raw.prepare('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)');
      first.raw.transaction(() => {
        for (let i = 1; i <= 500; i++) insert.run(i, 1, `t_zqxrestart${i % 7} t_common`);
      })();
      // removed straight through SQL, as a process that died before its compaction would leave them
      first.raw.prepare('DELETE FROM message_idx WHERE rowid <= 250').run();
      assert.equal(await tombstones(first), true);
      await first.close();

      const second = createSqliteStore(url);
      try {
        assert.equal(await tombstones(second), true, 'still there after the restart');
        second.compaction.start();
        await until('compaction after restart', async () => !(await tombstones(second)) && !second.compaction.active);
        const n = second.raw
          .prepare(`SELECT count(*) AS n FROM message_idx WHERE message_idx MATCH 't_common'`)
          .get() as {
          n: number;
        };
        assert.equal(n.n, 250);
      } finally {
        await second.close();
      }
    });
  });

  describe('full-text compaction interval [sqlite]', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-compaction-interval-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** A store with 200 indexed rows; `remove` deletes some of them through SQL, as a delete would. */
    const open = (name: string, intervalMs: number) => {
      const store = createSqliteStore(`sqlite:${path.join(dir, name)}`, { ftsCompactionIntervalMs: intervalMs });
      const insert = store.raw.prepare('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)');
      store.raw.transaction(() => {
        for (let i = 1; i <= 200; i++) insert.run(i, 1, `t_zqxinterval${i % 5} t_common`);
      })();
      const remove = (from: number, to: number) => {
        store.raw.prepare('DELETE FROM message_idx WHERE rowid BETWEEN ? AND ?').run(from, to);
        store.compaction.noteRemoval();
      };
      return { store, remove };
    };

    test('after a run that merged something, the next waits for the interval; with 0 it follows at once', async () => {
      const held = open('held.db', 600_000);
      const eager = open('eager.db', 0);
      try {
        for (const { store, remove } of [held, eager]) {
          store.compaction.start();
          remove(1, 50);
          await until('first run', async () => !(await tombstones(store)) && !store.compaction.active);
          assert.ok(store.compaction.slices > 0, 'the first run merged');
          remove(51, 100);
        }
        // the eager store compacts the second burst after its quiet second; the held one keeps it
        await until(
          'second run (interval 0)',
          async () => !(await tombstones(eager.store)) && !eager.store.compaction.active,
        );
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(await tombstones(held.store), true, 'held back by the interval');
        // an explicit run is not held back
        await held.store.compaction.runNow();
        assert.equal(await tombstones(held.store), false);
      } finally {
        await held.store.close();
        await eager.store.close();
      }
    });
  });
}
