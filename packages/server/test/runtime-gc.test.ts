import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

/**
 * better-sqlite3 12 subclasses node::ObjectWrap; Node 24.19 added environment cleanup hooks to
 * ObjectWrap, and a Statement finalized by a collection that V8 starts by itself (allocation
 * pressure, outside any entered context) then aborts the process in its destructor
 * (`Assertion failed: (env) != nullptr`, exit 134). Checked: this child exits 134 with
 * better-sqlite3 12.11.1 built for Node 24.21 and 0 with better-sqlite3 13. It prepares and drops
 * statements across event-loop turns so that V8 collects them on its own schedule, forces
 * collections too, and does the same in worker threads whose environments end with statements
 * still alive. It must exit 0.
 */
const CHILD = `
const { Worker, isMainThread, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
function churn(file, rounds, done) {
  const db = new Database(file);
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)');
  let round = 0;
  const tick = () => {
    // statements that go out of scope at once; no forced collection here: V8 decides when
    for (let i = 0; i < 2000; i++) db.prepare('SELECT ' + (i % 100) + ' AS n');
    db.prepare('INSERT INTO t (v) VALUES (?)').run('x' + round);
    if (round % 10 === 0) globalThis.gc();
    if (++round < rounds) setImmediate(tick);
    else done(db);
  };
  tick();
}
if (isMainThread) {
  const file = process.argv[2];
  churn(file, 60, (db) => {
    const workers = [0, 1].map(() => new Worker(__filename, { workerData: file }));
    let left = workers.length;
    for (const w of workers) {
      w.on('error', (err) => { console.error(err); process.exit(3); });
      w.on('exit', (code) => {
        if (code !== 0) { console.error('worker exited', code); process.exit(4); }
        if (--left === 0) {
          globalThis.gc();
          db.close();
          globalThis.gc();
          console.log('ok');
        }
      });
    }
  });
} else {
  // the worker keeps its database and some statements alive: its environment tears them down
  const kept = [];
  churn(workerData, 30, (db) => {
    for (let i = 0; i < 20; i++) kept.push(db.prepare('SELECT ' + i + ' AS n'));
  });
}
`;

test('better-sqlite3 survives garbage-collected statements and worker teardown on this Node', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-gc-'));
  const script = path.join(dir, 'churn.cjs');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(script, CHILD);
  try {
    const child = spawn(process.execPath, ['--expose-gc', script, path.join(dir, 'gc.db')], {
      // resolve better-sqlite3 from this package, as the server does
      env: { ...process.env, NODE_PATH: path.resolve(import.meta.dirname, '../../../node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    assert.equal(signal, null, `the child was killed by ${signal}: ${err}`);
    assert.equal(code, 0, `exit ${code} on Node ${process.version}: ${err}`);
    assert.equal(out.trim(), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
