/**
 * The export's fast paths, held to the plain one:
 * - JSONL reads messages and tool invocations as the line writer takes them (content JSON-quoted
 *   by the database, JSON columns as stored: store/sqlite/export-lines.ts,
 *   store/postgres/export-lines.ts); its bytes must equal the lines written from the domain
 *   objects, for any content, and the two engines' exports of the same data must be the same bytes;
 * - the export workers (PARLEY_EXPORT_WORKERS, SQLite) must answer the same bytes as the main
 *   thread in every format, stop reading when the client goes away, and turn a failure in a worker
 *   into a cut stream that is logged and audited, never a hung response.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { renderExport, writerFor } from '../src/http/export-formats.js';
import { createLogger } from '../src/log.js';
import { ExportService } from '../src/services/export.js';
import { type LinePage, type LineRun, transferStore } from '../src/services/transfer-store.js';
import { MAX_PG_LINE_MS, MIN_PG_LINE_MS, PgExportLines } from '../src/store/postgres/export-lines.js';
import type { PostgresStore } from '../src/store/postgres/index.js';
import { linesAfterSql, linesOfSql, MAX_LINE_MS, MIN_LINE_MS } from '../src/store/sqlite/export-lines.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';

const JSONL = { 'content-type': 'application/x-ndjson' };
const ctl = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('');
const tricky = [
  'plain',
  `quote " backslash \\ slash / ${ctl} del \u007f`,
  'é ✓ 😀 中文 \u2028 \u2029 <script>&amp;</script>',
  '',
  ' leading and trailing spaces ',
  '{"looks":"like json"}',
];

/** An import file with tricky content, metadata, tool input and output, and times from 1960 to 9999. */
function importFile(n: number): string {
  const lines: string[] = [];
  for (let c = 0; c < n; c++) {
    const conv = `conv_01KF0Z8J1R5Q0V7M4T2B9X${String(c).padStart(4, '0')}`;
    const at = (i: number) =>
      new Date(
        c % 3 === 0
          ? Date.UTC(1960, 0, 1) + i
          : c % 3 === 1
            ? Date.UTC(9999, 11, 31) - 1000 + i
            : Date.UTC(2026, 0, 1) + i,
      ).toISOString();
    const messages = c === n - 1 ? 450 : 3 + (c % 5);
    lines.push(
      JSON.stringify({
        type: 'conversation',
        id: conv,
        title: tricky[c % tricky.length] || null,
        user_id: `user_${c % 2}`,
        context: { contact_id: 'c1', extra: tricky[(c + 1) % tricky.length] },
        metadata: { n: c, big: 9007199254740991, neg: -0.5, unicode: '\u00e9', nested: { a: [1, 'two', null, true] } },
        created_at: at(0),
        updated_at: at(1),
      }),
    );
    for (let i = 0; i < messages; i++) {
      lines.push(
        JSON.stringify({
          type: 'message',
          id: `msg_01KF0Z8J1R5Q0V7M4T${String(c).padStart(4, '0')}${String(i).padStart(4, '0')}`,
          conversation_id: conv,
          role: ['user', 'assistant', 'system', 'tool'][i % 4],
          content: `${tricky[(c + i) % tricky.length]} ${i}`,
          metadata: i % 2 ? { k: tricky[i % tricky.length], num: i / 3 } : {},
          created_at: at(10 + i),
        }),
      );
    }
    for (let t = 0; t < (c % 2) + 1; t++) {
      lines.push(
        JSON.stringify({
          type: 'tool_invocation',
          id: `tool_01KF0Z8J1R5Q0V7M4T${String(c).padStart(4, '0')}${String(t).padStart(4, '0')}`,
          conversation_id: conv,
          tool_name: `tool "${t}"`,
          input: t ? { q: tricky[t % tricky.length], list: [1.5, -2, 'x'] } : 'a string input',
          output: t ? null : { ok: true, text: ctl },
          status: t ? 'running' : 'succeeded',
          started_at: t ? at(20) : null,
          finished_at: t ? null : at(30),
          created_at: at(20 + t),
          updated_at: at(40 + t),
        }),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * More to hold the line reads to: a message of ~300 KB (more than a response chunk), metadata with
 * astral and escaped keys and values, and a conversation of 230 tool invocations (read in pages),
 * some for a message, some for none, of every status.
 */
function extraFile(): string {
  const conv = 'conv_01KF0Z8J1R5Q0V7M4T2B9Z0000';
  const at = (i: number) => new Date(Date.UTC(2026, 5, 1) + i * 7).toISOString();
  const lines: string[] = [
    JSON.stringify({ type: 'conversation', id: conv, title: 'extra 😀', created_at: at(0), updated_at: at(1) }),
  ];
  const big = `${'long line with emoji 😀 and 中文 and "quotes" \\ '.repeat(4500)}end`;
  const msgId = (i: number) => `msg_01KF0Z8J1R5Q0V7M4T2B9Z${String(i).padStart(4, '0')}`;
  for (let i = 0; i < 5; i++)
    lines.push(
      JSON.stringify({
        type: 'message',
        id: msgId(i),
        conversation_id: conv,
        role: i % 2 ? 'assistant' : 'user',
        content: i === 2 ? big : `m${i} \u{1F600}\u{1F9D1}\u200D\u{1F4BB} ${tricky[i % tricky.length]}`,
        metadata: {
          '😀 key': '👩‍👩‍👧',
          'quote"key': 'tab\tnl\n',
          deep: [{ x: 'é' }, [], {}],
          n: 123456.789,
          small: 1e-7,
        },
        created_at: at(10 + i),
      }),
    );
  for (let t = 0; t < 230; t++)
    lines.push(
      JSON.stringify({
        type: 'tool_invocation',
        id: `tool_01KF0Z8J1R5Q0V7M4T2B9Z${String(t).padStart(4, '0')}`,
        conversation_id: conv,
        ...(t % 3 === 0 ? { message_id: msgId(t % 5) } : {}),
        tool_name: t % 2 ? 'search 🔎' : 'calc',
        input: t % 4 === 0 ? [t, 'x', { y: null }] : { q: `${tricky[t % tricky.length]}`, n: t },
        output: t % 5 === 0 ? 'text out 😀' : t % 5 === 1 ? 42.5 : t % 5 === 2 ? false : { rows: [t] },
        status: ['succeeded', 'failed', 'running', 'pending'][t % 4],
        ...(t % 4 !== 3 ? { started_at: at(100 + t) } : {}),
        ...(t % 4 < 2 ? { finished_at: at(200 + t * 3) } : {}),
        created_at: at(100 + t),
        updated_at: at(300 + t),
      }),
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Numbers at JSON.stringify's edges (small exponents, the smallest double, -0, the largest safe
 * integers and a fraction next to them: larger numbers are refused on input), nested tool input and output, and two conversations whose messages
 * and tool invocations are written out of id order (one small, one of 260 messages read in
 * pages): the lines must still come in id order.
 */
function numbersFile(): string {
  const conv = (i: number) => `conv_01KF0Z8J1R5Q0V7M4T2B9W000${i}`;
  const at = (i: number) => new Date(Date.UTC(2026, 6, 1) + i * 13).toISOString();
  const numbers = {
    min: 5e-324,
    frac: 4503599627370495.5,
    e_7: 1e-7,
    e_6: 0.000001,
    negzero: -0,
    safe: 9007199254740991,
    negsafe: -9007199254740991,
    third: 1 / 3,
    list: [0.1, -1.5e-300, 1e15, 123.456e5],
    '2': 'integer-like key',
    '\u2028 line sep \u2029': '\u2028\u2029',
    ctl: '\u0001\u001f\u007f\u0080\u00ad\ufeff\uffff',
  };
  const lines: string[] = [];
  for (let c = 0; c < 2; c++) {
    lines.push(
      JSON.stringify({
        type: 'conversation',
        id: conv(c),
        title: `numbers ${c}`,
        metadata: numbers,
        created_at: at(c),
        updated_at: at(c + 1),
      }),
    );
    const n = c === 0 ? 12 : 260;
    // ids written in a shuffled order (a fixed permutation): the rows go in so, and out by id
    const order = Array.from({ length: n }, (_, i) => (i * 7 + 3) % n);
    for (const i of order)
      lines.push(
        JSON.stringify({
          type: 'message',
          id: `msg_01KF0Z8J1R5Q0V7M4T2B9W${c}${String(i).padStart(3, '0')}`,
          conversation_id: conv(c),
          role: 'user',
          content: `#${i} ${i % 2 ? '\u2028\u2029\u007f' : '𝄞 \u{10FFFF} \t\r\n'}`,
          metadata: i % 3 === 0 ? numbers : { i, half: i / 2 },
          created_at: at(100 + i),
        }),
      );
    for (const t of [2, 0, 1])
      lines.push(
        JSON.stringify({
          type: 'tool_invocation',
          id: `tool_01KF0Z8J1R5Q0V7M4T2B9W${c}${String(t).padStart(3, '0')}`,
          conversation_id: conv(c),
          tool_name: 'nested',
          input: { a: { b: { c: [[[numbers.list]], { d: null, e: '' }] } }, '10': 1, '9': 2, z: -0 },
          output: [numbers, [], {}, [null], 'x'],
          status: 'succeeded',
          started_at: at(500 + t),
          finished_at: at(900 + t * 1000),
          created_at: at(500 + t),
          updated_at: at(9000 + t),
        }),
      );
  }
  return `${lines.join('\n')}\n`;
}

/** An export rendered here, from the service, with or without the SQLite line reads. */
async function serviceExport(
  server: TestServer,
  ws: TestWorkspace,
  format: 'jsonl' | 'json' | 'markdown',
  lines: boolean,
) {
  const service = new ExportService(
    transferStore(server.parley.store),
    server.clock,
    createLogger({ level: 'silent' }),
  );
  const auth = {
    workspaceId: ws.id,
    scopes: ['read:ai', 'write:ai'],
    userId: null,
    keyId: 'key_test',
    instanceAdmin: false,
    rateLimit: null,
  } as never;
  const opened = await service.openMany(auth, {}, { interleave: format === 'markdown', format, lines });
  const chunks: Buffer[] = [];
  for await (const c of renderExport(opened.items, writerFor(format), '2026-01-01T00:00:00.000Z')) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The time of the export masked (the only part that differs between two exports of the same data). */
const masked = (text: string) =>
  text.replace(/"exported_at":"[^"]*"/, '"exported_at":"…"').replace(/^Exported \S+\.$/m, 'Exported ….');

/** The export through HTTP, its time masked. */
async function httpExport(url: string, key: string, query: string): Promise<string> {
  const res = await fetch(`${url}/v1/export?${query}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return masked(await res.text());
}

const withoutHead = (b: Buffer) => masked(b.toString('utf8'));

/** Two exports' text equal, or the first line that differs in the message (not two whole exports). */
function sameLines(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((l, k) => l !== e[k]);
  const at = i < 0 ? e.length : i;
  assert.fail(
    `${what}: line ${at + 1} differs\n  got:      ${a[at]?.slice(0, 3000)}\n  expected: ${e[at]?.slice(0, 3000)}`,
  );
}

for (const engine of testEngines()) {
  describe(`export: the JSONL line reads equal the objects' lines [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 }, http: { requestTimeoutMs: 300_000 } });
      ws = await newWorkspace(server, 'lines');
      const r = await ws.admin.request('POST', '/v1/import', { raw: importFile(40), headers: JSONL });
      assert.equal(r.status, 200, r.text);
      assert.equal(
        r.body.data.errors,
        0,
        JSON.stringify(r.body.data.results.filter((x: any) => x.status === 'error').slice(0, 4)),
      );
      const x = await ws.admin.request('POST', '/v1/import', { raw: extraFile(), headers: JSONL });
      assert.equal(x.status, 200, x.text);
      assert.equal(
        x.body.data.errors,
        0,
        JSON.stringify(x.body.data.results.filter((r: any) => r.status === 'error').slice(0, 4)),
      );
    });
    after(async () => server.close());

    test('the same bytes with and without the line reads, small batches and a conversation read in pages', async () => {
      const plain = await serviceExport(server, ws, 'jsonl', false);
      const fast = await serviceExport(server, ws, 'jsonl', true);
      assert.ok(plain.length > 100_000, `${plain.length} bytes`);
      assert.equal(fast.toString('utf8'), plain.toString('utf8'));
      const records = plain
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(records.at(-1), { type: 'end', conversations: 41, messages: 648, tool_invocations: 290 });
      assert.ok(records.some((r) => r.type === 'message' && r.content.length > 200_000));
    });

    test('each JSONL line is the API object with its type (times before 1970 and in year 9999 too)', async () => {
      const text = await httpExport(server.url, ws.admin.key ?? '', 'format=jsonl');
      const got = text.trim().split('\n');
      const conv = 'conv_01KF0Z8J1R5Q0V7M4T2B9X0039';
      const one = (await ws.admin.get(`/v1/conversations/${conv}/messages?limit=100`)).body.data;
      for (const m of one) assert.ok(got.includes(JSON.stringify({ type: 'message', ...m })), m.id);
      const tools = (await ws.admin.get('/v1/conversations/conv_01KF0Z8J1R5Q0V7M4T2B9X0001/tool-invocations')).body
        .data;
      assert.equal(tools.length, 2);
      for (const t of tools) assert.ok(got.includes(JSON.stringify({ type: 'tool_invocation', ...t })), t.id);
      assert.ok(got.some((l) => l.includes('"created_at":"1960-01-01T00:00:00.010Z"')));
      assert.ok(got.some((l) => l.includes('"created_at":"9999-12-30T23:59:59.010Z"')));
    });

    if (engine === 'sqlite')
      test('the line reads take no sort: a conversation’s lines are joined in the index order', async () => {
        const raw = (server.parley.store as unknown as { raw: import('better-sqlite3').Database }).raw;
        for (const table of ['messages', 'tool_invocations'] as const) {
          const plans = [linesOfSql(table, 25), linesAfterSql(table, false), linesAfterSql(table, true)].map((sql) =>
            raw
              .prepare(`EXPLAIN QUERY PLAN ${sql}`)
              .all(...Array.from(sql.matchAll(/\?/g), () => null))
              .map((r: any) => r.detail)
              .join(' | '),
          );
          for (const plan of plans) {
            assert.match(plan, /USING INDEX \w+_conversation/, plan);
            assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
          }
        }
      });

    if (engine === 'sqlite')
      test('times SQLite cannot write (before year 0, after 9999): those reads fall back to objects, same bytes', async () => {
        const raw = (server.parley.store as unknown as { raw: import('better-sqlite3').Database }).raw;
        const set = (table: string, column: string, ms: number, id: string) =>
          raw.prepare(`UPDATE ${table} SET ${column} = ? WHERE workspace_id = ? AND id = ?`).run(ms, ws.id, id);
        // a message of a small batch, a tool of a paged conversation, a message of a paged one
        set('messages', 'created_at', MAX_LINE_MS + 1, 'msg_01KF0Z8J1R5Q0V7M4T00010001');
        set('tool_invocations', 'finished_at', MIN_LINE_MS - 1, 'tool_01KF0Z8J1R5Q0V7M4T2B9Z0100');
        set('messages', 'created_at', Date.UTC(12_000, 0, 1), 'msg_01KF0Z8J1R5Q0V7M4T00390100');
        const plain = await serviceExport(server, ws, 'jsonl', false);
        const fast = await serviceExport(server, ws, 'jsonl', true);
        assert.equal(fast.toString('utf8'), plain.toString('utf8'));
        const text = plain.toString('utf8');
        for (const t of [
          '"+010000-01-01T00:00:00.000Z"',
          '"-000001-12-31T23:59:59.999Z"',
          '"+012000-01-01T00:00:00.000Z"',
        ])
          assert.ok(text.includes(t), t);
      });
    if (engine === 'postgres')
      test('times PostgreSQL’s lines cannot write (year 0 and before, after 9999): those reads fall back to objects, same bytes', async () => {
        const pool = (server.parley.store as PostgresStore).pool;
        const set = async (table: string, column: string, ms: number | null, id: string) =>
          (
            await pool.query(
              `UPDATE ${table} t SET ${column} = $1 FROM ${table} old
               WHERE t.workspace_id = $2 AND t.id = $3 AND old.workspace_id = t.workspace_id AND old.id = t.id
               RETURNING old.${column} AS was`,
              [ms, ws.id, id],
            )
          ).rows[0]?.was as number | null;
        const before = await serviceExport(server, ws, 'jsonl', false);
        // a message of a small batch, a tool of a paged conversation, a message of a paged one
        const changes = [
          ['messages', 'created_at', MAX_PG_LINE_MS + 1, 'msg_01KF0Z8J1R5Q0V7M4T00010001'],
          ['tool_invocations', 'finished_at', MIN_PG_LINE_MS - 1, 'tool_01KF0Z8J1R5Q0V7M4T2B9Z0100'],
          ['messages', 'created_at', Date.UTC(-5, 0, 1), 'msg_01KF0Z8J1R5Q0V7M4T00390100'],
        ] as const;
        const was: (number | null)[] = [];
        for (const [table, column, ms, id] of changes) was.push(await set(table, column, ms, id));
        try {
          const plain = await serviceExport(server, ws, 'jsonl', false);
          const fast = await serviceExport(server, ws, 'jsonl', true);
          sameLines(fast.toString('utf8'), plain.toString('utf8'), 'line reads vs objects');
          const text = plain.toString('utf8');
          for (const t of [
            '"+010000-01-01T00:00:00.000Z"',
            '"0000-12-31T23:59:59.999Z"',
            '"-000005-01-01T00:00:00.000Z"',
          ])
            assert.ok(text.includes(t), t);
        } finally {
          // the times back as they were (the tests after this one compare with a fresh export)
          for (const [i, [table, column, , id]] of changes.entries()) await set(table, column, was[i] ?? null, id);
          sameLines(
            (await serviceExport(server, ws, 'jsonl', false)).toString('utf8'),
            before.toString('utf8'),
            'restored',
          );
        }
      });

    if (engine === 'postgres')
      test('without the TEMP privilege (no session functions) the line reads run inline: the same runs and pages', async () => {
        const pool = (server.parley.store as PostgresStore).pool;
        const db = (await pool.query('SELECT current_database() AS db')).rows[0].db as string;
        const role = `parley_notemp_${process.pid}`;
        await pool.query(`CREATE ROLE ${role} LOGIN`);
        try {
          await pool.query(`REVOKE TEMP ON DATABASE ${db} FROM PUBLIC`);
          await pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
          const url = new URL(pool.options.connectionString as string);
          url.username = role;
          const bare = new pg.Pool({ connectionString: url.toString(), max: 2 });
          try {
            await assert.rejects(bare.query('CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'), {
              code: '42501',
            });
            const inline = new PgExportLines(bare);
            const usual = new PgExportLines(pool);
            // as text (a failing deepEqual of megabytes of Uint8Arrays takes minutes to diff)
            const runs = (r: LineRun[] | undefined) =>
              r?.map((x) => `${x.conversationId} ${x.rows}\n${Buffer.from(x.bytes).toString('utf8')}`).join('\n') ??
              '-';
            const page = (p: LinePage | undefined) =>
              p === undefined ? '-' : `${p.rows} ${p.lastId}\n${Buffer.from(p.bytes).toString('utf8')}`;
            const ids = Array.from(
              { length: 40 },
              (_, c) => `conv_01KF0Z8J1R5Q0V7M4T2B9X${String(c).padStart(4, '0')}`,
            );
            for (const table of ['messages', 'tool_invocations'] as const) {
              const got = await inline.linesOf(table, ws.id, ids, 1000);
              assert.ok(got !== undefined && got.length > 30, table);
              sameLines(runs(got), runs(await usual.linesOf(table, ws.id, ids, 1000)), table);
            }
            const big = 'conv_01KF0Z8J1R5Q0V7M4T2B9Z0000';
            const first = await inline.linesAfter('tool_invocations', ws.id, big, undefined, 100);
            assert.equal(first?.rows, 100);
            sameLines(
              page(first),
              page(await usual.linesAfter('tool_invocations', ws.id, big, undefined, 100)),
              'first',
            );
            const next = await inline.linesAfter('tool_invocations', ws.id, big, first?.lastId, 100);
            assert.equal(next?.rows, 100);
            sameLines(
              page(next),
              page(await usual.linesAfter('tool_invocations', ws.id, big, first?.lastId, 100)),
              'next',
            );
          } finally {
            await bare.end();
          }
        } finally {
          await pool.query(`GRANT TEMP ON DATABASE ${db} TO PUBLIC`);
          await pool.query(`DROP OWNED BY ${role}`);
          await pool.query(`DROP ROLE ${role}`);
        }
      });

    test('a big export read slowly over HTTP: the reused chunk buffers are sent intact', async () => {
      // ~12 MB more (one conversation of 2,500 long messages, read in pages), so that the socket backs up
      const conv = 'conv_01KF0Z8J1R5Q0V7M4T2B9Y1111';
      const long = [
        JSON.stringify({ type: 'conversation', id: conv, title: 'long', created_at: '2026-03-01T00:00:00.000Z' }),
      ];
      for (let i = 0; i < 2500; i++)
        long.push(
          JSON.stringify({
            type: 'message',
            id: `msg_01KF0Z8J1R5Q0V7M4W${String(i).padStart(8, '0')}`,
            conversation_id: conv,
            role: 'user',
            content: `${i} ${'a quick brown 狐狸 jumps over the lazy 🐕 '.repeat(110)}`,
            created_at: new Date(Date.UTC(2026, 2, 1) + i).toISOString(),
          }),
        );
      const l = await ws.admin.request('POST', '/v1/import', { raw: `${long.join('\n')}\n`, headers: JSONL });
      assert.equal(l.status, 200, l.text);
      assert.equal(l.body.data.errors, 0);
      const res = await fetch(`${server.url}/v1/export?format=jsonl`, {
        headers: { authorization: `Bearer ${ws.admin.key}` },
      });
      assert.equal(res.status, 200);
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
        parts.push(Buffer.from(c));
        // a slow reader: the server's socket fills and its writes wait
        if (++n % 8 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      const viaHttp = Buffer.concat(parts);
      assert.ok(viaHttp.length > 10_000_000, `${viaHttp.length} bytes`);
      assert.equal(masked(viaHttp.toString('utf8')), withoutHead(await serviceExport(server, ws, 'jsonl', true)));
    });
  });

  if (engine !== 'sqlite') continue;

  describe('export workers: same bytes, cancel, failure [sqlite]', () => {
    let server: TestServer;
    let ws: TestWorkspace;
    const logs: string[] = [];

    before(async () => {
      server = await startServer(
        engine,
        {
          limits: { rate: 1_000_000 },
          http: { requestTimeoutMs: 300_000 },
          database: { exportWorkers: 2 },
          log: { level: 'warn' },
        },
        // warn: a pool that cannot start says so (and the export then runs on the main thread,
        // which would answer these tests just as well)
        { logger: createLogger({ level: 'warn' }, { write: (s: string) => void logs.push(s) }) },
      );
      ws = await newWorkspace(server, 'workers');
      const r = await ws.admin.request('POST', '/v1/import', { raw: importFile(60), headers: JSONL });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.errors, 0);
      // and one long conversation (~10 MB of Markdown: more than the socket buffers between server and client hold)
      const conv = 'conv_01KF0Z8J1R5Q0V7M4T2B9Y0000';
      const long = [
        JSON.stringify({ type: 'conversation', id: conv, title: 'long', created_at: '2026-02-01T00:00:00.000Z' }),
      ];
      for (let i = 0; i < 2500; i++) {
        long.push(
          JSON.stringify({
            type: 'message',
            id: `msg_01KF0Z8J1R5Q0V7M4V${String(i).padStart(8, '0')}`,
            conversation_id: conv,
            role: 'user',
            content: `${i} ${'the quick brown fox jumps over the lazy dog '.repeat(90)}`,
            created_at: new Date(Date.UTC(2026, 1, 1) + i).toISOString(),
          }),
        );
      }
      const l = await ws.admin.request('POST', '/v1/import', { raw: `${long.join('\n')}\n`, headers: JSONL });
      assert.equal(l.status, 200, l.text);
      assert.equal(l.body.data.errors, 0);
    });
    after(async () => server.close());

    test('JSONL, JSON and Markdown through the workers equal the main thread’s, byte for byte', async () => {
      for (const format of ['jsonl', 'json', 'markdown'] as const) {
        const viaWorkers = await httpExport(server.url, ws.admin.key ?? '', `format=${format}`);
        const here = withoutHead(await serviceExport(server, ws, format, format === 'jsonl'));
        assert.ok(viaWorkers.length > 50_000, format);
        assert.equal(viaWorkers, here, format);
      }
      assert.deepEqual(
        logs.filter((l) => l.includes('export workers could not start')),
        [],
        'the workers ran these exports',
      );
      // one conversation, and a user's: the same scoping as the main thread's
      const one = await fetch(`${server.url}/v1/conversations/conv_01KF0Z8J1R5Q0V7M4T2B9X0059/export`, {
        headers: { authorization: `Bearer ${ws.admin.key}` },
      });
      const lines = (await one.text()).trim().split('\n');
      assert.equal(lines.length, 1 + 1 + 450 + 2 + 1);
      const user = await httpExport(server.url, ws.admin.key ?? '', 'user_id=user_1');
      const convs = user.split('\n').filter((l) => l.startsWith('{"type":"conversation"'));
      assert.equal(convs.length, 30, 'user_1 owns 30 of the 61 conversations');
      assert.ok(convs.every((l) => l.includes('"user_id":"user_1"')));
    });

    test('a client that goes away: the export stops, is audited incomplete, and the next export is whole', async () => {
      const markdownRows = async () =>
        (await ws.admin.get('/v1/audit-events?action=conversations.exported&limit=100')).body.data.filter(
          (e: any) => e.counts.format_markdown === 1,
        );
      const seen = (await markdownRows()).length;
      const controller = new AbortController();
      const res = await fetch(`${server.url}/v1/export?format=markdown`, {
        headers: { authorization: `Bearer ${ws.admin.key}` },
        signal: controller.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
      let row: any;
      for (let i = 0; i < 200 && row === undefined; i++) {
        const rows = await markdownRows();
        if (rows.length > seen) row = rows[0];
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(row, 'the cut export is audited');
      assert.equal(row.counts.complete, 0);
      assert.equal(row.counts.failed, 0);
      const again = await httpExport(server.url, ws.admin.key ?? '', 'format=jsonl');
      assert.match(again, /\{"type":"end","conversations":61,"messages":3243,"tool_invocations":90\}\n$/);
    });

    test('a failure inside a worker cuts the stream (no end), is logged and audited failed, not a 500 or a hang', async () => {
      // a row the worker cannot read back (metadata that is not JSON: Markdown parses it)
      const raw = (server.parley.store as unknown as { raw: import('better-sqlite3').Database }).raw;
      raw
        .prepare("UPDATE messages SET metadata = 'not json' WHERE workspace_id = ? AND id = ?")
        .run(ws.id, 'msg_01KF0Z8J1R5Q0V7M4T00400001');
      try {
        const res = await fetch(`${server.url}/v1/export?format=markdown`, {
          headers: { authorization: `Bearer ${ws.admin.key}` },
        });
        assert.equal(res.status, 200);
        let text = '';
        await assert.rejects(async () => {
          const decoder = new TextDecoder();
          for await (const c of res.body as unknown as AsyncIterable<Uint8Array>)
            text += decoder.decode(c, { stream: true });
        }, 'the reader sees the cut');
        assert.doesNotMatch(text, /conversation\(s\), \d+ message\(s\)/, 'no end');
        assert.ok(
          logs.some((l) => l.includes('export failed mid-stream')),
          logs.map((l) => JSON.parse(l).msg).join(' | '),
        );
        const audit = await ws.admin.get('/v1/audit-events?action=conversations.exported');
        assert.ok(audit.body.data.some((e: any) => e.counts.failed === 1));
        // the workers still serve the next export
        const again = await httpExport(server.url, ws.admin.key ?? '', 'format=jsonl');
        assert.match(again, /"type":"end"/);
      } finally {
        raw
          .prepare("UPDATE messages SET metadata = '{}' WHERE workspace_id = ? AND id = ?")
          .run(ws.id, 'msg_01KF0Z8J1R5Q0V7M4T00400001');
      }
    });
  });
}

// both engines in this run: the same data exported by each must be the same bytes
if (testEngines().includes('sqlite') && testEngines().includes('postgres'))
  describe('export: the same JSONL bytes from SQLite and PostgreSQL [sqlite, postgres]', () => {
    const servers: TestServer[] = [];
    const workspaces: TestWorkspace[] = [];

    before(async () => {
      for (const engine of ['sqlite', 'postgres'] as const) {
        const server = await startServer(engine, { limits: { rate: 1_000_000 } });
        servers.push(server);
        const ws = await newWorkspace(server, 'engines');
        workspaces.push(ws);
        for (const file of [importFile(12), extraFile(), numbersFile()]) {
          const r = await ws.admin.request('POST', '/v1/import', { raw: file, headers: JSONL });
          assert.equal(r.status, 200, r.text);
          assert.equal(
            r.body.data.errors,
            0,
            JSON.stringify(r.body.data.results.filter((x: any) => x.status === 'error').slice(0, 4)),
          );
        }
      }
    });
    after(async () => Promise.all(servers.map((s) => s.close())));

    test('tricky text, numbers at the edges, nested JSON, rows written out of id order: byte for byte', async () => {
      const [sqlite, pg] = await Promise.all(
        servers.map(async (server, i) => {
          const ws = workspaces[i] as TestWorkspace;
          return {
            http: await httpExport(server.url, ws.admin.key ?? '', 'format=jsonl'),
            plain: withoutHead(await serviceExport(server, ws, 'jsonl', false)),
            one: masked(
              await (
                await fetch(`${server.url}/v1/conversations/conv_01KF0Z8J1R5Q0V7M4T2B9W0001/export`, {
                  headers: { authorization: `Bearer ${ws.admin.key}` },
                })
              ).text(),
            ),
          };
        }),
      );
      if (sqlite === undefined || pg === undefined) throw new Error('two exports');
      assert.ok(pg.http.length > 100_000, `${pg.http.length} characters`);
      // each engine's line reads equal its own objects' lines, and the engines equal each other
      sameLines(pg.http, pg.plain, 'PostgreSQL: line reads vs objects');
      sameLines(sqlite.http, sqlite.plain, 'SQLite: line reads vs objects');
      sameLines(pg.http, sqlite.http, 'PostgreSQL vs SQLite');
      sameLines(pg.one, sqlite.one, 'one conversation, PostgreSQL vs SQLite');
      const records = pg.http
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      // the shuffled conversations come out in id order
      for (const conv of ['conv_01KF0Z8J1R5Q0V7M4T2B9W0000', 'conv_01KF0Z8J1R5Q0V7M4T2B9W0001']) {
        const ids = records.filter((r) => r.conversation_id === conv && r.type === 'message').map((r) => r.id);
        assert.equal(ids.length, conv.endsWith('0') ? 12 : 260);
        assert.deepEqual(ids, [...ids].sort());
      }
      assert.ok(pg.http.includes('"min":5e-324,"frac":4503599627370495.5,"e_7":1e-7,"e_6":0.000001,"negzero":0'));
      assert.ok(pg.http.includes('\u2028\u2029\u007f'));
      assert.ok(pg.http.includes('\\u0001\\u001f\u007f'));
    });
  });
