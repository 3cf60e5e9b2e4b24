import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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
 * Whether process `pid` holds a socket listening on `port` (Linux: /proc/net/tcp{,6} and the
 * process's descriptors). A port from freePort() is free only when it is picked: until the child
 * binds it, another test's server may take it, and its /readyz would then answer for ours. Where
 * /proc cannot tell, true.
 */
export function listensOn(pid: number, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl, local address, remote address, state (0A: LISTEN), ..., inode (the 10th)
      if (cols[3] === '0A' && cols[1]?.endsWith(hex) && cols[9]) inodes.add(cols[9]);
    }
  }
  if (!readable) return true;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m?.[1] !== undefined && inodes.has(m[1]);
    } catch {
      return false;
    }
  });
}

/**
 * `parley serve` as a child process (the real CLI: the runner's bundle, or the sources through tsx
 * with `source`), ready when /readyz answers 200 from that child (not from another test's server
 * that took the port first: the child then exits with EADDRINUSE, and it starts again on another
 * port). `nodeArgs` come before the script (e.g. `--import` of a test fixture).
 */
export async function spawnParley(
  env: Record<string, string>,
  opts: { nodeArgs?: readonly string[]; source?: boolean } = {},
): Promise<ParleyProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-proc-'));
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnParleyOn(await freePort(), env, opts, dataDir);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 5) throw err;
    }
  }
}

/** The port given to spawnParleyOn was another process's by the time the child tried to bind it. */
export class PortTaken extends Error {}

/** One start of `parley serve` on `port` (spawnParley picks the port and starts again on PortTaken). */
export async function spawnParleyOn(
  port: number,
  env: Record<string, string>,
  opts: { nodeArgs?: readonly string[]; source?: boolean },
  dataDir: string,
): Promise<ParleyProcess> {
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
    if (child.exitCode !== null) {
      if (out.includes('EADDRINUSE')) throw new PortTaken(`port ${port} was taken before parley bound it`);
      throw new Error(`parley exited with ${child.exitCode}:\n${out}`);
    }
    try {
      const r = await fetch(`${url}/readyz`);
      await r.arrayBuffer();
      if (r.status === 200 && child.pid !== undefined && listensOn(child.pid, port)) break;
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
