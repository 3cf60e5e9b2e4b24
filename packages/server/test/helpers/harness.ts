import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ManualClock } from '../../src/clock.js';
import { type ConfigOverrides, loadConfig, mergeOverrides } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createParley, type Parley } from '../../src/parley.js';

export type Engine = 'sqlite' | 'postgres';

/** Engines this run covers, from PARLEY_TEST_ENGINES (the runner sets it; default sqlite). */
export function testEngines(): Engine[] {
  return (process.env.PARLEY_TEST_ENGINES ?? 'sqlite').split(',').filter(Boolean) as Engine[];
}

/**
 * Engines the browser suites (the console, the live example) run on: those of PARLEY_TEST_ENGINES
 * that PARLEY_TEST_BROWSER_ENGINES names, when it is set (CI: sqlite — the pages are HTTP clients of
 * the API, which every other suite runs on both engines). Naming an engine the run does not cover
 * is an error, not an empty suite.
 */
export function browserEngines(): Engine[] {
  const only = process.env.PARLEY_TEST_BROWSER_ENGINES?.split(',').filter(Boolean);
  if (!only) return testEngines();
  const run = testEngines();
  const unknown = only.filter((e) => !run.includes(e as Engine));
  if (unknown.length > 0) {
    throw new Error(`PARLEY_TEST_BROWSER_ENGINES names ${unknown.join(', ')}, not in PARLEY_TEST_ENGINES`);
  }
  return only as Engine[];
}

export interface TestServer {
  url: string;
  parley: Parley;
  clock: ManualClock;
  /** The instance admin key printed on first start. */
  instanceKey: string;
  defaultWorkspaceId: string;
  dataDir: string;
  close(): Promise<void>;
}

/** Database URL for a fresh, empty database of the given engine; each suite gets its own. */
export async function freshDatabase(
  engine: Engine,
  dataDir: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (engine === 'sqlite') return { url: `sqlite:${path.join(dataDir, 'parley.db')}`, drop: async () => {} };
  const { freshPostgresDatabase } = await import('./postgres.js');
  return freshPostgresDatabase();
}

/** A real server on a free port, with its own database and a movable clock. */
export async function startServer(
  engine: Engine = 'sqlite',
  overrides: ConfigOverrides = {},
  opts: { logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-test-'));
  const db = await freshDatabase(engine, dataDir);
  const config = loadConfig(
    {},
    mergeOverrides(
      { http: { host: '127.0.0.1', port: 0 }, database: { dataDir, url: db.url }, log: { level: 'silent' } },
      overrides,
    ),
  );
  const clock = new ManualClock();
  let parley: Parley | undefined;
  let url: string;
  try {
    parley = await createParley(config, { clock, logger: opts.logger ?? createLogger({ level: 'silent' }) });
    url = await parley.start();
  } catch (err) {
    // a server that never came up must not leave its database (or files) behind
    await parley?.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const boot = parley.bootstrapped;
  if (!boot) throw new Error('expected a bootstrapped instance');
  const running = parley;
  return {
    url,
    parley: running,
    clock,
    instanceKey: boot.key.secret,
    defaultWorkspaceId: boot.workspace.id,
    dataDir,
    async close() {
      await running.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A small HTTP client bound to one server and (optionally) one key. */
export class Client {
  constructor(
    readonly url: string,
    readonly key?: string,
  ) {}

  with(key: string | undefined): Client {
    return new Client(this.url, key);
  }

  async request<T = any>(
    method: string,
    path: string,
    opts: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.key !== undefined && !('authorization' in headers)) headers.authorization = `Bearer ${this.key}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    // JSON answers only: a JSONL (application/x-ndjson) body stays text
    if (text.length > 0 && /^application\/(?:[\w.-]+\+)?json(?:;|$)/.test(res.headers.get('content-type') ?? '')) {
      parsed = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, { headers });
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, { body, headers });
  }
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, { body, headers });
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, { headers });
  }
}

export interface TestWorkspace {
  id: string;
  admin: Client;
  /** Mints a key in this workspace. */
  key(scopes: string[], extra?: Record<string, unknown>): Promise<{ id: string; secret: string; client: Client }>;
}

/** A fresh workspace with an admin key, made through the public API. */
export async function newWorkspace(server: TestServer, name = 'test'): Promise<TestWorkspace> {
  const instance = new Client(server.url, server.instanceKey);
  const r = await instance.post('/v1/workspaces', { name });
  if (r.status !== 201) throw new Error(`workspace create failed: ${r.status} ${r.text}`);
  const admin = new Client(server.url, r.body.data.secret);
  return {
    id: r.body.data.workspace.id,
    admin,
    async key(scopes, extra = {}) {
      const k = await admin.post('/v1/keys', { name: `k-${scopes.join('-')}`, scopes, ...extra });
      if (k.status !== 201) throw new Error(`key create failed: ${k.status} ${k.text}`);
      return { id: k.body.data.key.id, secret: k.body.data.secret, client: new Client(server.url, k.body.data.secret) };
    },
  };
}

/** Commits of more than one write so far, from a server's parley_group_commit_size histogram. */
export async function groupedCommits(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return num(/^parley_group_commit_size_count (\d+)$/m) - num(/^parley_group_commit_size_bucket\{le="1"\} (\d+)$/m);
}
