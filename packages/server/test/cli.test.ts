import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, freshDatabase, testEngines } from './helpers/harness.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = 'packages/server/src/cli/main.ts';
const SECRET_RE = /prl_[A-Za-z0-9_-]{43}/g;
/** Guards against a hung child only; nothing is asserted about time. */
const HANG_GUARD_MS = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a user would have: none of the runner's PARLEY_ settings, only ours. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'PORT' && k !== 'HOST') env[k] = v;
  }
  return { ...env, PARLEY_LOG_LEVEL: 'info', ...extra };
}

function startCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function runCli(args: string[], env: Record<string, string>): Promise<Run> {
  const child = startCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley ${args.join(' ')} did not exit; stdout: ${stdout} stderr: ${stderr}`));
    }, HANG_GUARD_MS);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Served {
  child: ChildProcess;
  url: string;
  /** Everything printed to stdout up to and including the "listening" log line. */
  banner: string;
  stop(): Promise<number | null>;
}

/** Starts `parley serve` and waits for its "parley listening" log line. */
function serve(env: Record<string, string>): Promise<Served> {
  const child = startCli(['serve'], { PARLEY_PORT: '0', ...env });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley serve did not start; stdout: ${stdout} stderr: ${stderr}`));
    }, HANG_GUARD_MS);
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => {
      clearTimeout(guard);
      reject(new Error(`parley serve exited with ${code}; stdout: ${stdout} stderr: ${stderr}`));
    });
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const log = JSON.parse(line) as { msg?: string; address?: string };
        if (log.msg === 'parley listening' && log.address) {
          clearTimeout(guard);
          resolve({
            child,
            url: log.address,
            banner: stdout,
            async stop() {
              child.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
  });
}

for (const engine of testEngines()) {
  describe(`cli [${engine}]`, () => {
    let dataDir: string;
    let env: Record<string, string>;
    let drop: () => Promise<void> = async () => {};
    let running: Served | undefined;

    before(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-'));
      const db = await freshDatabase(engine, dataDir);
      drop = db.drop;
      env = { PARLEY_DATA_DIR: dataDir, PARLEY_DATABASE_URL: db.url };
    });
    after(async () => {
      if (running) await running.stop();
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('migrate exits 0 and reports the schema version, and again (idempotent)', async () => {
      const first = await runCli(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      const version = /schema at version (\d+)/.exec(first.stdout)?.[1];
      assert.ok(version, first.stdout);
      assert.ok(Number(version) >= 1);
      const second = await runCli(['migrate'], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, new RegExp(`schema at version ${version}\\b`));
      assert.doesNotMatch(second.stdout, /applied \d+:/, 'nothing left to apply the second time');
    });

    test('serve on a fresh database prints the instance admin key once; a second start prints none', async () => {
      const first = await serve(env);
      const keys = first.banner.match(SECRET_RE) ?? [];
      assert.ok(keys.length >= 1, first.banner);
      assert.equal(new Set(keys).size, 1, 'one key');
      const instanceKey = keys[0] as string;
      const admin = new Client(first.url, instanceKey);
      assert.equal((await admin.get('/v1/keys')).status, 200, 'the printed key works');
      assert.equal((await admin.post('/v1/workspaces', { name: 'from-http' })).status, 201, 'and is instance admin');
      assert.equal(await first.stop(), 0, 'SIGTERM shuts down cleanly');

      running = await serve(env);
      assert.doesNotMatch(running.banner, SECRET_RE);
      assert.doesNotMatch(running.banner, /instance admin key/);
      assert.equal((await new Client(running.url, instanceKey).get('/v1/keys')).status, 200, 'same database');
    });

    test('workspaces create prints a working admin key for the new workspace', async () => {
      assert.ok(running, 'needs the server from the previous test');
      const r = await runCli(['workspaces', 'create', 'acme'], env);
      assert.equal(r.code, 0, r.stderr);
      const wsId = /workspace (ws_\w+) \(acme\)/.exec(r.stdout)?.[1];
      assert.ok(wsId, r.stdout);
      const secret = r.stdout.match(SECRET_RE)?.[0];
      assert.ok(secret, r.stdout);
      const admin = new Client(running.url, secret);
      const keys = await admin.get('/v1/keys');
      assert.equal(keys.status, 200);
      assert.equal(keys.body.data.length, 1, 'a new workspace holds only its first admin key');
      assert.deepEqual(keys.body.data[0].scopes.slice().sort(), ['admin', 'read:ai', 'write:ai']);
      const c = await admin.post('/v1/conversations', { title: 'acme first' });
      assert.equal(c.status, 201);
    });

    test('keys create --json, keys list --json without secrets, keys revoke → 401 on the running server', async () => {
      assert.ok(running, 'needs the server from the previous tests');
      const created = await runCli(['keys', 'create', '--name', 'x', '--scopes', 'read:ai', '--json'], env);
      assert.equal(created.code, 0, created.stderr);
      const out = JSON.parse(created.stdout) as {
        key: { id: string; prefix: string; scopes: string[] };
        secret: string;
      };
      assert.match(out.secret, /^prl_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(out.key.scopes, ['read:ai']);
      assert.ok(out.secret.startsWith(out.key.prefix));
      const client = new Client(running.url, out.secret);
      assert.equal((await client.get('/v1/conversations')).status, 200, 'the new key works');
      assert.equal((await client.post('/v1/conversations', {})).status, 403, 'with only its scope');

      const listed = await runCli(['keys', 'list', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const list = JSON.parse(listed.stdout) as Array<{ id: string; name: string }>;
      assert.ok(list.some((k) => k.id === out.key.id && k.name === 'x'));
      assert.doesNotMatch(listed.stdout, SECRET_RE, 'no secret in the list');
      assert.ok(!listed.stdout.includes(out.secret));

      const revoked = await runCli(['keys', 'revoke', out.key.id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(out.key.id));
      const refused = await client.get('/v1/conversations');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'invalid_key');
    });
  });
}

describe('cli without a database', () => {
  test('a bad environment exits non-zero with every problem in one message and no stack trace', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-bad-'));
    try {
      const r = await runCli(['serve'], {
        PARLEY_DATA_DIR: dataDir,
        PARLEY_PORT: 'abc',
        PARLEY_LOG_LEVEL: 'loud',
        PARLEY_DATABASE_URL: 'mysql://x',
      });
      assert.notEqual(r.code, 0);
      assert.equal(r.code !== null, true, 'exited, not killed');
      for (const name of ['PARLEY_PORT', 'PARLEY_LOG_LEVEL', 'PARLEY_DATABASE_URL']) {
        assert.match(r.stderr, new RegExp(name), `stderr names ${name}: ${r.stderr}`);
      }
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(r.stdout, /listening/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('an unknown command exits 2 with the usage', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-unknown-'));
    try {
      const r = await runCli(['frobnicate'], { PARLEY_DATA_DIR: dataDir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command "frobnicate"/);
      assert.match(r.stderr, /Usage:/);
      assert.match(r.stderr, /parley migrate/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
