import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createParley } from '../src/parley.js';
import { freshDatabase, testEngines } from './helpers/harness.js';
import { bounded, LiveSocket } from './helpers/live.js';
import { bootstrapKey, type ParleyProcess, sleep, spawnParley } from './helpers/processes.js';

/**
 * `parley serve` stopped by a signal: a real process, real sockets. A request in flight is held
 * open by the client (it sends `Expect: 100-continue`, waits for the server's 100 Continue, which
 * proves the request has reached the server, and only then sends its body).
 */

interface SlowRequest {
  /** Resolves once the server has answered 100 Continue: the request is in flight. */
  continued: Promise<void>;
  sendBody(): void;
  /** The final answer: status and body. */
  response: Promise<{ status: number; body: string }>;
  /** Resolves when the server closes the connection (the client never does). */
  closed: Promise<void>;
}

function slowPost(url: string, path: string, key: string, body: string): SlowRequest {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let buf = '';
  let onContinue: () => void = () => {};
  let onResponse: (r: { status: number; body: string }) => void = () => {};
  const continued = new Promise<void>((r) => {
    onContinue = r;
  });
  const response = new Promise<{ status: number; body: string }>((r) => {
    onResponse = r;
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    if (buf.startsWith('HTTP/1.1 100 ')) onContinue();
    const rest = buf.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '');
    const head = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n/.exec(rest);
    if (!head) return;
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head[0])?.[1] ?? 0);
    const payload = rest.slice(head[0].length);
    if (Buffer.byteLength(payload, 'latin1') >= length) onResponse({ status: Number(head[1]), body: payload });
  });
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      `Host: ${hostname}:${port}`,
      `Authorization: Bearer ${key}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Expect: 100-continue',
      '',
      '',
    ].join('\r\n'),
  );
  return { continued, sendBody: () => socket.write(body), response, closed };
}

/** Resolves once nothing listens on the server's port any more (connections are refused). */
async function refused(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const s = net.connect(Number(port), hostname);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (!accepted) return;
    await sleep(50);
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, signal: null });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

for (const engine of testEngines()) {
  describe(`shutdown on a signal [${engine}]`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    async function start(graceMs: number): Promise<{ proc: ParleyProcess; key: string }> {
      // SQLite: the file in the process's own data dir; PostgreSQL: a fresh database
      const db = engine === 'postgres' ? await freshDatabase(engine, '') : null;
      const env = { PARLEY_SHUTDOWN_GRACE_MS: String(graceMs), ...(db ? { PARLEY_DATABASE_URL: db.url } : {}) };
      // the free port spawnParley picks can be taken by another process before the child binds it
      let proc: ParleyProcess | undefined;
      for (let attempt = 1; proc === undefined; attempt++) {
        try {
          proc = await spawnParley(env);
        } catch (err) {
          if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
        }
      }
      cleanups.push(async () => {
        await proc.stop();
        await db?.drop();
      });
      // ready (listening) comes before the first-start banner is printed: wait for the banner
      const banner = async () => {
        while (!/^ {4}\S+$/m.test(proc.output())) await sleep(50);
      };
      await bounded(banner(), 'the first-start banner');
      return { proc, key: bootstrapKey(proc.output()) };
    }

    test('SIGTERM: the listener closes, a request in flight completes within the grace, live streams get 1001, exit 0', async () => {
      const { proc, key } = await start(600_000);
      const created = await fetch(`${proc.url}/v1/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"title":"live"}',
      });
      const liveId = ((await created.json()) as { data: { id: string } }).data.id;
      const live = await LiveSocket.ready(`${proc.url}/v1/conversations/${liveId}/stream`, {
        headers: { authorization: `Bearer ${key}` },
      });

      const slow = slowPost(proc.url, '/v1/conversations', key, '{"title":"in flight at shutdown"}');
      await bounded(slow.continued, 'the server to accept the request (100 Continue)');
      const exited = exitOf(proc.child);
      proc.child.kill('SIGTERM');

      assert.equal((await live.closed).code, 1001, 'a live stream is closed as going away');
      await bounded(refused(proc.url), 'the listener to close');
      slow.sendBody();
      const answer = await bounded(slow.response, 'the answer to the request in flight');
      assert.equal(answer.status, 201, answer.body);
      assert.equal(JSON.parse(answer.body).data.title, 'in flight at shutdown');
      // the client keeps its connection; the server lets it go once its request is done (well
      // before the 600 s grace; the bound only guards against a hang)
      await bounded(slow.closed, 'the server to close the finished connection');
      assert.deepEqual(await bounded(exited, 'the process to exit'), { code: 0, signal: null }, proc.output());
    });

    test('a request still in flight when the grace ends is cut off; the process still exits 0', async () => {
      const { proc, key } = await start(300);
      const slow = slowPost(proc.url, '/v1/conversations', key, '{"title":"never sent"}');
      await bounded(slow.continued, 'the server to accept the request (100 Continue)');
      const exited = exitOf(proc.child);
      proc.child.kill('SIGTERM');
      await bounded(slow.closed, 'the server to cut the connection at the end of the grace');
      let answered = false;
      void slow.response.then(() => {
        answered = true;
      });
      assert.deepEqual(await bounded(exited, 'the process to exit'), { code: 0, signal: null }, proc.output());
      assert.equal(answered, false, 'no answer was sent for the unfinished request');
    });

    test('a second signal exits at once, without waiting for the grace', async () => {
      const { proc, key } = await start(600_000);
      const slow = slowPost(proc.url, '/v1/conversations', key, '{"title":"held"}');
      await bounded(slow.continued, 'the server to accept the request (100 Continue)');
      const exited = exitOf(proc.child);
      proc.child.kill('SIGTERM');
      await bounded(refused(proc.url), 'the listener to close'); // the first signal has been handled
      proc.child.kill('SIGTERM');
      // well before the 600 s grace (the bound only guards against a hang)
      assert.deepEqual(await bounded(exited, 'the process to exit'), { code: 143, signal: null }, proc.output());
    });
  });
}

describe('createParley result is AsyncDisposable', () => {
  test('`await using` closes it at the end of the scope; close and dispose again are no-ops', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-dispose-'));
    try {
      const config = loadConfig(
        {},
        { http: { host: '127.0.0.1', port: 0 }, database: { dataDir }, log: { level: 'silent' } },
      );
      let kept: Awaited<ReturnType<typeof createParley>> | undefined;
      let url = '';
      {
        await using parley = await createParley(config, { logger: createLogger({ level: 'silent' }) });
        kept = parley;
        url = await parley.start();
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
      }
      await bounded(refused(url), 'the listener to be closed by the end of the scope');
      assert.ok(kept);
      await kept.close();
      await kept[Symbol.asyncDispose]();
      await assert.rejects(kept.store.ping(), 'the store is closed too');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
