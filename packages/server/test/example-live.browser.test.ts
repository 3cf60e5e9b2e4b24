import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { browserEngines, Client } from './helpers/harness.js';
import { bounded } from './helpers/live.js';
import { bootstrapKey, type ParleyProcess, sleep, spawnParley } from './helpers/processes.js';

/**
 * examples/live.html end to end in a real browser: `parley serve` (what `npm start` runs) serves
 * the page, headless Debian chromium opens it and connects with a stream token, the page replays
 * the conversation's history, messages are appended with curl, and the page must show them after
 * it. PARLEY_BROWSER_SCREENSHOT=file.png saves what the page looks like. Chromium is driven over the DevTools protocol
 * with `ws`. A missing chromium fails the test (CI installs it), it never skips.
 */
const run = promisify(execFile);

function chromiumPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  const found = r.stdout.trim().split('\n')[0];
  if (!found) {
    throw new Error(
      'chromium is not installed: this test drives a real browser. Install it with `apt-get install -y chromium` ' +
        '(.ci/run does this in CI).',
    );
  }
  return found;
}

/** One DevTools session on a page target. */
class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error.message));
      else p?.resolve(m.result);
    });
  }
  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await bounded(
      new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
      `the DevTools socket ${url} to open`,
    );
    return new Cdp(ws);
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return bounded(
      new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })),
      `the browser to answer ${method}`,
    );
  }
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`page script failed: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }
  close(): void {
    this.ws.close();
  }
}

/**
 * Polls the page until `read` returns something that satisfies `ok` (bounded; reports the last value).
 * A read that throws counts as "not yet": an evaluation that races a navigation fails with
 * "Execution context was destroyed" while the new document replaces the old one.
 */
async function pageUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const attempt = async (): Promise<{ value?: T; error?: unknown }> => {
    try {
      return { value: await read() };
    } catch (error) {
      return { error };
    }
  };
  let last = await attempt();
  for (let i = 0; i < 200 && !('value' in last && ok(last.value as T)); i++) {
    await sleep(50);
    last = await attempt();
  }
  assert.ok(
    'value' in last && ok(last.value as T),
    `${what}; the page shows: ${JSON.stringify(last.value)} ${last.error ?? ''}`,
  );
  return last.value as T;
}

for (const engine of browserEngines()) {
  describe(`examples/live.html in headless chromium [${engine}]`, () => {
    let server: ParleyProcess;
    let browser: ChildProcess | undefined;
    let profile: string;
    let cdp: Cdp;
    let dropDb: (() => Promise<void>) | undefined;
    let key: string;

    before(async () => {
      const bin = chromiumPath();
      const env: Record<string, string> = {};
      if (engine === 'postgres') {
        const { freshPostgresDatabase } = await import('./helpers/postgres.js');
        const db = await freshPostgresDatabase();
        env.PARLEY_DATABASE_URL = db.url;
        dropDb = db.drop;
      }
      server = await spawnParley(env);
      // first start prints the admin key after it listens, so /readyz can answer before the banner
      let instanceKey = '';
      for (let i = 0; i < 200 && instanceKey === ''; i++) {
        if (/^ {4}\S+$/m.test(server.output())) instanceKey = bootstrapKey(server.output());
        else await sleep(50);
      }
      if (instanceKey === '') instanceKey = bootstrapKey(server.output()); // throws with the output
      const admin = new Client(server.url, instanceKey);
      const ws = await admin.post('/v1/workspaces', { name: 'browser' });
      const k = await new Client(server.url, ws.body.data.secret).post('/v1/keys', {
        name: 'page',
        scopes: ['read:ai', 'write:ai'],
      });
      key = k.body.data.secret;

      profile = mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
      browser = spawn(
        bin,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          '--remote-debugging-port=0',
          'about:blank',
        ],
        { stdio: 'ignore' },
      );
      // chromium writes the port it picked into the profile; the file can exist before its first
      // line is written (a loaded machine showed it: the port read as '' and fetch went to port 80)
      const portFile = path.join(profile, 'DevToolsActivePort');
      const readPort = () => (existsSync(portFile) ? readFileSync(portFile, 'utf8').split('\n')[0] : '');
      let port = readPort();
      for (let i = 0; i < 300 && !/^\d+$/.test(port ?? ''); i++) {
        if (browser.exitCode !== null) throw new Error(`chromium exited with ${browser.exitCode}`);
        await sleep(50);
        port = readPort();
      }
      assert.match(port ?? '', /^\d+$/, `chromium wrote no DevTools port into ${portFile}`);
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
        type: string;
        webSocketDebuggerUrl: string;
      }>;
      const page = targets.find((t) => t.type === 'page');
      assert.ok(page, 'chromium has a page target');
      cdp = await Cdp.connect(page.webSocketDebuggerUrl);
      await cdp.send('Runtime.enable');
    });

    after(async () => {
      cdp?.close();
      if (browser && browser.exitCode === null) {
        const exited = new Promise((r) => browser?.once('exit', r));
        browser.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (browser.exitCode === null) browser.kill('SIGKILL');
      }
      if (profile) rmSync(profile, { recursive: true, force: true });
      await server?.stop();
      await dropDb?.();
    });

    test('the page shows the history first, then messages appended with curl, live; the status follows seq', async () => {
      const api = new Client(server.url, key);
      const conv = await api.post('/v1/conversations', {
        title: 'browser',
        messages: [
          { role: 'user', content: 'before the page' },
          { role: 'assistant', content: 'an earlier answer' },
        ],
      });
      assert.equal(conv.status, 201);
      const id = conv.body.data.id as string;
      assert.equal((await api.patch(`/v1/conversations/${id}`, { title: 'renamed' })).status, 200); // seq 3
      const minted = await api.post(`/v1/conversations/${id}/stream-tokens`, { expires_in: 120 });
      assert.equal(minted.status, 201);

      await cdp.send('Page.navigate', { url: `${server.url}/examples/live?conversation=${id}` });
      await pageUntil(
        () => cdp.eval<string>("document.readyState + ' ' + !!document.getElementById('token')"),
        (v) => v === 'complete true',
        'the example page did not load',
      );
      // the favicon is an inline SVG the page's Content-Security-Policy lets load (no network needed)
      const favicon = await cdp.eval<string>(`(() => {
        const href = document.querySelector('link[rel=icon]')?.href ?? '';
        if (!href.startsWith('data:image/svg+xml,')) return 'not an inline svg: ' + href;
        return new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve('loaded');
          img.onerror = () => resolve('blocked');
          img.src = href;
        });
      })()`);
      assert.equal(favicon, 'loaded');
      // every value the status line takes, in order
      await cdp.eval(`(() => {
        window.statuses = [];
        new MutationObserver((records) => {
          for (const r of records) for (const n of r.addedNodes) window.statuses.push(n.textContent);
        }).observe(document.getElementById('status'), { childList: true });
      })()`);
      // paste the token and connect, as a user would
      await cdp.eval(`(() => {
        document.getElementById('token').value = ${JSON.stringify(minted.body.data.token)};
        document.getElementById('form').requestSubmit();
      })()`);
      const items = () =>
        cdp.eval<Array<[string, string]>>(
          "[...document.querySelectorAll('#log li')].map((li) => [li.textContent, li.className])",
        );
      const history = await pageUntil(items, (v) => v.length >= 4, 'the history did not show');
      assert.deepEqual(history, [
        ['user: before the page', 'user history'],
        ['assistant: an earlier answer', 'assistant history'],
        ['conversation.updated', 'event history'],
        ['live from here', 'divider'],
      ]);
      assert.deepEqual(await cdp.eval<string[]>('window.statuses'), [
        'connected',
        'loading history · seq 0 of 3',
        'loading history · seq 1 of 3',
        'loading history · seq 2 of 3',
        'live · seq 3',
      ]);

      for (const text of ['hello from curl', 'second message, ünïcode ✓']) {
        const body = JSON.stringify({ role: 'user', content: text });
        const { stdout } = await run('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-X',
          'POST',
          '-H',
          `Authorization: Bearer ${key}`,
          '-H',
          'content-type: application/json',
          '--data-binary',
          body,
          `${server.url}/v1/conversations/${id}/messages`,
        ]);
        assert.equal(stdout, '201', 'curl append');
      }
      const shown = await pageUntil(items, (v) => v.length >= 6, 'the appended messages did not show up');
      assert.deepEqual(shown.slice(4), [
        ['user: hello from curl', 'user live'],
        ['user: second message, ünïcode ✓', 'user live'],
      ]);
      await pageUntil(
        () => cdp.eval<string>("document.getElementById('status').textContent"),
        (s) => s === 'live · seq 5',
        'the status did not follow seq',
      );
      assert.deepEqual((await cdp.eval<string[]>('window.statuses')).slice(5), ['live · seq 4', 'live · seq 5']);
      const shot = process.env.PARLEY_BROWSER_SCREENSHOT;
      if (shot) {
        const { cssContentSize: size } = await cdp.send('Page.getLayoutMetrics');
        const png = await cdp.send('Page.captureScreenshot', {
          format: 'png',
          captureBeyondViewport: true,
          clip: { x: 0, y: 0, width: size.width, height: size.height, scale: 1 },
        });
        writeFileSync(shot, Buffer.from(png.data as string, 'base64'));
      }

      // a forced delete ends the page's stream with the documented close code
      assert.equal((await api.delete(`/v1/conversations/${id}?force=true`)).status, 204);
      await pageUntil(
        () => cdp.eval<string>("document.getElementById('status').textContent"),
        (s) => s.startsWith('closed 4410'),
        'the page was not told the conversation was deleted',
      );
    });
  });
}
