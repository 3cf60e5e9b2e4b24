import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from './harness.js';
import { checkRows, openRawDb, processDatabase } from './kill-rounds.js';
import { firstWorkspace, jsonCaller, type ParleyProcess, sleep, spawnParley } from './processes.js';

/**
 * kill -9 during a bulk delete (trash off: marked 'erasing' in one transaction, rows erased in
 * later short batches) and during a purge (trashed conversations made due, the periodic sweep
 * erasing them), on SQLite or PostgreSQL, against a real `parley serve`. After each kill, on the
 * raw rows: every conversation is complete (all its messages, counters equal rows) or gone
 * (no row of it left anywhere), never half. After the restart, the sweep finishes what was
 * marked (no `erasing` row or due trash left), the bulk delete was all or nothing (every
 * conversation gone with one `conversations.bulk_deleted` audit row counting them all, or every
 * one there with none), and the `conversations.purged` audit rows add up to what was purged.
 */
export interface LifecycleKillStats {
  rounds: number;
  /** Rounds whose kill found rows still marked (the crash came mid-erase). */
  killedMidErase: number;
  /** Bulk rounds whose delete had committed before the kill. */
  bulkCommitted: number;
  conversations: number;
}

const PER_ROUND = 60;
const MESSAGES = 6;

export async function lifecycleKillRounds(
  kind: 'bulk-delete' | 'purge',
  rounds: number,
  engine: Engine,
  log: (s: string) => void = () => {},
): Promise<LifecycleKillStats> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-killlife-'));
  const database = await processDatabase(engine, dataDir);
  const env = {
    PARLEY_DATA_DIR: dataDir,
    PARLEY_DATABASE_URL: database.url,
    PARLEY_RATE_LIMIT: '10000000',
    PARLEY_PURGE_INTERVAL: '1',
  };
  const stats: LifecycleKillStats = { rounds: 0, killedMidErase: 0, bulkCommitted: 0, conversations: 0 };
  let proc: ParleyProcess | undefined = await spawnParley(env);
  const raw = await openRawDb(engine, database.url);
  try {
    const { key, workspaceId: ws } = await firstWorkspace(proc, 'kill-lifecycle');
    let purgedBefore = 0;

    for (let round = 0; round < rounds; round++) {
      const call = jsonCaller(proc.url, key, 30_000);
      assert.equal((await call('PATCH', '/v1/workspace', { trash_days: kind === 'purge' ? 7 : 0 })).status, 200);
      const ids: string[] = [];
      for (let i = 0; i < PER_ROUND; i++) {
        const r = await call('POST', '/v1/conversations', {
          title: `r${round} c${i}`,
          messages: Array.from({ length: MESSAGES }, (_, m) => ({ role: 'user', content: `r${round} c${i} m${m}` })),
        });
        assert.equal(r.status, 201, r.text);
        ids.push((JSON.parse(r.text) as { data: { id: string } }).data.id);
      }
      stats.conversations += ids.length;
      const auditsBefore = await raw.all<{ n: number }>(
        "SELECT count(*) AS n FROM audit_events WHERE workspace_id = ? AND action = 'conversations.bulk_deleted'",
        [ws],
      );
      let request: Promise<unknown> = Promise.resolve();
      /** Until the first of the round's conversations is erased (bounded), then a few ms more. */
      const untilErasing = async () => {
        const marks = ids.map(() => '?').join(', ');
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const [r] = await raw.all<{ n: number }>(
            `SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND id IN (${marks})`,
            [ws, ...ids],
          );
          if (Number(r?.n) < ids.length) break;
          await sleep(10);
        }
        await sleep(Math.random() * 30);
      };
      if (kind === 'bulk-delete') {
        // the answer is never awaited: the kill comes while it runs, or just after it
        request = call('POST', '/v1/conversations/bulk-delete', { ids }).catch(() => undefined);
        // odd rounds: at a random moment (often before the commit); even rounds: once the erase has
        // begun (rows marked), so that the kill lands between erase batches
        if (round % 2 === 0) await sleep(Math.random() * 400);
        else await untilErasing();
      } else {
        const trashed = await call('POST', '/v1/conversations/bulk-delete', { ids });
        assert.equal(trashed.status, 200, trashed.text);
        // due now: the next sweep (every second) erases them
        const marks = ids.map(() => '?').join(', ');
        await raw.all(`UPDATE conversations SET purge_at = 0 WHERE workspace_id = ? AND id IN (${marks})`, [
          ws,
          ...ids,
        ]);
        if (round % 2 === 0) await sleep(Math.random() * 1500);
        else await untilErasing();
      }
      proc.child.kill('SIGKILL');
      await new Promise((r) => (proc?.child.exitCode !== null ? r(null) : proc?.child.once('exit', r)));
      await request;

      // the crash's state, on the raw rows: each conversation complete, or gone
      const rowsOf = async () => {
        const marks = ids.map(() => '?').join(', ');
        return raw.all<{ id: string; hidden: string | null; mc: number; mr: number }>(
          `SELECT id, deleted_state AS hidden, message_count AS mc,
             (SELECT count(*) FROM messages m WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id) AS mr
           FROM conversations c WHERE workspace_id = ? AND id IN (${marks})`,
          [ws, ...ids],
        );
      };
      const atKill = await rowsOf();
      for (const c of atKill) {
        assert.equal(Number(c.mr), MESSAGES, `${c.id}: complete (all ${MESSAGES} messages) or gone, never half`);
        assert.equal(Number(c.mc), MESSAGES);
      }
      const marked = atKill.filter((c) => c.hidden !== null).length;
      if (marked > 0 && atKill.length < ids.length) stats.killedMidErase++;
      await checkRows(engine, database.url, ws);

      proc = await spawnParley(env);
      // the sweep (at start, then every second) finishes what was marked
      const deadline = Date.now() + 60_000;
      let left = await rowsOf();
      while (left.some((c) => c.hidden !== null)) {
        assert.ok(Date.now() < deadline, `the sweep erased the marked conversations: ${left.length} left`);
        await sleep(200);
        left = await rowsOf();
      }
      const [erasingLeft] = await raw.all<{ n: number }>(
        'SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND deleted_state IS NOT NULL',
        [ws],
      );
      assert.equal(Number(erasingLeft?.n), 0, 'no erasing or due trash row left');
      const auditsAfter = await raw.all<{ n: number }>(
        "SELECT count(*) AS n FROM audit_events WHERE workspace_id = ? AND action = 'conversations.bulk_deleted'",
        [ws],
      );
      if (kind === 'bulk-delete') {
        const added = Number(auditsAfter[0]?.n) - Number(auditsBefore[0]?.n);
        if (left.length === 0) {
          assert.equal(added, 1, 'a committed bulk delete has its audit row');
          const [row] = await raw.all<{ counts: string }>(
            "SELECT counts FROM audit_events WHERE workspace_id = ? AND action = 'conversations.bulk_deleted' ORDER BY id DESC LIMIT 1",
            [ws],
          );
          assert.equal((JSON.parse(String(row?.counts)) as { conversations: number }).conversations, ids.length);
          stats.bulkCommitted++;
        } else {
          assert.equal(left.length, ids.length, 'atomic: all gone or all there');
          assert.equal(added, 0, 'no audit row for a bulk delete that did not commit');
        }
      } else {
        assert.equal(left.length, 0, 'the trash past its window was purged');
      }
      const purgedRows = await raw.all<{ counts: string }>(
        "SELECT counts FROM audit_events WHERE workspace_id = ? AND action = 'conversations.purged'",
        [ws],
      );
      const purgedTotal = purgedRows.reduce(
        (n, r) => n + (JSON.parse(String(r.counts)) as { conversations: number }).conversations,
        0,
      );
      if (kind === 'purge') {
        assert.equal(purgedTotal - purgedBefore, ids.length, 'the purge audit rows count every purged conversation');
        const messagesPurged = purgedRows.reduce(
          (n, r) => n + ((JSON.parse(String(r.counts)) as { messages?: number }).messages ?? 0),
          0,
        );
        assert.equal(messagesPurged, stats.conversations * MESSAGES, 'and every purged message');
      }
      purgedBefore = purgedTotal;
      // through the API: what is there is whole, what is gone answers 404
      const again = proc.url;
      for (const id of ids.slice(0, 10)) {
        const r = await fetch(`${again}/v1/conversations/${id}`, { headers: { authorization: `Bearer ${key}` } });
        const body = (await r.json()) as { data?: { message_count: number } };
        if (left.length === 0) assert.equal(r.status, 404);
        else {
          assert.equal(r.status, 200);
          assert.equal(body.data?.message_count, MESSAGES);
        }
      }
      await checkRows(engine, database.url, ws);
      stats.rounds++;
      log(`${kind} round ${round + 1}: ${atKill.length} of ${ids.length} rows left at the kill (${marked} marked)`);
    }
    return stats;
  } finally {
    await raw.close();
    await proc?.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
