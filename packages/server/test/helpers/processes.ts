import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cliArgv, SERVER_ROOT } from './server-command.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ParleyProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * `parley serve` as a child process (the real CLI: the runner's bundle, or the sources through tsx
 * with `source`), ready when /readyz answers 200. `nodeArgs` come before the script (e.g.
 * `--import` of a test fixture).
 */
export async function spawnParley(
  env: Record<string, string>,
  opts: { nodeArgs?: readonly string[]; source?: boolean } = {},
): Promise<ParleyProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-proc-'));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...cliArgv({ source: opts.source }), 'serve'], {
    cwd: SERVER_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: String(port),
      PARLEY_DATA_DIR: dataDir,
      PARLEY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    out += String(d);
  });
  const url = `http://127.0.0.1:${port}`;
  // bounded, but generous: on a loaded shared machine tsx takes 45 s to start the server
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`parley exited with ${child.exitCode}:\n${out}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`parley did not become ready:\n${out}`);
    }
    await sleep(100);
  }
  return {
    url,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The instance admin key printed once on first start. */
export function bootstrapKey(output: string): string {
  const m = /^ {4}(\S+)$/m.exec(output);
  if (!m?.[1]) throw new Error(`no admin key in output:\n${output}`);
  return m[1];
}

/** Path to a PostgreSQL server binary (initdb, pg_ctl, ...), whatever the installed major. */
export function pgBin(name: string): string {
  const r = spawnSync('sh', ['-c', `ls -d /usr/lib/postgresql/*/bin/${name} 2>/dev/null | sort -V | tail -1`], {
    encoding: 'utf8',
  });
  const found = r.stdout.trim();
  if (!found) throw new Error(`PostgreSQL binary ${name} not found under /usr/lib/postgresql/*/bin`);
  return found;
}

/** The instance admin key, waiting (bounded) for the banner: it is printed just after /readyz answers. */
export async function waitForBootstrapKey(proc: { output: () => string }): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return bootstrapKey(proc.output());
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * On a first start: the instance admin key from the banner, then a workspace made with it; its
 * admin key (shown once) and id.
 */
export async function firstWorkspace(proc: ParleyProcess, name: string): Promise<{ key: string; workspaceId: string }> {
  const instance = await waitForBootstrapKey(proc);
  const made = await fetch(`${proc.url}/v1/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${instance}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (made.status !== 201) throw new Error(`creating workspace ${name}: ${made.status} ${await made.text()}`);
  const body = (await made.json()) as { data: { secret: string; workspace: { id: string } } };
  return { key: body.data.secret, workspaceId: body.data.workspace.id };
}

/**
 * A JSON caller for a spawned server with one key: the status, headers and body text of each answer;
 * every call bounded by `timeoutMs`.
 */
export function jsonCaller(url: string, key: string, timeoutMs: number) {
  return async (method: string, p: string, body?: unknown) => {
    const res = await fetch(url + p, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
}
