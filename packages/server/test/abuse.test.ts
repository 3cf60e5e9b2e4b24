import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { newId, ulidToUuid } from '../src/ids.js';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { bounded, LiveSocket } from './helpers/live.js';

/**
 * Load and abuse: slow clients (headers trickled, bodies trickled) are cut off by the explicit
 * header and request timeouts without starving anyone else; many idle live streams and one slow
 * consumer; a burst of bad keys is rate-limited per address on every surface; every page carries
 * the security headers.
 */

/**
 * A socket that sends `head` then one byte of `trickle` every `everyMs` until the server closes it;
 * resolves with what the server answered (its status line, if any) and how long it held on.
 */
function slowClient(
  url: string,
  head: string,
  trickle: string,
  everyMs: number,
  giveUpMs: number,
): { done: Promise<{ status: number | null; heldMs: number }>; ready: Promise<void> } {
  const { port } = new URL(url);
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => {
    readyResolve = r;
  });
  const done = new Promise<{ status: number | null; heldMs: number }>((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), '127.0.0.1');
    let got = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    // the client gives up (no status) if the server never cuts it off, so a broken bound fails fast
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('connect', () => {
      socket.write(head);
      readyResolve();
      timer = setInterval(() => {
        if (socket.destroyed) return;
        socket.write(trickle[i % trickle.length] ?? 'x');
        i++;
      }, everyMs);
    });
    socket.on('data', (d) => {
      got += String(d);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : null, heldMs: Date.now() - started });
    });
  });
  return { done, ready };
}

for (const engine of testEngines()) {
  describe(`slow clients are held by explicit timeouts [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    const HEADERS_MS = 1500;
    const REQUEST_MS = 3000;

    before(async () => {
      server = await startServer(engine, {
        http: { headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS },
        limits: { rate: 1_000_000, rateAnonymous: 1_000_000 },
      });
      api = (await newWorkspace(server)).admin;
    });
    after(async () => server.close());

    test('200 slowloris sockets (headers trickled) are cut off with 408 while a normal client is served', async () => {
      const slow = Array.from({ length: 200 }, () =>
        slowClient(
          server.url,
          'GET /v1/conversations HTTP/1.1\r\nHost: x\r\n',
          'X-Slow: 1\r\n',
          200,
          REQUEST_MS + 15_000,
        ),
      );
      await bounded(Promise.all(slow.map((s) => s.ready)), '200 slow sockets to connect');
      // while they all hang on: a normal client is served, several times over
      for (let i = 0; i < 5; i++) {
        const r = await api.post('/v1/conversations', { title: `while slowloris ${i}` });
        assert.equal(r.status, 201, r.text);
        assert.equal((await api.get('/v1/conversations?per_page=1')).status, 200);
      }
      const outcomes = await bounded(Promise.all(slow.map((s) => s.done)), 'the server to close 200 slow sockets');
      const statuses = new Map<string, number>();
      for (const o of outcomes) statuses.set(String(o.status), (statuses.get(String(o.status)) ?? 0) + 1);
      assert.deepEqual([...statuses.keys()], ['408'], `every slow socket got 408: ${JSON.stringify([...statuses])}`);
      const longest = Math.max(...outcomes.map((o) => o.heldMs));
      // a bound, not a timing claim: trickling kept them alive, so only the headers timeout ended them
      assert.ok(longest < REQUEST_MS + 15_000, `the longest was held ${longest} ms`);
      console.log(`# slowloris: 200 sockets, all 408, longest held ${longest} ms (headers timeout ${HEADERS_MS} ms)`);
      assert.equal((await api.get('/healthz')).status, 200);
    });

    test('slow bodies (a byte at a time) are cut off with 408 by the request timeout; nothing is stored', async () => {
      const before = (await api.get('/v1/conversations?per_page=1')).body.meta.total;
      const key = api.key as string;
      const body = JSON.stringify({ title: 'slow body' });
      const slow = Array.from({ length: 50 }, () =>
        slowClient(
          server.url,
          `POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 10_000}\r\n\r\n`,
          ' ',
          200,
          REQUEST_MS + 15_000,
        ),
      );
      await bounded(Promise.all(slow.map((s) => s.ready)), 'slow-body sockets to connect');
      const ok = await api.post('/v1/conversations', { title: 'while slow bodies' });
      assert.equal(ok.status, 201, ok.text);
      const outcomes = await bounded(Promise.all(slow.map((s) => s.done)), 'the server to close slow-body sockets');
      assert.deepEqual([...new Set(outcomes.map((o) => o.status))], [408]);
      const longest = Math.max(...outcomes.map((o) => o.heldMs));
      assert.ok(longest < REQUEST_MS + 15_000, `the longest was held ${longest} ms`);
      console.log(`# slow body: 50 sockets, all 408, longest held ${longest} ms (request timeout ${REQUEST_MS} ms)`);
      assert.equal((await api.get('/v1/conversations?per_page=1')).body.meta.total, before + 1, 'only the normal one');
    });
  });

  describe(`many idle live streams and one slow consumer [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let key: string;

    before(async () => {
      server = await startServer(engine, {
        ws: { maxBufferedBytes: 256 * 1024 },
        limits: { rate: 1_000_000, rateAnonymous: 1_000_000 },
      });
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      key = k.secret;
    });
    after(async () => server.close());

    test('500 idle streams stay up and keep receiving while a slow consumer is closed with 1013', async () => {
      const auth = { headers: { authorization: `Bearer ${key}` } };
      const rooms: string[] = [];
      for (let i = 0; i < 50; i++)
        rooms.push((await api.post('/v1/conversations', { title: `idle ${i}` })).body.data.id);
      const idle: Array<{ room: string; s: LiveSocket }> = [];
      for (let i = 0; i < 500; i++) {
        const room = rooms[i % rooms.length] as string;
        idle.push({ room, s: await LiveSocket.ready(`${server.url}/v1/conversations/${room}/stream`, auth) });
      }
      const hose = (await api.post('/v1/conversations', { title: 'firehose' })).body.data.id as string;
      const url = `${server.url}/v1/conversations/${hose}/stream`;
      const healthy = await LiveSocket.ready(url, auth);
      const slow = await LiveSocket.ready(url, auth);
      slow.ws.pause();
      const live = async () => (await api.get(`/v1/conversations/${hose}`)).body.data.live_connections;
      const big = 'z'.repeat(128 * 1024);
      let sent = 0;
      while ((await live()) === 2 && sent < 400) {
        const r = await api.post(`/v1/conversations/${hose}/messages`, { role: 'assistant', content: big });
        assert.equal(r.status, 201, r.text);
        sent++;
      }
      assert.equal(await live(), 1, `the slow consumer was dropped (after ${sent} messages of 128 KiB)`);
      slow.ws.resume();
      assert.equal((await slow.closed).code, 1013);
      assert.equal((await healthy.waitForEvents(sent)).length, sent, 'the healthy one got every message');
      // every idle stream is still attached and receives what is posted to its conversation now
      for (const room of rooms) {
        const r = await api.post(`/v1/conversations/${room}/messages`, { role: 'user', content: `ping ${room}` });
        assert.equal(r.status, 201);
      }
      for (const { room, s } of idle) {
        const [e] = await s.waitForEvents(1);
        assert.equal(e?.data.content, `ping ${room}`);
      }
      const perRoom = await api.get(`/v1/conversations/${rooms[0]}`);
      assert.equal(perRoom.body.data.live_connections, 10);
      console.log(`# live streams: 500 idle + 1 healthy kept; the slow one closed 1013 after ${sent} × 128 KiB`);
      for (const { s } of idle) s.close();
      healthy.close();
    });
  });

  describe(`bad keys are rate-limited per client address on every surface [${engine}]`, () => {
    let server: TestServer;
    const LIMIT = 20;

    before(async () => {
      server = await startServer(engine, { limits: { rateAnonymous: LIMIT } });
    });
    after(async () => server.close());

    test('a burst of guessed keys gets 429 with Retry-After after the anonymous limit, on every surface', async () => {
      const ws = await newWorkspace(server);
      const good = await ws.key(['read:ai'], { rate_limit: 1000 });
      // align to the start of a window so the burst cannot straddle two
      const windowMs = server.parley.config.limits.windowSeconds * 1000;
      server.clock.advance(windowMs - (server.clock.now() % windowMs) + 5);
      const guess = () => `prl_${newId('request').slice(4, 30)}${'A'.repeat(17)}`;
      const conv = newId('conversation');
      const tries: Array<[string, () => Promise<Response>]> = [
        ['native', () => fetch(`${server.url}/v1/conversations`, { headers: { authorization: `Bearer ${guess()}` } })],
        [
          'leadlex',
          () => fetch(`${server.url}/v1/lexi/conversations`, { headers: { authorization: `Bearer ${guess()}` } }),
        ],
        [
          'lexicon',
          () => fetch(`${server.url}/api/v1/chats/${ulidToUuid(conv.slice(5))}`, { headers: { 'x-api-key': guess() } }),
        ],
        [
          'fini',
          () => fetch(`${server.url}/v2/hc-interactions/public`, { headers: { authorization: `Bearer ${guess()}` } }),
        ],
        [
          'botpress',
          () =>
            fetch(`${server.url}/v1/chat/conversations`, {
              headers: { authorization: `Bearer ${guess()}`, 'x-bot-id': 'b' },
            }),
        ],
        [
          'openai',
          () =>
            fetch(`${server.url}/openai/v1/conversations/${conv}`, { headers: { authorization: `Bearer ${guess()}` } }),
        ],
      ];
      // a concurrent burst of 120 guesses (20 per surface) from one address: line rate
      const burst = await Promise.all(
        Array.from({ length: 120 }, (_, i) => (tries[i % tries.length] as (typeof tries)[number])[1]()),
      );
      const statuses = burst.map((r) => r.status);
      const refused = statuses.filter((s) => s === 401).length;
      const limited = burst.filter((r) => r.status === 429);
      assert.equal(refused + limited.length, 120, `only 401 or 429: ${[...new Set(statuses)]}`);
      assert.ok(refused <= LIMIT, `at most ${LIMIT} guesses were even checked (${refused})`);
      for (const r of limited) assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After on every 429');
      // every surface answers its 429 in its own shape
      for (const [surface, run] of tries) {
        const r = await run();
        assert.equal(r.status, 429, surface);
        assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, `${surface}: Retry-After`);
        const b = (await r.json()) as any;
        const shaped =
          surface === 'native' || surface === 'leadlex'
            ? b.error?.code === 'rate_limited'
            : surface === 'lexicon'
              ? typeof b.detail === 'string'
              : surface === 'fini'
                ? b.statusCode === 429
                : surface === 'botpress'
                  ? b.code === 429
                  : typeof b.error?.type === 'string';
        assert.ok(shaped, `${surface}: ${JSON.stringify(b)}`);
      }
      // a valid key keeps its own quota meanwhile
      const own = await good.client.get('/v1/conversations');
      assert.equal(own.status, 200, own.text);
      console.log(`# bad-key burst: 120 concurrent guesses, ${refused} checked (401), ${limited.length} × 429`);
    });
  });
}

describe('security headers on every response', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer('sqlite', { limits: { rate: 1_000_000, rateAnonymous: 1_000_000 } });
  });
  after(async () => server.close());

  test('every GET route: nosniff, no X-Powered-By; every HTML page a Content-Security-Policy', async () => {
    const ws = await newWorkspace(server);
    const api = ws.admin;
    const c = await api.post('/v1/conversations', {
      user_id: 'u',
      bot_id: 'b',
      messages: [{ role: 'user', content: 'x' }],
    });
    const conv = c.body.data.id as string;
    const msg = c.body.data.messages[0].id as string;
    const tool = (await api.post(`/v1/conversations/${conv}/tool-invocations`, { tool_name: 't' })).body.data.id;
    const key = (await ws.key(['read:ai'])).id;
    // every GET route the server registered, read from its own route table
    const table = server.parley.app.printRoutes({ commonPrefix: false });
    // a tree: each line's segment continues its parent's path (the depth is its indentation)
    const paths = new Set<string>();
    const stack: string[] = [];
    for (const line of table.split('\n')) {
      const at = line.indexOf('── ');
      const m = /── (\S+) \(([A-Z, ]+)\)/.exec(line);
      if (at < 0 || !m) continue;
      const depth = (at - 1) / 4;
      stack[depth] = (depth > 0 ? (stack[depth - 1] ?? '') : '') + (m[1] ?? '');
      stack.length = depth + 1;
      if (m[2]?.split(', ').includes('GET')) paths.add(stack[depth] as string);
    }
    assert.ok(paths.size > 25, `${paths.size} GET routes`);
    for (const p of ['/docs', '/docs/errors', '/examples/live', '/openapi.json']) assert.ok(paths.has(p), p);
    const fill = (p: string) =>
      p
        .replace(':tool_id', tool)
        .replace(':item_id', msg)
        .replace(':user_id', 'u')
        .replace(/^\/v1\/keys\/:id/, `/v1/keys/${key}`)
        .replace(/^\/v1\/workspaces\/:id/, `/v1/workspaces/${ws.id}`)
        .replace(/^\/v1\/chat\/messages\/:id/, `/v1/chat/messages/${msg}`)
        .replace(/:chat_id|^(\/v2\/hc-interactions\/):id/, (_m, pre) => (pre ? pre : '') + ulidToUuid(conv.slice(5)))
        .replace(/:[a-z_]+/g, conv)
        .replace(/\*$/, 'index.html');
    const failures: string[] = [];
    let html = 0;
    for (const p of [...paths, '/', '/docs/', '/no-such-page']) {
      const path = fill(p);
      // the live streams answer 426/400 to a plain GET, which is a response like any other
      for (const headers of [
        { authorization: `Bearer ${api.key}`, 'x-api-key': api.key as string, 'x-bot-id': 'b' },
        {},
      ]) {
        const r = await fetch(server.url + path, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
        const type = r.headers.get('content-type') ?? '';
        // an event stream never ends: its headers are what is checked
        if (type.startsWith('text/event-stream')) await r.body?.cancel();
        else await r.arrayBuffer();
        if (r.status >= 500) failures.push(`${path}: ${r.status}`);
        if (r.headers.get('x-content-type-options') !== 'nosniff') failures.push(`${path} ${r.status}: no nosniff`);
        if (r.headers.get('x-powered-by') !== null) failures.push(`${path}: X-Powered-By`);
        if (type.startsWith('text/html')) {
          html++;
          const csp = r.headers.get('content-security-policy') ?? '';
          if (!/default-src/.test(csp)) failures.push(`${path}: an HTML page without a CSP (${csp})`);
        }
      }
    }
    console.log(
      `# security headers: ${paths.size} GET routes (+3 pages), with and without a key; ${html} HTML answers`,
    );
    assert.ok(html >= 2, `${html} HTML pages seen`);
    assert.deepEqual(failures, []);
  });
});
