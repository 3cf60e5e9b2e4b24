import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { DIALECTS, type DialectName } from '../src/dialects/registry.js';
import { ulidToUuid } from '../src/ids.js';
import type { Database } from '../src/store/schema.js';
import { Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

/**
 * A generated battery of malformed requests: every operation of /openapi.json (every surface,
 * since the compat routes are in it too) gets bad credentials, bad bodies, bad bytes, bad query
 * values and bad path parameters. Every answer must be a 4xx in that surface's documented error
 * shape with a request id; nothing may be stored; the server must stay up.
 */

type Surface = 'native' | DialectName;

/** Longest prefix first: /v1/lexi and /v1/chat sit under the native /v1. */
const PREFIXES: Array<[string, Surface]> = [
  ...DIALECTS.flatMap((d) => d.prefixes.map((p): [string, Surface] => [p, d.name])),
  ['/v1/', 'native'] as [string, Surface],
].sort((a, b) => b[0].length - a[0].length);
const surfaceOf = (path: string): Surface => PREFIXES.find(([p]) => path.startsWith(p))?.[1] ?? 'native';

/** Operations a malformed request cannot reach meaningfully: public pages and the WebSocket-only route. */
const SKIP = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /examples/live',
  'GET /docs/errors',
  'GET /ws/chat',
]);

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

function shapeProblem(surface: Surface, r: Reply): string | null {
  const b = r.body;
  const rid = r.headers.get('x-request-id') ?? '';
  if (!/^req_[0-9A-HJKMNP-TV-Z]{26}$/.test(rid)) return `no request id (${rid})`;
  if (b === undefined || b === null || typeof b !== 'object') return `not JSON: ${r.text.slice(0, 120)}`;
  if (r.headers.get('x-content-type-options') !== 'nosniff') return 'no X-Content-Type-Options: nosniff';
  if (r.headers.get('x-powered-by') !== null) return 'an X-Powered-By header';
  switch (surface) {
    case 'native':
    case 'leadlex':
      if (typeof b.error?.code !== 'string' || typeof b.error?.message !== 'string')
        return 'not {error:{code,message}}';
      if (b.error.request_id !== rid) return 'error.request_id differs from X-Request-ID';
      if (!r.headers.get('x-ratelimit-limit') || !r.headers.get('x-ratelimit-reset')) return 'no X-RateLimit-* headers';
      return null;
    case 'lexicon':
      return typeof b.detail === 'string' ? null : 'not {detail}';
    case 'fini':
      return b.statusCode === r.status && typeof b.message === 'string' && typeof b.error === 'string'
        ? null
        : 'not {statusCode,message,error}';
    case 'botpress':
      return b.code === r.status && typeof b.type === 'string' && /^err_\d{14}x[0-9a-f]{8}$/.test(b.id ?? '')
        ? null
        : 'not {id,code,type,message,metadata}';
    case 'openai':
      return typeof b.error?.message === 'string' &&
        typeof b.error?.type === 'string' &&
        'param' in b.error &&
        'code' in b.error
        ? null
        : 'not {error:{message,type,param,code}}';
  }
}

for (const engine of testEngines()) {
  describe(`generated battery of malformed requests [${engine}]`, () => {
    let server: TestServer;
    let spec: any;
    let key: string;
    let revoked: string;
    const ids: Record<string, string> = {};

    async function storedRows(): Promise<number> {
      const db = (server.parley.store as unknown as { kysely: Kysely<Database> }).kysely;
      let n = 0;
      for (const t of [
        'conversations',
        'messages',
        'tool_invocations',
        'conversation_events',
        'idempotency_records',
        'api_keys',
        'workspaces',
      ] as const) {
        const r = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(t)}`.execute(db);
        n += Number(r.rows[0]?.n ?? 0);
      }
      return n;
    }

    before(async () => {
      // rate limits must not turn the battery's refusals into 429s
      server = await startServer(engine, { limits: { rate: 1_000_000, rateAnonymous: 1_000_000 } });
      const ws = await newWorkspace(server, 'battery');
      key = (await ws.key(['read:ai', 'write:ai', 'admin'])).secret;
      const api = new Client(server.url, key);
      const c = await api.post('/v1/conversations', { user_id: 'u1', messages: [{ role: 'user', content: 'x' }] });
      const t = await api.post(`/v1/conversations/${c.body.data.id}/tool-invocations`, { tool_name: 'x' });
      const r = await ws.key(['read:ai']);
      assert.equal((await api.delete(`/v1/keys/${r.id}`)).status, 200);
      revoked = r.secret;
      ids.conv = c.body.data.id;
      ids.msg = c.body.data.messages[0].id;
      ids.tool = t.body.data.id;
      ids.key = r.id;
      spec = (await new Client(server.url).get('/openapi.json')).body;
    });
    after(async () => server.close());

    function pathFor(surface: Surface, template: string, override?: string): string {
      let first = true;
      return template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        if (override !== undefined && first) {
          first = false;
          return override;
        }
        first = false;
        if (name === 'tool_id') return ids.tool ?? '';
        if (name === 'item_id') return ids.msg ?? '';
        if (name === 'user_id') return 'u1';
        if (template.startsWith('/v1/keys/')) return ids.key ?? '';
        const conv = ids.conv ?? '';
        return surface === 'lexicon' || surface === 'fini' ? ulidToUuid(conv.slice(5)) : conv;
      });
    }

    function headersFor(surface: Surface, credential: string | null, extra: Record<string, string> = {}) {
      const h: Record<string, string> = { ...extra };
      if (credential !== null) {
        if (surface === 'lexicon') h['x-api-key'] = credential;
        else h.authorization = `Bearer ${credential}`;
      }
      if (surface === 'botpress') h['x-bot-id'] = 'bot';
      return h;
    }

    async function send(method: string, path: string, headers: Record<string, string>, body?: string | Buffer) {
      const res = await fetch(server.url + path, { method, headers, body, signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, text, body: parsed } as Reply;
    }

    /** Writes raw bytes on a fresh connection and reads the whole answer (the server closes after a parse error). */
    function rawRequest(bytes: Buffer): Promise<{ status: number; headers: Record<string, string>; body: any }> {
      const { port } = new URL(server.url);
      return new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes));
        const chunks: Buffer[] = [];
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const [head = '', body = ''] = text.split('\r\n\r\n');
          const [statusLine = '', ...lines] = head.split('\r\n');
          const headers = Object.fromEntries(
            lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
          );
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            parsed = undefined;
          }
          resolve({ status: Number(statusLine.split(' ')[1]), headers, body: parsed });
        });
      });
    }

    test("requests Node's parser refuses are answered in the surface's shape with a request id", async () => {
      const cases: Array<[string, Surface, Buffer, number]> = [
        [
          'Content-Length: abc',
          'native',
          Buffer.from('GET /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
          400,
        ],
        [
          'Content-Length: abc',
          'fini',
          Buffer.from('GET /v2/hc-interactions/public HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
          400,
        ],
        [
          'an unknown method token',
          'botpress',
          Buffer.from('FROB /v1/chat/conversations HTTP/1.1\r\nHost: x\r\n\r\n'),
          400,
        ],
        [
          'raw non-ASCII bytes in the request line',
          'lexicon',
          Buffer.concat([
            Buffer.from('GET /api/v1/chats/'),
            Buffer.from([0xc3, 0xa9]),
            Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
          ]),
          400,
        ],
        [
          'a request line and headers over the limit',
          'openai',
          Buffer.from(`GET /openai/v1/conversations?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
          431,
        ],
      ];
      for (const [name, surface, bytes, status] of cases) {
        const r = await rawRequest(bytes);
        assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
        const rid = r.headers['x-request-id'] ?? '';
        assert.match(rid, /^req_[0-9A-HJKMNP-TV-Z]{26}$/, `${name}: a request id`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `${name}: nosniff`);
        const b = r.body;
        if (surface === 'native') assert.equal(b.error.request_id, rid, name);
        if (surface === 'fini') assert.equal(typeof b.statusCode, 'number', name);
        if (surface === 'botpress') assert.match(b.id, /^err_/, name);
        if (surface === 'lexicon') assert.equal(typeof b.detail, 'string', name);
        if (surface === 'openai') assert.equal(typeof b.error.type, 'string', name);
      }
      assert.equal((await send('GET', '/healthz', {})).status, 200, 'the server is alive');
    });

    test('every operation refuses every malformed request with a 4xx in its surface’s shape; nothing stored', async () => {
      const before = await storedRows();
      const failures: string[] = [];
      let cases = 0;
      const json = { 'content-type': 'application/json' };
      for (const [template, ops] of Object.entries(spec.paths as Record<string, Record<string, any>>)) {
        for (const [m, op] of Object.entries(ops)) {
          const method = m.toUpperCase();
          if (SKIP.has(`${method} ${template}`)) continue;
          const surface = surfaceOf(template);
          const path = pathFor(surface, template);
          const params: Array<{ in: string; name: string; schema?: any }> = op.parameters ?? [];
          const query = params.filter((p) => p.in === 'query');
          const hasPath = params.some((p) => p.in === 'path');
          const tries: Array<{ name: string; run: () => Promise<Reply> }> = [];

          // credentials: none, malformed, another scheme, revoked
          for (const [name, cred, scheme] of [
            ['no key', null, undefined],
            ['malformed key', 'not-a-key', undefined],
            ['revoked key', revoked, undefined],
            ['Basic scheme', null, 'Basic cHJsOng='],
          ] as const) {
            const h = headersFor(surface, cred);
            if (scheme) h.authorization = scheme;
            tries.push({ name, run: () => send(method, path, h) });
          }

          if (op.requestBody) {
            const h = headersFor(surface, key, json);
            const bodies: Array<[string, string | Buffer, Record<string, string>?]> = [
              ['malformed JSON', '{"a":'],
              ['empty JSON', ''],
              ['an array', '[1,2]'],
              ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
              [
                'UTF-8 of a lone surrogate',
                Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
              ],
              ['NUL in a value', '{"zzz_unknown":"a\\u0000b"}'],
              ['__proto__ key', '{"__proto__":{"x":1}}'],
              ['number out of range', '{"zzz_unknown":1e400}'],
              ['text/plain', 'hello', { 'content-type': 'text/plain' }],
              ['latin1 charset', '{}', { 'content-type': 'application/json; charset=latin1' }],
              ['over the body limit', `{"a":"${'x'.repeat(server.parley.config.http.bodyLimit + 10)}"}`],
            ];
            for (const [name, body, ct] of bodies) {
              tries.push({ name, run: () => send(method, path, { ...h, ...(ct ?? {}) }, body) });
            }
            tries.push({
              name: 'bad Idempotency-Key',
              run: () => send(method, path, { ...h, 'idempotency-key': 'x'.repeat(300) }, '{}'),
            });
          }

          for (const p of query) {
            const types = [p.schema?.type, ...(p.schema?.anyOf ?? []).map((b: any) => b.type)].flat();
            const numeric = types.includes('integer') || types.includes('number');
            const values = numeric
              ? ['0x10', '-1', '1e400', '99999999999999999999', 'abc']
              : p.schema?.type === 'string' || p.schema?.type === 'array' || p.schema?.anyOf || p.schema?.enum
                ? ['%FF', '%ED%A0%80', '%00']
                : [];
            for (const v of values) {
              tries.push({
                name: `query ${p.name}=${v}`,
                run: () => send(method, `${path}?${encodeURIComponent(p.name)}=${v}`, headersFor(surface, key)),
              });
            }
          }

          if (hasPath) {
            for (const [name, value] of [
              ['path param over 500 characters', 'a'.repeat(600)],
              ['malformed %-escape in the path', '%FF'],
              ['NUL in the path', 'a%00b'],
            ] as const) {
              const h = headersFor(surface, key, op.requestBody ? json : {});
              tries.push({
                name,
                run: () => send(method, pathFor(surface, template, value), h, op.requestBody ? '{}' : undefined),
              });
            }
          }

          for (const t of tries) {
            cases++;
            const r = await t.run();
            const where = `${method} ${template} — ${t.name}: ${r.status}`;
            // Fini's documented quirk: its single DELETE answers {"success":true} for any id it cannot find
            const finiQuirk =
              surface === 'fini' &&
              method === 'DELETE' &&
              template.includes('{id}') &&
              r.status === 200 &&
              r.body?.success;
            if (finiQuirk && t.name.includes('path')) continue;
            if (r.status < 400 || r.status >= 500) {
              failures.push(`${where} (expected a 4xx) ${r.text.slice(0, 160)}`);
              continue;
            }
            const problem = shapeProblem(surface, r);
            if (problem) failures.push(`${where}: ${problem} ${r.text.slice(0, 160)}`);
          }
        }
      }
      assert.ok(cases > 500, `the battery generated ${cases} cases`);
      assert.deepEqual(failures, [], `${failures.length} of ${cases} cases failed`);
      assert.equal(await storedRows(), before, 'no refused request stored anything');
      assert.equal((await send('GET', '/healthz', {})).status, 200, 'the server is alive');
    });
  });
}
