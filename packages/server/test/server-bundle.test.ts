/**
 * The server runs two ways and both must find their files: from the TypeScript sources through tsx
 * (the README's `npm start`, bin/parley.mjs) and from the bundle scripts/bundle.mjs writes (what the
 * test runner spawns: test/helpers/server-command.ts). What differs between them is where a module
 * sits, so every file the server reads or starts beside its code is checked on each: the docs
 * page's logo (assets/), the console (packages/console/dist), the live example (examples/), and an
 * export through the export workers (a worker thread's entry: a .ts module loaded by tsx, or
 * dist-…/export-worker.mjs).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleServer } from '../scripts/bundle.mjs';
import { REPO_ROOT } from './helpers/cli.js';
import { Client } from './helpers/harness.js';
import {
  bootstrapKey,
  freePort,
  type ParleyProcess,
  sleep,
  spawnParley,
  waitForBootstrapKey,
} from './helpers/processes.js';

const SERVER_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What a fresh server must serve from the files beside its code, and an export through a worker. */
async function checkFiles(url: string, key: string, output: () => string): Promise<void> {
  const logo = await fetch(`${url}/docs/static/theme/parley-logo.svg`);
  assert.equal(logo.status, 200);
  assert.equal(await logo.text(), readFileSync(path.join(SERVER_ROOT, 'assets/parley-logo.svg'), 'utf8'));

  const consolePage = await fetch(`${url}/console/`);
  assert.equal(consolePage.status, 200);
  assert.match(await consolePage.text(), /<script[^>]+src="\/console\/assets\//);

  const example = await fetch(`${url}/examples/live`);
  assert.equal(example.status, 200);
  assert.equal(await example.text(), readFileSync(path.join(REPO_ROOT, 'examples/live.html'), 'utf8'));

  // the instance admin key is an admin key of the default workspace
  const c = new Client(url, key);
  const conv = await c.post('/v1/conversations', { title: 'exported by a worker', user_id: 'u1' });
  assert.equal(conv.status, 201, JSON.stringify(conv.body));
  const id = (conv.body as { data: { id: string } }).data.id;
  const msg = await c.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'héllo ✓' });
  assert.equal(msg.status, 201, `${id} ${msg.text}`);
  const exported = await fetch(`${url}/v1/export?format=jsonl`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(exported.status, 200);
  const lines = (await exported.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; id?: string; content?: unknown });
  assert.ok(
    lines.some((l) => l.type === 'conversation' && l.id === id),
    'the conversation is in the export',
  );
  assert.ok(
    lines.some((l) => l.type === 'message' && JSON.stringify(l.content).includes('héllo ✓')),
    'its message too',
  );
  // a worker that cannot start is not an error to the client (the export runs on the main thread):
  // only the log says so
  await sleep(300);
  assert.doesNotMatch(output(), /export workers could not start/);
}

describe('the server from its sources and from the bundle', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('`npm start` (the README): the TypeScript sources through tsx find their files and workers', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-npm-start-'));
    dirs.push(dataDir);
    const port = await freePort();
    // npm runs the root package.json's start script with the node it finds first on PATH
    const child = spawn('npm', ['start', '--silent'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        PARLEY_HOST: '127.0.0.1',
        PARLEY_PORT: String(port),
        PARLEY_DATA_DIR: dataDir,
        PARLEY_EXPORT_WORKERS: '1',
        PARLEY_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      out += String(d);
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 120_000;
      let key: string | undefined;
      while (!key) {
        assert.equal(child.exitCode, null, `npm start exited:\n${out}`);
        assert.ok(Date.now() < deadline, `npm start did not print the admin key:\n${out}`);
        try {
          if ((await fetch(`${url}/readyz`)).status === 200) key = bootstrapKey(out);
        } catch {
          // not listening yet, or the banner not yet out
        }
        if (!key) await sleep(100);
      }
      await checkFiles(url, key, () => out);
    } finally {
      // npm's child is the server: signal the whole group
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });

  describe('the bundle', () => {
    let proc: ParleyProcess | undefined;
    let bundle = process.env.PARLEY_TEST_SERVER_BUNDLE;
    before(async () => {
      if (!bundle) {
        // this file run on its own: make the bundle the runner would have made
        const dir = path.join(SERVER_ROOT, `dist-test-${process.pid}`);
        dirs.push(dir);
        bundle = await bundleServer(dir);
      }
    });
    after(async () => {
      await proc?.stop();
    });

    test('the bundle the tests spawn finds the same files and starts the export worker from its own entry', async () => {
      assert.ok(bundle);
      const previous = process.env.PARLEY_TEST_SERVER_BUNDLE;
      process.env.PARLEY_TEST_SERVER_BUNDLE = bundle;
      try {
        proc = await spawnParley({ PARLEY_EXPORT_WORKERS: '1' });
      } finally {
        if (previous === undefined) delete process.env.PARLEY_TEST_SERVER_BUNDLE;
        else process.env.PARLEY_TEST_SERVER_BUNDLE = previous;
      }
      const child = proc.child;
      assert.ok(
        child.spawnargs.includes(bundle),
        `the child runs the bundle, not the sources: ${child.spawnargs.join(' ')}`,
      );
      await checkFiles(proc.url, await waitForBootstrapKey(proc), proc.output);
    });
  });
});
