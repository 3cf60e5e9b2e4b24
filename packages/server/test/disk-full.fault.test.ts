import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { bootstrapKey, jsonCaller, type ParleyProcess, spawnParley } from './helpers/processes.js';

/**
 * The disk filling up under SQLite. The test mounts a small tmpfs of its own (root; a machine
 * where `mount` is refused fails this test, it never skips), runs a real `parley serve` with its
 * database there, takes most of the space with a filler file and writes large messages until
 * the disk is full. Every refusal must be 507 insufficient_storage (or 503 service_unavailable for
 * an I/O error), never a 500; the process stays up and keeps reading; when the filler is deleted,
 * writes succeed again without a restart; nothing refused was stored; `PRAGMA integrity_check` ok.
 */
const SIZE_MB = 12;

test('disk full under SQLite: 507 (never 500), no corruption, writes resume when space returns', {
  timeout: 180_000,
}, async () => {
  const mount = mkdtempSync(path.join(os.tmpdir(), 'parley-diskfull-'));
  let mounted = false;
  let proc: ParleyProcess | undefined;
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'tmpfs', mount], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(
        `this test mounts a ${SIZE_MB} MB tmpfs to fill it and needs root (mount -t tmpfs): ${(err as Error).message}`,
      );
    }
    mounted = true;
    const dbPath = path.join(mount, 'parley.db');
    const env = { PARLEY_DATA_DIR: mount, PARLEY_DATABASE_URL: `sqlite:${dbPath}`, PARLEY_RATE_LIMIT: '10000000' };
    proc = await spawnParley(env);
    const key = bootstrapKey(proc.output());
    const call = jsonCaller(proc.url, key, 20_000);
    const made = await call('POST', '/v1/conversations', { title: 'disk full' });
    assert.equal(made.status, 201, made.text);
    const conv = (JSON.parse(made.text) as { data: { id: string } }).data.id;

    // leave about 1.5 MB free
    const free = () => {
      const s = statfsSync(mount);
      return s.bavail * s.bsize;
    };
    const filler = path.join(mount, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1_500_000)));

    const statuses = new Map<number, number>();
    const acknowledged: string[] = [];
    const refusedMarkers: string[] = [];
    let refusals = 0;
    // 100 KB messages: the database and its WAL run out of room within a few dozen
    for (let i = 0; i < 400 && refusals < 25; i++) {
      const marker = `fill${i}x`;
      const r = await call('POST', `/v1/conversations/${conv}/messages`, {
        role: 'user',
        content: `${marker} ${'z'.repeat(100_000)}`,
      });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 201) {
        acknowledged.push(marker);
        continue;
      }
      refusals++;
      refusedMarkers.push(marker);
      const body = JSON.parse(r.text) as { error: { code: string; request_id: string } };
      assert.ok(
        (r.status === 507 && body.error.code === 'insufficient_storage') ||
          (r.status === 503 && body.error.code === 'service_unavailable'),
        `a refusal is 507 insufficient_storage or 503 service_unavailable, got ${r.status} ${r.text}`,
      );
      assert.match(body.error.request_id, /^req_/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After on a refusal');
      // a new conversation is refused the same way, never a 500
      const c = await call('POST', '/v1/conversations', {
        title: `refused ${marker}`,
        metadata: { pad: 'y'.repeat(50_000) },
      });
      statuses.set(c.status, (statuses.get(c.status) ?? 0) + 1);
      assert.ok([201, 503, 507].includes(c.status), `create while full: ${c.status} ${c.text}`);
    }
    console.log(`# disk full: ${JSON.stringify(Object.fromEntries(statuses))}, ${acknowledged.length} acknowledged`);
    assert.ok(refusals >= 25, `the disk filled: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.equal(statuses.get(500) ?? 0, 0, 'never a 500');
    assert.ok((statuses.get(507) ?? 0) > 0, 'the full disk was named: 507 insufficient_storage');

    // the process is up and reads still work while the disk is full
    assert.equal(proc.child.exitCode, null, 'the process stays up');
    assert.equal((await call('GET', '/healthz')).status, 200);
    const read = await call('GET', `/v1/conversations/${conv}`);
    assert.equal(read.status, 200, read.text);
    assert.equal(
      (JSON.parse(read.text) as { data: { message_count: number } }).data.message_count,
      acknowledged.length,
    );

    // space returns: writes succeed again, without a restart
    rmSync(filler);
    const after = await call('POST', `/v1/conversations/${conv}/messages`, { role: 'user', content: 'space is back' });
    assert.equal(after.status, 201, after.text);
    const again = await call('POST', '/v1/conversations', { title: 'after the disk full' });
    assert.equal(again.status, 201, again.text);

    // every acknowledged message there once, nothing refused stored
    const msgs = await call('GET', `/v1/conversations/${conv}/messages?limit=100`);
    const contents = (JSON.parse(msgs.text) as { data: Array<{ content: string }> }).data.map((m) =>
      m.content.slice(0, m.content.indexOf(' ')),
    );
    for (const m of acknowledged) assert.equal(contents.filter((c) => c === m).length, 1, `${m} stored once`);
    for (const m of refusedMarkers) assert.ok(!contents.includes(m), `refused ${m} not stored`);
    assert.equal(contents.length, acknowledged.length + 1);

    await proc.stop();
    proc = undefined;
    const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    try {
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      const n = db.prepare('SELECT count(*) AS n FROM messages WHERE conversation_id = ?').get(conv) as { n: number };
      assert.equal(n.n, acknowledged.length + 1);
    } finally {
      db.close();
    }
  } finally {
    await proc?.stop();
    if (mounted) execFileSync('umount', ['-l', mount], { stdio: 'pipe' });
    rmSync(mount, { recursive: true, force: true });
  }
});
