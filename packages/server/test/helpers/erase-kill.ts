import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type Engine, freshDatabase } from './harness.js';
import { waitForJob } from './jobs.js';
import { bootstrapKey, sleep, spawnParley } from './processes.js';

const CONVERSATIONS = 80;

/**
 * One round of kill -9 during a user's erase job, on a fresh database: 80 conversations of the
 * user and one of a bystander; the erase starts (one conversation per batch, a 1 s lease); the
 * server is killed with SIGKILL once 1 + 3 × round conversations are erased, and restarted. Then
 * the job must resume and finish, its receipt count every conversation once, one receipt be in the
 * audit log, and the bystander's conversation be untouched. Rounds 1–3 run in `npm test`
 * (erase-crash.fault.test.ts), 4–20 in `test:slow`.
 */
export async function eraseKillRound(engine: Engine, round: number): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-crash-'));
  const db = await freshDatabase(engine, dataDir);
  // one conversation per batch and a short lease: a dead runner's job is taken over quickly
  const env = {
    PARLEY_DATA_DIR: dataDir,
    PARLEY_DATABASE_URL: db.url,
    PARLEY_JOB_BATCH_SIZE: '1',
    PARLEY_JOB_LEASE_SECONDS: '1',
    PARLEY_JOB_POLL_MS: '100',
  };
  let proc = await spawnParley(env);
  try {
    // the key is minted just after listen: /readyz can answer before the banner is out
    const started = proc;
    const until = Date.now() + 10_000;
    while (!/^ {4}\S+$/m.test(started.output()) && Date.now() < until) await sleep(20);
    const instance = new Client(proc.url, bootstrapKey(proc.output()));
    const ws = await instance.post('/v1/workspaces', { name: 'crash' });
    assert.equal(ws.status, 201, ws.text);
    const secret = ws.body.data.secret as string;
    let admin = new Client(proc.url, secret);
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const c = await admin.post('/v1/conversations', {
        user_id: 'victim',
        messages: [
          { role: 'user', content: `q${i}` },
          { role: 'assistant', content: `a${i}` },
        ],
      });
      assert.equal(c.status, 201, c.text);
      ids.push(c.body.data.id);
    }
    const keep = await admin.post('/v1/conversations', { user_id: 'bystander', title: 'kept' });
    const r = await admin.post('/v1/users/victim/erase', {});
    assert.equal(r.status, 202, r.text);
    const jobId = r.body.data.id as string;
    // kill once some, not all, batches have committed (a few more each round)
    const deadline = Date.now() + 30_000;
    for (;;) {
      const j = (await admin.get(`/v1/jobs/${jobId}`)).body.data;
      if (j.progress.done >= 1 + round * 3) {
        assert.ok(j.progress.done < CONVERSATIONS, 'killed before the job finished');
        break;
      }
      assert.ok(Date.now() < deadline, 'the job made no progress');
      await sleep(5);
    }
    proc.child.kill('SIGKILL');
    await new Promise((res) => proc.child.once('exit', res));
    proc = await spawnParley({ ...env, PARLEY_BOOTSTRAP: 'false' });
    admin = new Client(proc.url, secret);
    const done = await waitForJob(admin, jobId);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    const receipt = done.result.receipt;
    assert.equal(receipt.counts.conversations, CONVERSATIONS);
    assert.equal(receipt.counts.messages, CONVERSATIONS * 2);
    assert.deepEqual([...receipt.conversation_ids].sort(), [...ids].sort(), 'each erased id once');
    assert.ok(done.progress.done === CONVERSATIONS);
    assert.equal((await admin.get('/v1/conversations?user_id=victim')).body.meta.total, 0);
    for (const id of ids.slice(0, 3)) assert.equal((await admin.get(`/v1/conversations/${id}`)).status, 404);
    assert.equal((await admin.get(`/v1/conversations/${keep.body.data.id}`)).status, 200);
    const audit = await admin.get('/v1/audit-events?action=user.erased');
    assert.equal(audit.body.data.length, 1, 'one receipt in the audit log');
  } finally {
    await proc.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
