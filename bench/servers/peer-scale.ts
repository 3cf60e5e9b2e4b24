/**
 * The scale scenarios' peer, SQLite or PostgreSQL: bare node:http running the SQL in
 * bench/lib/scale-ops.ts behind API-key auth (SHA-256 of the bearer token, revocation and expiry
 * checked), cursors verified with Parley's own codec and secret, JSON out. On an IPC `raw`
 * message it runs the same ops in a loop without HTTP and answers with the latencies (the
 * "raw SQL" peer), so both peers share one process pinned to the server core.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { CursorCodec, isKeysetCursor } from '../../packages/server/src/services/cursor.js';
import { type Db, OPS, type OpName, openDb } from '../lib/scale-ops.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { databaseUrl: string };
const db: Db = openDb(opts.databaseUrl);
const secret = (await db.all(`SELECT value FROM instance_meta WHERE key = 'cursor_secret'`, []))[0]?.value;
const cursors = new CursorCodec(typeof secret === 'string' ? secret : randomBytes(32).toString('hex'));
const LIST_KIND = `conversations:updated_at:desc:${JSON.stringify({ archived: 'exclude' })}`;

interface Key {
  workspace_id: string;
  scopes: string;
  revoked_at: number | null;
  expires_at: number | null;
}

async function authenticate(req: http.IncomingMessage): Promise<Key | null> {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return null;
  const hash = createHash('sha256').update(h.slice(7).trim()).digest('hex');
  const key = (
    await db.all('SELECT workspace_id, scopes, revoked_at, expires_at FROM api_keys WHERE key_hash = ?', [hash])
  )[0] as Key | undefined;
  if (!key || key.revoked_at !== null || (key.expires_at !== null && Number(key.expires_at) <= Date.now())) return null;
  return key;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

let seq = 0;
const nextId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(seq++).toString(36).padStart(8, '0')}`;

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const key = await authenticate(req);
  if (!key) return send(res, 401, { error: { code: 'invalid_key' } });
  const ws = key.workspace_id;
  if (req.method === 'GET' && url.pathname === '/v1/conversations') {
    const perPage = Number(url.searchParams.get('per_page') ?? 25);
    const search = url.searchParams.get('search') ?? undefined;
    const cursor = url.searchParams.get('cursor');
    const page = Number(url.searchParams.get('page') ?? 1);
    const after = cursor ? cursors.decode(ws, LIST_KIND, cursor, isKeysetCursor) : undefined;
    const r = await OPS.list(db, { ws, perPage, search, after, offset: after ? undefined : (page - 1) * perPage });
    const last = r.items[r.items.length - 1];
    return send(res, 200, {
      data: r.items,
      meta: {
        total: r.total,
        next_cursor: last ? cursors.encode(ws, LIST_KIND, { v: Number(last.updated_at), i: last.id }) : null,
      },
    });
  }
  const del = /^\/v1\/conversations\/(conv_[0-9A-Z]{26})$/.exec(url.pathname);
  if (req.method === 'DELETE' && del) {
    const r = await OPS.delete(db, { ws, id: del[1] as string, auditId: nextId('aud_') });
    return send(res, r.deleted > 0 ? 204 : 404, r.deleted > 0 ? undefined : { error: { code: 'not_found' } });
  }
  const post = /^\/v1\/conversations\/(conv_[0-9A-Z]{26})\/messages$/.exec(url.pathname);
  if (req.method === 'POST' && post) {
    const body = JSON.parse(await readBody(req)) as { role: string; content: string };
    const idemKey = req.headers['idempotency-key'];
    const message = await OPS.append(db, {
      ws,
      conv: post[1] as string,
      id: nextId('msg_'),
      idemKey: typeof idemKey === 'string' ? idemKey : nextId('idem_'),
      role: body.role,
      content: body.content,
    });
    return send(res, 201, { data: message });
  }
  send(res, 404, { error: { code: 'not_found' } });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: unknown) => send(res, 500, { error: { code: 'internal', message: String(err) } }));
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});

/** The raw peer: the same ops, no HTTP, `concurrency` loops over the calls. */
async function rawRun(calls: Array<{ op: OpName; args: Record<string, unknown> }>, concurrency: number) {
  const latencies: number[] = new Array(calls.length);
  let next = 0;
  const started = performance.now();
  const loop = async () => {
    while (next < calls.length) {
      const i = next++;
      const c = calls[i] as { op: OpName; args: Record<string, unknown> };
      const args = { ...c.args };
      // fresh ids where the op writes rows
      if (c.op === 'append') Object.assign(args, { id: nextId('msg_'), idemKey: nextId('raw_') });
      if (c.op === 'delete') Object.assign(args, { auditId: nextId('aud_') });
      const t0 = performance.now();
      await (OPS[c.op] as (db: Db, a: unknown) => Promise<unknown>)(db, args);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, durationMs: performance.now() - started };
}

process.on('message', (m: { type?: string; calls?: []; concurrency?: number }) => {
  if (m.type === 'stop') server.close(() => db.close().then(() => process.exit(0)));
  if (m.type === 'raw') {
    rawRun(m.calls ?? [], m.concurrency ?? 1).then(
      (r) => process.send?.({ type: 'raw-result', ...r }),
      (err: unknown) => process.send?.({ type: 'error', message: String(err) }),
    );
  }
});
process.on('disconnect', () => process.exit(0));
