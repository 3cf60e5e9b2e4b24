/**
 * The PostgreSQL peers: the same SQL Parley's store sends (Kysely's compiled text, $n parameters,
 * unnamed statements), through a pg Pool of the same size with the same int8 -> number parser,
 * answering the same JSON. Auth per request as Parley does it: SHA-256 of the bearer token, key
 * row looked up by hash (revocation, expiry, scope checked). Two front ends over one set of handlers:
 *   - `node-http`: bare node:http, the floor;
 *   - `express`: an ordinary Express 5 app (auth middleware, routes with params, res.json()).
 * What neither has is what Parley adds: request ids, rate limits, schema validation, metrics,
 * logs, error envelopes for every case.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import pg from 'pg';
import {
  type ConvRow,
  type KeyRow,
  listCursor,
  type MsgRow,
  presentConversation,
  presentMessage,
  ULID,
} from './peer-shape.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as {
  databaseUrl: string;
  framework: 'node-http' | 'express';
  poolSize: number;
};

const pool = new pg.Pool({
  connectionString: opts.databaseUrl,
  max: opts.poolSize,
  keepAlive: true,
  types: {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === 20 && format !== 'binary'
        ? (v: string) => Number(v)
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  },
});

// Kysely's output for Parley's hot-read templates, verbatim
const CONV_COLS = `"c"."workspace_id", "c"."id", "c"."user_id", "c"."bot_id", "c"."title", "c"."title_source", "c"."contact_id", "c"."deal_id", "c"."matter_id", "c"."context_extra", "c"."metadata", "c"."archived", "c"."message_count", "c"."tool_invocation_count", "c"."last_message_at", "c"."created_at", "c"."updated_at"`;
const SQL = {
  keyByHash:
    'select "workspace_id", "id", "name", "prefix", "scopes", "user_id", "instance_admin", "rate_limit", "expires_at", "revoked_at", "created_at", "last_used_at" from "api_keys" where "key_hash" = $1',
  convById: `select ${CONV_COLS} from "conversations" as "c" where "c"."workspace_id" = $1 and "c"."id" = $2`,
  recentMessages:
    'select "workspace_id", "conversation_id", "id", "role", "content", "metadata", "created_at" from "messages" where "workspace_id" = $1 and "conversation_id" = $2 order by "id" desc limit $3',
  listPage: `select ${CONV_COLS} from "conversations" as "c" where "c"."workspace_id" = $1 and "c"."archived" = $2 order by "c"."updated_at" desc, "c"."id" desc limit $3`,
  listPageUser: `select ${CONV_COLS} from "conversations" as "c" where "c"."workspace_id" = $1 and "c"."user_id" = $2 and "c"."archived" = $3 order by "c"."updated_at" desc, "c"."id" desc limit $4`,
  counters: 'select "name", "value" from "counters" where "workspace_id" = $1 and "name" in ($2, $3)',
};
const cursorSecret = randomBytes(32).toString('hex');

type Answer = { status: number; body: unknown };
const notFound: Answer = { status: 404, body: { error: { code: 'not_found', message: 'Not found' } } };

/** null: not authenticated; a string: the missing scope's refusal. */
async function authenticate(header: string | undefined): Promise<KeyRow | Answer> {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
    return { status: 401, body: { error: { code: 'invalid_key', message: 'Missing API key' } } };
  }
  const hash = createHash('sha256').update(header.slice(7).trim()).digest('hex');
  const key = (await pool.query<KeyRow>(SQL.keyByHash, [hash])).rows[0];
  if (!key || key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= Date.now())) {
    return { status: 401, body: { error: { code: 'invalid_key', message: 'Invalid or expired API key' } } };
  }
  const scopes = key.scopes.split(' ');
  if (!scopes.includes('read:ai') && !scopes.includes('admin')) {
    return { status: 403, body: { error: { code: 'insufficient_permissions', message: 'missing read:ai' } } };
  }
  return key;
}

async function listConversations(key: KeyRow, query: URLSearchParams): Promise<Answer> {
  const perPage = Number(query.get('per_page') ?? 25);
  const userId = query.get('user_id') ?? key.user_id;
  const rows = (
    userId === null
      ? await pool.query<ConvRow>(SQL.listPage, [key.workspace_id, 0, perPage + 1])
      : await pool.query<ConvRow>(SQL.listPageUser, [key.workspace_id, userId, 0, perPage + 1])
  ).rows;
  const items = rows.slice(0, perPage);
  const names = userId === null ? ['all', 'archived'] : [`user:${userId}`, `user_archived:${userId}`];
  const counts = (await pool.query<{ name: string; value: number }>(SQL.counters, [key.workspace_id, ...names])).rows;
  const get = (n: string | undefined) => counts.find((c) => c.name === n)?.value ?? 0;
  const last = items[items.length - 1];
  let nextCursor: string | null = null;
  if (rows.length > perPage && last) {
    nextCursor = listCursor(cursorSecret, key.workspace_id, last, perPage);
  }
  return {
    status: 200,
    body: {
      data: items.map(presentConversation),
      meta: {
        total: get(names[0]) - get(names[1]),
        total_exact: true,
        page: 1,
        per_page: perPage,
        next_cursor: nextCursor,
      },
    },
  };
}

/** Live streams per conversation, as Parley keeps them in-process without Redis. */
const presence = new Map<string, Set<string>>();

async function getConversation(key: KeyRow, rawId: string, query: URLSearchParams): Promise<Answer> {
  const m = /^conv_([0-9A-Za-z]{26})$/.exec(rawId);
  if (!m) return notFound;
  const body = (m[1] as string).toUpperCase();
  if (!ULID.test(body)) return notFound;
  const conv = (await pool.query<ConvRow>(SQL.convById, [key.workspace_id, `conv_${body}`])).rows[0];
  if (!conv) return notFound;
  const limit = Number(query.get('limit') ?? 200);
  const messages = (await pool.query<MsgRow>(SQL.recentMessages, [key.workspace_id, conv.id, limit])).rows;
  return {
    status: 200,
    body: {
      data: {
        ...presentConversation(conv),
        // the most recent `limit`, presented oldest first as Parley does
        messages: messages.reverse().map(presentMessage),
        live_connections: presence.get(`${key.workspace_id}|${conv.id}`)?.size ?? 0,
      },
    },
  };
}

function nodeHttpServer(): http.Server {
  const send = (res: http.ServerResponse, a: Answer) => {
    const text = JSON.stringify(a.body);
    res.writeHead(a.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const key = await authenticate(req.headers.authorization);
    if ('status' in key) return send(res, key);
    if (req.method === 'GET' && url.pathname === '/v1/conversations') {
      return send(res, await listConversations(key, url.searchParams));
    }
    const m = req.method === 'GET' ? /^\/v1\/conversations\/([^/]+)$/.exec(url.pathname) : null;
    if (m) return send(res, await getConversation(key, m[1] as string, url.searchParams));
    send(res, { status: 404, body: { error: { code: 'not_found', message: 'No route' } } });
  };
  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error(err);
      send(res, { status: 500, body: { error: { code: 'internal_error', message: String(err) } } });
    });
  });
}

function expressServer(): http.Server {
  const app = express();
  app.disable('x-powered-by');
  const keys = new WeakMap<express.Request, KeyRow>();
  const reply = (res: express.Response, a: Answer) => res.status(a.status).json(a.body);
  const queryOf = (req: express.Request) => new URLSearchParams(req.url.split('?')[1] ?? '');
  app.use(async (req, res, next) => {
    const key = await authenticate(req.get('authorization'));
    if ('status' in key) return reply(res, key);
    keys.set(req, key);
    next();
  });
  app.get('/v1/conversations', async (req, res) => {
    reply(res, await listConversations(keys.get(req) as KeyRow, queryOf(req)));
  });
  app.get('/v1/conversations/:id', async (req, res) => {
    reply(res, await getConversation(keys.get(req) as KeyRow, req.params.id, queryOf(req)));
  });
  app.use((_req, res) => reply(res, { status: 404, body: { error: { code: 'not_found', message: 'No route' } } }));
  return http.createServer(app);
}

const server = opts.framework === 'express' ? expressServer() : nodeHttpServer();
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});
process.on('message', (m: { type?: string }) => {
  if (m.type === 'stop') server.close(() => pool.end().then(() => process.exit(0)));
});
process.on('disconnect', () => process.exit(0));
