import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, runCliOnTerminal, startCli } from './helpers/cli.js';
import { Client, freshDatabase, testEngines } from './helpers/harness.js';

const SECRET_RE = /prl_[A-Za-z0-9_-]{43}/g;
/** Guards against a hung child only; nothing is asserted about time. */
const HANG_GUARD_MS = 60_000;

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
      // a fresh database: every migration is applied now, through the store's own migrate()
      const applied = [...first.stdout.matchAll(/^applied (\d+): \S/gm)].map((m) => Number(m[1]));
      assert.equal(applied[0], 1, first.stdout);
      assert.equal(applied.at(-1), Number(version), first.stdout);
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

    test('keys create without --scopes is an error that lists the scopes; nothing is created', async () => {
      const before = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as unknown[];
      const r = await runCli(['keys', 'create', '--name', 'no-scopes'], env);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /--scopes/);
      for (const scope of ['read:ai', 'write:ai', 'admin']) assert.ok(r.stderr.includes(scope), r.stderr);
      assert.doesNotMatch(r.stdout, SECRET_RE);
      const after = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as unknown[];
      assert.equal(after.length, before.length);
    });

    test('keys list shows user binding, rate limit, expiry and last use', async () => {
      assert.ok(running, 'needs the server from the previous tests');
      const expires = '2099-01-02T03:04:05.000Z';
      const made = await runCli(
        [
          'keys',
          'create',
          '--name',
          'bound',
          '--scopes',
          'read:ai',
          '--user',
          'alice',
          '--rate-limit',
          '77',
          '--expires',
          expires,
          '--json',
        ],
        env,
      );
      assert.equal(made.code, 0, made.stderr);
      const { key, secret } = JSON.parse(made.stdout) as { key: { id: string }; secret: string };
      const line = () =>
        runCli(['keys', 'list'], env).then((r) => r.stdout.split('\n').find((l) => l.startsWith(key.id)) ?? '');
      const unused = await line();
      assert.match(unused, /user=alice/);
      assert.match(unused, /rate=77/);
      assert.ok(unused.includes(`expires=${expires}`), unused);
      assert.match(unused, /last_used=never/);
      assert.equal((await new Client(running.url, secret).get('/v1/conversations')).status, 200);
      // written off the response path: wait (bounded) until it is visible
      let used = unused;
      for (let i = 0; i < 50 && /last_used=never/.test(used); i++) used = await line();
      assert.match(used, /last_used=\d{4}-\d\d-\d\dT/);
    });

    test('keys revoke refuses the last admin key of a workspace unless --force; the audit says the operator did it', async () => {
      assert.ok(running, 'needs the server from the previous tests');
      const ws = await runCli(['workspaces', 'create', 'solo'], env);
      const wsId = /workspace (ws_\w+)/.exec(ws.stdout)?.[1] as string;
      const secret = ws.stdout.match(SECRET_RE)?.[0] as string;
      const admin = new Client(running.url, secret);
      const keyId = (await admin.get('/v1/keys')).body.data[0].id as string;
      const refused = await runCli(['keys', 'revoke', keyId, '--workspace', wsId], env);
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /last active admin key/);
      assert.match(refused.stderr, /--force/);
      assert.equal((await admin.get('/v1/keys')).status, 200, 'still works');
      const events = await admin.get('/v1/audit-events?order=asc');
      assert.deepEqual(
        events.body.data.map((e: { action: string; actor_key_id: string | null; actor_type: string }) => [
          e.action,
          e.actor_key_id,
          e.actor_type,
        ]),
        [
          ['workspace.created', null, 'operator'],
          ['api_key.created', null, 'operator'],
        ],
      );
      const forced = await runCli(['keys', 'revoke', keyId, '--workspace', wsId, '--force'], env);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal((await admin.get('/v1/keys')).status, 401);
    });

    test('workspaces list prints every workspace; --json too', async () => {
      const text = await runCli(['workspaces', 'list'], env);
      assert.equal(text.code, 0, text.stderr);
      const json = await runCli(['workspaces', 'list', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const list = JSON.parse(json.stdout) as Array<{ id: string; name: string; created_at: string }>;
      assert.deepEqual(
        list.map((w) => w.name),
        ['default', 'from-http', 'acme', 'solo'],
      );
      for (const w of list) assert.ok(text.stdout.includes(`${w.id}  ${w.created_at}  ${w.name}`), text.stdout);
    });

    test('keys create --instance-admin mints a working instance admin key (a lost one is replaced)', async () => {
      assert.ok(running, 'needs the server from the previous tests');
      const wrong = await runCli(['keys', 'create', '--instance-admin', '--scopes', 'read:ai'], env);
      assert.equal(wrong.code, 2);
      assert.doesNotMatch(wrong.stdout, SECRET_RE);
      const r = await runCli(['keys', 'create', '--instance-admin'], env);
      assert.equal(r.code, 0, r.stderr);
      const secrets = r.stdout.match(SECRET_RE) ?? [];
      assert.equal(secrets.length, 1, r.stdout);
      const instance = new Client(running.url, secrets[0]);
      const made = await instance.post('/v1/workspaces', { name: 'by-recovered-key' });
      assert.equal(made.status, 201, made.text);
      const me = (await instance.get('/v1/keys')).body.data.filter(
        (k: { instance_admin: boolean }) => k.instance_admin,
      );
      assert.equal(me.length, 2, 'a second instance admin key in the default workspace');
    });
  });

  describe(`cli: a first start that fails [${engine}]`, () => {
    let dataDir: string;
    let env: Record<string, string>;
    let drop: () => Promise<void> = async () => {};
    let busy: net.Server | undefined;

    before(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-busy-'));
      const db = await freshDatabase(engine, dataDir);
      drop = db.drop;
      env = { PARLEY_DATA_DIR: dataDir, PARLEY_DATABASE_URL: db.url };
    });
    after(async () => {
      await new Promise((r) => (busy ? busy.close(r) : r(undefined)));
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('a busy port exits 1 without minting the instance admin key; the next start prints it', async () => {
      const server = net.createServer();
      busy = server;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const failed = await runCli(['serve'], { ...env, PARLEY_HOST: '127.0.0.1', PARLEY_PORT: String(port) });
      assert.equal(failed.code, 1, failed.stdout + failed.stderr);
      assert.match(failed.stderr, /EADDRINUSE/);
      assert.doesNotMatch(failed.stdout, SECRET_RE);

      const next = await serve(env);
      try {
        const keys = next.banner.match(SECRET_RE) ?? [];
        assert.equal(keys.length >= 1 && new Set(keys).size, 1, `the key is shown now: ${next.banner}`);
        const admin = new Client(next.url, keys[0]);
        assert.equal((await admin.post('/v1/workspaces', { name: 'after-failure' })).status, 201);
        const ws = (await admin.get('/v1/workspaces')).body.data as Array<{ name: string }>;
        assert.deepEqual(
          ws.map((w) => w.name),
          ['default', 'after-failure'],
          'one default workspace',
        );
      } finally {
        await next.stop();
      }
    });
  });
}

// The bar and --json are the CLI's own (the same on every engine); seeding each engine is
// seed-data.test.ts.
describe('cli: seed-data progress', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let drop: () => Promise<void> = async () => {};

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-seed-'));
    const db = await freshDatabase('sqlite', dataDir);
    drop = db.drop;
    env = { PARLEY_DATA_DIR: dataDir, PARLEY_DATABASE_URL: db.url };
    assert.equal((await runCli(['migrate'], env)).code, 0);
  });
  after(async () => {
    await drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('seed-data --json prints the report and no progress bar; on a terminal the bar is drawn', async () => {
    const small = ['--workspaces', '1', '--conversations', '20', '--messages', '200'];
    const r = await runCli(['seed-data', ...small, '--seed', '3', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { workspaces: number; conversations: number; messages: number };
    assert.equal(report.workspaces, 1);
    assert.equal(report.conversations, 20);
    assert.ok(report.messages > 0);
    assert.doesNotMatch(r.stderr, /messages/, 'no bar off a terminal');

    const tty = await runCliOnTerminal(['seed-data', ...small, '--seed', '4'], env, '\u0000never', '');
    assert.equal(tty.code, 0, tty.stdout);
    assert.match(tty.stdout, /\d+% \| [\d,]+\/[\d,]+ messages/, 'the bar, on the terminal');
    assert.match(tty.stdout, /seeded 1 workspaces, 20 conversations/);
  });
});

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

  test('keys create --instance-admin on a database never started says how to set it up', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-empty-'));
    try {
      const r = await runCli(['keys', 'create', '--instance-admin'], { PARLEY_DATA_DIR: dataDir });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /no workspace yet; run `parley serve` once/);
      assert.doesNotMatch(r.stdout, SECRET_RE);
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
