import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { ulidToUuid, uuidToUlid } from '../src/ids.js';
import { createLogger } from '../src/log.js';
import { createParley } from '../src/parley.js';
import {
  Client,
  freshDatabase,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { bounded, describePredicate, eventually, WAIT_MS } from './helpers/live.js';

type LexFrame = { event_type: string; timestamp: string } & Record<string, any>;

/** A real `ws` client on Lexicon's /ws/chat, recording every frame and how it closed. */
class LexSocket {
  readonly frames: LexFrame[] = [];
  private readonly closing: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  /** How the socket closed; fails after WAIT_MS naming the wait. */
  get closed(): Promise<{ code: number; reason: string }> {
    return bounded(this.closing, () => `the Lexicon socket to close (frames so far: ${this.frameTypes()})`);
  }

  private frameTypes(): string {
    return JSON.stringify(this.frames.map((f) => f.event_type));
  }

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as LexFrame);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closing = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        for (const w of this.waiters.splice(0)) w();
      });
    });
    ws.on('error', () => {});
  }

  static open(base: string, opts: { query?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const qs = new URLSearchParams(opts.query ?? {}).toString();
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/chat${qs ? `?${qs}` : ''}`, {
      headers: opts.headers,
    });
    const s = new LexSocket(ws);
    const opened = new Promise<LexSocket>((resolve, reject) => {
      ws.once('open', () => resolve(s));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return bounded(opened, 'the upgrade of /ws/chat');
  }

  /** Opens and waits for connection_established. */
  static async connected(base: string, opts: Parameters<typeof LexSocket.open>[1]) {
    const s = await LexSocket.open(base, opts);
    await s.waitFor((f) => f.event_type === 'connection_established');
    return s;
  }

  /** Waits for a frame matching `pred`; throws if the socket closes first, or after WAIT_MS naming the wait. */
  waitFor(pred: (f: LexFrame) => boolean, what = `a frame matching ${describePredicate(pred)}`): Promise<LexFrame> {
    const wait = async () => {
      for (;;) {
        const hit = this.frames.find(pred);
        if (hit) return hit;
        if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${what}`);
        await new Promise<void>((r) => this.waiters.push(r));
      }
    };
    return bounded(wait(), () => `${what} (frames so far: ${this.frameTypes()})`, WAIT_MS);
  }

  /** Waits until `n` frames of this type have arrived. */
  async waitForCount(type: string, n: number): Promise<LexFrame[]> {
    await this.waitFor(() => this.of(type).length >= n, `${n} ${type} frames`);
    return this.of(type);
  }

  of(type: string): LexFrame[] {
    return this.frames.filter((f) => f.event_type === type);
  }

  send(v: unknown): void {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }

  close(): void {
    this.ws.close();
  }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const engine of testEngines()) {
  describe(`compat Lexicon Labs WebSocket /ws/chat [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let key: string;
    let api: Client; // native, Bearer
    let lex: (k?: string) => Client; // Lexicon, X-API-Key

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      key = k.secret;
      api = k.client;
      lex = (k2 = key) => {
        const c = new Client(server.url);
        const base = c.request.bind(c);
        c.request = (method, p, opts = {}) =>
          base(method, p, { ...opts, headers: { 'x-api-key': k2, ...opts.headers } });
        return c;
      };
    });
    after(async () => server.close());

    const newChat = async (userId = 'user_1') => {
      const r = await lex().post('/api/v1/chats/', { user_id: userId, title: 'Live chat' });
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };
    const byQuery = (chat: string, userId = 'user_1', k = key) => ({
      query: { api_key: k, user_id: userId, chat_id: chat },
    });
    const byHeaders = (chat: string, userId = 'user_1', k = key) => ({
      headers: { 'X-API-Key': k, 'X-User-ID': userId, 'X-Chat-ID': chat },
    });

    test('query auth: connection_established {user_id, chat_id, tenant_id} is the first frame', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byQuery(chat));
      const first = s.frames[0];
      assert.equal(first?.event_type, 'connection_established');
      assert.equal(first?.user_id, 'user_1');
      assert.equal(first?.chat_id, chat);
      assert.equal(first?.tenant_id, ws.id);
      assert.match(first?.timestamp ?? '', ISO);
      s.close();
      await s.closed;
    });

    test('header auth (X-API-Key, X-User-ID, X-Chat-ID) works the same; conv_ ids are accepted too', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byHeaders(chat));
      assert.equal(s.frames[0]?.chat_id, chat);
      s.close();
      const conv = `conv_${uuidToUlid(chat)}`;
      const t = await LexSocket.connected(server.url, byHeaders(conv));
      assert.equal(t.frames[0]?.chat_id, chat, 'the chat id is always shown as a UUID');
      t.close();
      await Promise.all([s.closed, t.closed]);
    });

    test('a client frame {content, metadata} stores a user message and answers message_received {message_id, chat_id}', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byQuery(chat));
      s.send({ content: 'Hello over the socket', metadata: { source: 'ws' } });
      s.send({ content: 'second' });
      const acks = await s.waitForCount('message_received', 2);
      assert.equal(acks[0]?.chat_id, chat);
      assert.match(acks[0]?.message_id ?? '', UUID);
      assert.deepEqual(Object.keys(acks[0] ?? {}).sort(), ['chat_id', 'event_type', 'message_id', 'timestamp']);
      const msgs = (await lex().get(`/api/v1/chats/${chat}/messages`)).body.messages;
      assert.deepEqual(
        msgs.map((m: { id: string; content: string; sender_role: string; metadata: unknown }) => [
          m.id,
          m.content,
          m.sender_role,
          m.metadata,
        ]),
        [
          [acks[0]?.message_id, 'Hello over the socket', 'user', { source: 'ws' }],
          [acks[1]?.message_id, 'second', 'user', {}],
        ],
        'stored in the order sent, with the acknowledged ids',
      );
      // an assistant reply written natively arrives after the acks; the socket's own messages never echo
      await api.post(`/v1/conversations/${chat}/messages`, { role: 'assistant', content: 'Hi!' });
      await s.waitFor((f) => f.event_type === 'message_stream_ended');
      assert.deepEqual(
        s.frames.map((f) => f.event_type),
        [
          'connection_established',
          'message_received',
          'message_received',
          'message_stream_started',
          'message_stream_token',
          'message_stream_ended',
        ],
      );
      s.close();
      await s.closed;
    });

    test('messages written elsewhere are pushed: native user → message_received with content; assistant → stream started/token/ended; another socket’s message', async () => {
      const chat = await newChat();
      const a = await LexSocket.connected(server.url, byQuery(chat));
      const b = await LexSocket.connected(server.url, byHeaders(chat));
      await api.post(`/v1/conversations/${chat}/messages`, {
        role: 'user',
        content: 'from the API',
        metadata: { x: 1 },
      });
      const got = await a.waitFor((f) => f.event_type === 'message_received');
      assert.equal(got.chat_id, chat);
      assert.equal(got.content, 'from the API');
      assert.equal(got.sender_role, 'user');
      assert.deepEqual(got.metadata, { x: 1 });
      assert.match(got.created_at, ISO);

      const reply = (await api.post(`/v1/conversations/${chat}/messages`, { role: 'assistant', content: 'An answer' }))
        .body.data;
      const ended = await a.waitFor((f) => f.event_type === 'message_stream_ended');
      const started = a.of('message_stream_started')[0];
      const token = a.of('message_stream_token')[0];
      const mid = ulidToUuid(reply.id.slice(4));
      assert.deepEqual([started?.message_id, token?.message_id, ended.message_id], [mid, mid, mid]);
      assert.equal(started?.sender_role, 'assistant');
      assert.equal(token?.token, 'An answer');
      assert.equal(ended.content, 'An answer');

      b.send({ content: 'typed in b' });
      const ack = await b.waitFor((f) => f.event_type === 'message_received' && f.content === undefined);
      const seen = await a.waitFor((f) => f.event_type === 'message_received' && f.content === 'typed in b');
      assert.equal(seen.message_id, ack.message_id, 'a sees b’s message under the id b was given');
      assert.equal(b.of('message_received').filter((f) => f.content === 'typed in b').length, 0, 'b gets no echo');
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
    });

    test('bad frames answer error frames with codes and leave the socket open', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byQuery(chat));
      const cases: Array<[unknown, string]> = [
        ['not json', 'invalid_json'],
        ['[1,2]', 'invalid_json'],
        [{}, 'validation_failed'],
        [{ content: 5 }, 'validation_failed'],
        [{ content: '' }, 'validation_failed'],
        [{ content: 'x', metadata: [1] }, 'validation_failed'],
        [{ content: 'x', extra: true }, 'validation_failed'],
        [{ content: 'nul \u0000 inside' }, 'validation_failed'],
      ];
      for (const [i, [bad]] of cases.entries()) {
        s.send(bad);
        await s.waitForCount('error', i + 1);
      }
      s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      const errors = await s.waitForCount('error', cases.length + 1);
      assert.deepEqual(
        errors.map((e) => e.code),
        [...cases.map(([, code]) => code), 'invalid_json'],
      );
      for (const e of errors) assert.equal(typeof e.message, 'string');
      s.send({ content: 'still open' });
      await s.waitFor((f) => f.event_type === 'message_received');
      assert.equal((await lex().get(`/api/v1/chats/${chat}/messages`)).body.total, 1, 'no bad frame stored anything');
      s.close();
      await s.closed;
    });

    test('a read-only key may listen but not send: insufficient_permissions, nothing stored', async () => {
      const chat = await newChat();
      const ro = await ws.key(['read:ai']);
      const s = await LexSocket.connected(server.url, byQuery(chat, 'user_1', ro.secret));
      s.send({ content: 'not allowed' });
      const e = await s.waitFor((f) => f.event_type === 'error');
      assert.equal(e.code, 'insufficient_permissions');
      assert.equal((await lex().get(`/api/v1/chats/${chat}/messages`)).body.total, 0);
      s.close();
      await s.closed;
    });

    test('auth failures are refused with one error frame and a close code, before any chat frame', async () => {
      const chat = await newChat();
      const other = await newWorkspace(server, 'other');
      const foreignKey = (await other.key(['read:ai', 'write:ai'])).secret;
      const noRead = (await ws.key(['write:ai'])).secret;
      const missing = '0190f5c1-1111-7222-8333-444455556666';
      const cases: Array<[string, Parameters<typeof LexSocket.open>[1], string, number]> = [
        ['no key', { query: { user_id: 'user_1', chat_id: chat } }, 'invalid_key', 4401],
        ['bad key', byQuery(chat, 'user_1', `${key}x`), 'invalid_key', 4401],
        ['bad key in header', byHeaders(chat, 'user_1', 'pk_nonsense'), 'invalid_key', 4401],
        ['key of another tenant', byQuery(chat, 'user_1', foreignKey), 'not_found', 4404],
        ['missing chat', byQuery(missing), 'not_found', 4404],
        ['malformed chat id', byQuery('not-a-uuid'), 'not_found', 4404],
        ['another user’s chat', byQuery(chat, 'user_2'), 'not_found', 4404],
        ['no chat_id', { query: { api_key: key, user_id: 'user_1' } }, 'validation_failed', 1008],
        ['no user_id', { query: { api_key: key, chat_id: chat } }, 'validation_failed', 1008],
        ['key without read:ai', byQuery(chat, 'user_1', noRead), 'insufficient_permissions', 4403],
      ];
      const bodies: Record<string, unknown> = {};
      for (const [name, opts, code, closeCode] of cases) {
        const s = await LexSocket.open(server.url, opts);
        const closed = await s.closed;
        assert.equal(s.frames.length, 1, `${name}: exactly one frame`);
        assert.equal(s.frames[0]?.event_type, 'error', name);
        assert.equal(s.frames[0]?.code, code, name);
        assert.equal(closed.code, closeCode, name);
        const { timestamp: _t, ...rest } = s.frames[0] ?? {};
        bodies[name] = rest;
      }
      assert.deepEqual(bodies['key of another tenant'], bodies['missing chat'], 'a foreign chat is a missing chat');
      assert.deepEqual(bodies['another user’s chat'], bodies['missing chat']);
      // none of the refused sockets counted as live
      assert.equal((await lex().delete(`/api/v1/chats/${chat}`)).status, 200);
    });

    test('quirk 7: Lexicon DELETE answers 409 while a WebSocket is attached', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byQuery(chat));
      const busy = await lex().delete(`/api/v1/chats/${chat}`);
      assert.equal(busy.status, 409);
      assert.deepEqual(busy.body, { detail: 'Chat cannot be deleted: it has active WebSocket connections' });
      assert.equal((await api.get(`/v1/conversations/${chat}`)).body.data.live_connections, 1);
      assert.equal((await lex().get(`/api/v1/chats/${chat}`)).status, 200, 'nothing was deleted');
      assert.equal(
        (await api.delete(`/v1/conversations/${chat}?if_idle=true`)).status,
        409,
        'the native API sees it too, asked with if_idle=true',
      );
      // the socket keeps working after the refused delete
      s.send({ content: 'still here' });
      await s.waitFor((f) => f.event_type === 'message_received');
      s.close();
      await s.closed;
      // presence is released when the socket closes; a delete then succeeds
      const status = await eventually(async () => (await lex().delete(`/api/v1/chats/${chat}`)).status, 200);
      assert.equal(status, 200);
      assert.equal((await lex().get(`/api/v1/chats/${chat}`)).status, 404);
    });

    test('a native DELETE closes the Lexicon socket (error frame, 4410), then the chat is gone', async () => {
      const chat = await newChat();
      const s = await LexSocket.connected(server.url, byHeaders(chat));
      assert.equal((await api.delete(`/v1/conversations/${chat}`)).status, 204);
      const closed = await s.closed;
      assert.equal(closed.code, 4410);
      const last = s.frames.at(-1);
      assert.equal(last?.event_type, 'error');
      assert.equal(last?.code, 'not_found');
      assert.equal((await lex().get(`/api/v1/chats/${chat}`)).status, 404);
      // a new socket on the deleted chat is refused
      const again = await LexSocket.open(server.url, byHeaders(chat));
      assert.equal((await again.closed).code, 4404);
    });

    test('GET /ws/chat without an upgrade answers 400 {"detail"}', async () => {
      const r = await new Client(server.url).get('/ws/chat');
      assert.equal(r.status, 400);
      assert.equal(typeof r.body.detail, 'string');
    });
  });

  describe(`compat Lexicon Labs WebSocket: the api_key in the URL never reaches the logs [${engine}]`, () => {
    const lines: string[] = [];
    let url = '';
    let admin = '';
    let close: () => Promise<void> = async () => {};

    before(async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-lexws-logs-'));
      const db = await freshDatabase(engine, dataDir);
      // the most verbose level: whatever any layer logs about a request is captured
      const config = loadConfig(
        {},
        { http: { host: '127.0.0.1', port: 0 }, database: { dataDir, url: db.url }, log: { level: 'trace' } },
      );
      const logger = createLogger({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
      const parley = await createParley(config, { clock: new ManualClock(), logger });
      url = await parley.start();
      admin = parley.bootstrapped?.key.secret ?? '';
      close = async () => {
        await parley.close();
        await db.drop();
        rmSync(dataDir, { recursive: true, force: true });
      };
    });
    after(() => close());

    test('connect, send, refusals, plain GET and unknown paths with ?api_key=: the key is in no log line', async () => {
      const created = await new Client(url, admin).post('/v1/workspaces', { name: 'logged' });
      const secret: string = created.body.data.secret;
      const lexApi = new Client(url);
      const chat = (await lexApi.post('/api/v1/chats/', { user_id: 'u' }, { 'x-api-key': secret })).body.id as string;
      const q = (k: string, c = chat) => ({ query: { api_key: k, user_id: 'u', chat_id: c } });

      const s = await LexSocket.connected(url, q(secret));
      s.send({ content: 'logged?' });
      s.send('not json');
      await s.waitFor((f) => f.event_type === 'error');
      s.close();
      await s.closed;
      const bad = await LexSocket.open(url, q(`${secret}x`));
      await bad.closed;
      const missing = await LexSocket.open(url, q(secret, '0190f5c1-1111-7222-8333-444455556666'));
      await missing.closed;
      await lexApi.get(`/ws/chat?api_key=${secret}&user_id=u&chat_id=${chat}`);
      await lexApi.get(`/ws/chatx?api_key=${secret}`);
      await lexApi.get(`/api/v1/chats/${chat}?api_key=${secret}`);
      await new Promise((r) => setImmediate(r));

      const text = lines.join('');
      assert.ok(text.includes('/ws/chat'), 'the socket requests were logged (by path)');
      assert.ok(!text.includes(secret), 'the key reached the log');
      assert.ok(!text.includes(secret.slice(4)), 'not even the random part of the key');
      assert.ok(!text.includes('api_key='), 'no query string reached the log');
    });
  });
}
