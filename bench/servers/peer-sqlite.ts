/**
 * The peer Parley is measured against: bare node:http + better-sqlite3 running the same SQL as
 * prepared statements, with the same JSON out and the comparable work in: API-key auth by the
 * SHA-256 of the bearer token (revocation, expiry and scope checked), the id parsed, JSON columns
 * parsed and re-serialised, ISO timestamps, counters for the total, an HMAC'd next cursor.
 * What it does not have is what Parley adds on top: request ids, rate limits, schema validation,
 * metrics, logs, error envelopes for every case. With `framework: 'fastify'` the same work runs on a
 * bare Fastify instead (the framework's own floor).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import BetterSqlite3 from 'better-sqlite3';
import Fastify from 'fastify';
import {
  type ConvRow,
  type KeyRow,
  listCursor,
  type MsgRow,
  presentConversation,
  presentMessage,
  ULID,
} from './peer-shape.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { databaseUrl: string; framework?: 'node-http' | 'fastify' };
const db = new BetterSqlite3(opts.databaseUrl.replace(/^sqlite:(\/\/)?/, ''));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma('foreign_keys = ON');

const CONV_COLS = `"c"."workspace_id", "c"."id", "c"."user_id", "c"."bot_id", "c"."title", "c"."title_source",
  "c"."contact_id", "c"."deal_id", "c"."matter_id", "c"."context_extra", "c"."metadata", "c"."archived",
  "c"."message_count", "c"."tool_invocation_count", "c"."last_message_at", "c"."created_at", "c"."updated_at"`;
const keyByHash = db.prepare(
  'SELECT workspace_id, id, scopes, user_id, revoked_at, expires_at FROM api_keys WHERE key_hash = ?',
);
const convById = db.prepare(
  `SELECT ${CONV_COLS} FROM "conversations" AS "c" WHERE "c"."workspace_id" = ? AND "c"."id" = ?`,
);
const recentMessages = db.prepare(
  `SELECT "workspace_id", "conversation_id", "id", "role", "content", "metadata", "created_at" FROM "messages"
   WHERE "workspace_id" = ? AND "conversation_id" = ? ORDER BY "id" DESC LIMIT ?`,
);
const listPage = db.prepare(
  `SELECT ${CONV_COLS} FROM "conversations" AS "c" WHERE "c"."workspace_id" = ? AND "c"."archived" = ?
   ORDER BY "c"."updated_at" DESC, "c"."id" DESC LIMIT ?`,
);
const listPageUser = db.prepare(
  `SELECT ${CONV_COLS} FROM "conversations" AS "c" WHERE "c"."workspace_id" = ? AND "c"."user_id" = ? AND "c"."archived" = ?
   ORDER BY "c"."updated_at" DESC, "c"."id" DESC LIMIT ?`,
);
const counters = db.prepare('SELECT "name", "value" FROM "counters" WHERE "workspace_id" = ? AND "name" IN (?, ?)');
const cursorSecret = randomBytes(32).toString('hex');

interface Answer {
  status: number;
  body: unknown;
}
const answer = (status: number, body: unknown): Answer => ({ status, body });
const notFound = (message: string) => answer(404, { error: { code: 'not_found', message } });

function authenticate(authorization: string | undefined): KeyRow | null {
  if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) return null;
  const hash = createHash('sha256').update(authorization.slice(7).trim()).digest('hex');
  const key = keyByHash.get(hash) as KeyRow | undefined;
  if (!key || key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= Date.now())) return null;
  return key;
}

/** Live streams per conversation, as Parley keeps them in-process without Redis. */
const presence = new Map<string, Set<string>>();

/** The whole request's work, whatever server carries it. */
function handle(method: string | undefined, rawUrl: string | undefined, authorization: string | undefined): Answer {
  const url = new URL(rawUrl ?? '/', 'http://x');
  const key = authenticate(authorization);
  if (!key) return answer(401, { error: { code: 'invalid_key', message: 'Invalid or expired API key' } });
  const scopes = key.scopes.split(' ');
  if (!scopes.includes('read:ai') && !scopes.includes('admin')) {
    return answer(403, { error: { code: 'insufficient_permissions', message: 'missing read:ai' } });
  }
  if (method === 'GET' && url.pathname === '/v1/conversations') {
    const perPage = Number(url.searchParams.get('per_page') ?? 25);
    const userId = url.searchParams.get('user_id') ?? key.user_id;
    const rows = (
      userId === null
        ? listPage.all(key.workspace_id, 0, perPage + 1)
        : listPageUser.all(key.workspace_id, userId, 0, perPage + 1)
    ) as ConvRow[];
    const items = rows.slice(0, perPage);
    const names = userId === null ? ['all', 'archived'] : [`user:${userId}`, `user_archived:${userId}`];
    const counts = counters.all(key.workspace_id, names[0], names[1]) as Array<{ name: string; value: number }>;
    const get = (n: string | undefined) => counts.find((c) => c.name === n)?.value ?? 0;
    const last = items[items.length - 1];
    let nextCursor: string | null = null;
    if (rows.length > perPage && last) {
      nextCursor = listCursor(cursorSecret, key.workspace_id, last, perPage);
    }
    return answer(200, {
      data: items.map(presentConversation),
      meta: {
        total: get(names[0]) - get(names[1]),
        total_exact: true,
        page: 1,
        per_page: perPage,
        next_cursor: nextCursor,
      },
    });
  }
  const m = method === 'GET' ? /^\/v1\/conversations\/conv_([0-9A-Za-z]{26})$/.exec(url.pathname) : null;
  if (m) {
    const body = (m[1] as string).toUpperCase();
    if (!ULID.test(body)) return notFound('Not found');
    const conv = convById.get(key.workspace_id, `conv_${body}`) as ConvRow | undefined;
    if (!conv) return notFound('Not found');
    const limit = Number(url.searchParams.get('limit') ?? 200);
    const messages = recentMessages.all(key.workspace_id, conv.id, limit) as MsgRow[];
    return answer(200, {
      data: {
        ...presentConversation(conv),
        // the most recent `limit`, presented oldest first as Parley does
        messages: messages.reverse().map(presentMessage),
        // Parley reads its in-process presence map here; so does the peer
        live_connections: presence.get(`${key.workspace_id}|${conv.id}`)?.size ?? 0,
      },
    });
  }
  return notFound('No route');
}

function nodeHttpServer(): http.Server {
  return http.createServer((req, res) => {
    const a = handle(req.method, req.url, req.headers.authorization);
    const text = JSON.stringify(a.body);
    res.writeHead(a.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  });
}

/**
 * The same work on a bare Fastify (no hooks, no schemas, its default JSON serializer): the
 * framework's own cost per request, measured beside Parley, which is built on it.
 */
async function fastifyServer(): Promise<http.Server> {
  const app = Fastify();
  app.get('/*', (req, reply) => {
    const a = handle(req.method, req.url, req.headers.authorization);
    return reply.code(a.status).send(a.body);
  });
  await app.ready();
  return app.server;
}

const server = opts.framework === 'fastify' ? await fastifyServer() : nodeHttpServer();
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});
process.on('message', (m: { type?: string }) => {
  if (m.type === 'stop') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
