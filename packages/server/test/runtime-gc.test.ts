import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { bounded } from './helpers/live.js';

/**
 * better-sqlite3 12 subclasses node::ObjectWrap; Node 24.19 added environment cleanup hooks to
 * ObjectWrap, and a Statement collected by the garbage collector then aborts the process
 * (`Assertion failed: (env) != nullptr`, exit 134). This child prepares and drops statements
 * under forced collections, on the main thread and in a worker thread whose environment goes
 * away while statements are still alive, which is the pattern that aborted. It must exit 0.
 */
const CHILD = `
const { Worker, isMainThread, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
function churn(file, rounds) {
  const db = new Database(file);
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)');
  for (let i = 0; i < rounds; i++) {
    // statements that go out of scope at once: the collector finalizes them
    db.prepare('INSERT INTO t (v) VALUES (?)').run('x' + i);
    db.prepare('SELECT count(*) AS n FROM t WHERE v = ?').get('x' + i);
    if (i % 50 === 0) globalThis.gc();
  }
  // statements still alive when the database closes or the thread ends
  const kept = [];
  for (let i = 0; i < 20; i++) kept.push(db.prepare('SELECT ' + i + ' AS n'));
  return { db, kept };
}
if (isMainThread) {
  const file = process.argv[2]; // argv: node, this script, the database
  const { db } = churn(file, 2000);
  globalThis.gc();
  // each worker on a file of its own (three writers on one file end in 'database is locked'); gc
  // is exposed to workers by the process's --expose-gc (a worker refuses it in execArgv)
  const workers = [0, 1, 2].map((i) => new Worker(__filename, { workerData: file + '-' + i }));
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
} else {
  // the worker keeps its database and statements open: its environment tears them down
  churn(workerData, 500);
  globalThis.gc();
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
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    const [code, signal] = await bounded(closed, 'the churn child to exit', 90_000).catch((e: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${e.message}; stdout: ${out} stderr: ${err}`);
    });
    assert.equal(signal, null, `the child was killed by ${signal}: ${err}`);
    assert.equal(code, 0, `exit ${code} on Node ${process.version}: ${err}`);
    assert.equal(out.trim(), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
