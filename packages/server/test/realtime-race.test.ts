import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { eventually } from './helpers/live.js';
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';
import { type ChildServer, startChildServer, startRedis, type TestRedis } from './helpers/redis.js';

/**
 * The attach/delete race of docs/realtime.md, round after round: a WebSocket attaches on
 * instance A while a DELETE ?if_idle=true runs on instance B (another process) for the same
 * conversation. Whatever the interleaving, a 204 never leaves a socket attached nor a row
 * behind, and a 409 means the socket is attached and the conversation still there.
 */
const ROUNDS = 500;
/** How long a socket may take to end after a 204 before the round counts as a leak (a bound, not a timing claim). */
const SETTLE_MS = 10_000;

interface Attempt {
  /** Set when the server refused the upgrade (HTTP status). */
  refused: number | null;
  ready: boolean;
  close: { code: number; reason: string } | null;
  /** Resolves once the socket is ready, closed or refused, whichever comes first. */
  first: Promise<void>;
  /** Resolves once the socket is closed or was refused. */
  ended: Promise<void>;
  ws: WebSocket;
}

function attach(url: string, key: string): Attempt {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
  let markFirst!: () => void;
  let markEnded!: () => void;
  const a: Attempt = {
    refused: null,
    ready: false,
    close: null,
    first: new Promise((r) => {
      markFirst = r;
    }),
    ended: new Promise((r) => {
      markEnded = r;
    }),
    ws,
  };
  ws.on('unexpected-response', (_req, res) => {
    a.refused = res.statusCode ?? 0;
    res.resume();
    markFirst();
    markEnded();
  });
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as { type?: string };
    if (f.type === 'stream.ready') {
      a.ready = true;
      markFirst();
    }
  });
  ws.on('close', (code, reason) => {
    a.close = { code, reason: String(reason) };
    markFirst();
    markEnded();
  });
  ws.on('error', () => {});
  return a;
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const engine of testEngines()) {
  describe(`attach on A vs DELETE on B, ${ROUNDS} rounds [${engine}]`, () => {
    let redis: TestRedis;
    let a: TestServer;
    let b: ChildServer;
    let apiA: Client;
    let apiB: Client;
    let key: string;
    let workspaceId: string;
    let raw: RawInspector;

    before(async () => {
      redis = await startRedis();
      // startServer gives A a fresh database (freshPostgresDatabase on postgres, its own SQLite file
      // otherwise); B is a second process on that same database
      a = await startServer(engine, { redisUrl: redis.url });
      b = await startChildServer({
        PARLEY_DATABASE_URL: a.parley.config.databaseUrl,
        PARLEY_REDIS_URL: redis.url,
      });
      const ws = await newWorkspace(a);
      workspaceId = ws.id;
      // thousands of requests in a minute: the key carries a limit the run cannot reach
      const k = await ws.key(['read:ai', 'write:ai'], { rate_limit: 1_000_000 });
      key = k.secret;
      apiA = k.client;
      apiB = new Client(b.url, key);
      raw = rawInspector(engine, a);
    });
    after(async () => {
      await raw?.close();
      await b?.kill();
      await a?.close();
      await redis?.stop();
    });

    test('never a 204 with a socket attached, never a row after a 204', async (t) => {
      const outcomes = new Map<string, number>();
      const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      for (let round = 0; round < ROUNDS; round++) {
        const created = await apiA.post('/v1/conversations', {
          title: `race ${round}`,
          messages: [{ role: 'user', content: `hello ${round}` }],
        });
        assert.equal(created.status, 201);
        const id = created.body.data.id as string;
        // shift the two sides against each other by 0-4 ms either way, so every interleaving
        // (delete before the upgrade, during the attach, after stream.ready) gets its turn
        const shift = (round % 9) - 4;
        const wsP = (async () => {
          if (shift > 0) await sleep(shift);
          return attach(`${a.url.replace(/^http/, 'ws')}/v1/conversations/${id}/stream`, key);
        })();
        const delP = (async () => {
          if (shift < 0) await sleep(-shift);
          return apiB.delete(`/v1/conversations/${id}?if_idle=true`);
        })();
        const [s, del] = await Promise.all([wsP, delP]);
        const where = `round ${round} (${id}, shift ${shift})`;

        if (del.status === 204) {
          // the socket must end: refused (404), closed before ready (4404), or ready then 4410
          const ended = await within(s.ended, SETTLE_MS);
          assert.ok(
            ended,
            `${where}: DELETE answered 204 but the socket is still attached (ready=${s.ready}) ${SETTLE_MS} ms later`,
          );
          if (s.refused !== null) {
            assert.equal(s.refused, 404, `${where}: refused with ${s.refused}`);
            count('204, upgrade refused 404');
          } else if (s.ready) {
            assert.equal(s.close?.code, 4410, `${where}: attached socket closed with ${s.close?.code}, not 4410`);
            count('204, attached then closed 4410');
          } else {
            assert.equal(s.close?.code, 4404, `${where}: socket closed with ${s.close?.code} before attaching`);
            count('204, upgraded then closed 4404');
          }
          for (const api of [apiA, apiB]) {
            assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404, `${where}: GET after 204`);
          }
          for (const table of ['conversations', 'messages', 'conversation_events'] as const) {
            assert.equal(await raw.conversationRows(table, workspaceId, id), 0, `${where}: ${table} row left`);
          }
        } else {
          assert.equal(del.status, 409, `${where}: DELETE answered ${del.status} ${del.text}`);
          assert.equal(del.body.error.code, 'conversation_busy');
          // 409 means a stream was counted: it must be the one attaching, and it must attach
          await s.first;
          assert.ok(
            s.ready,
            `${where}: 409 but the socket did not attach (closed ${s.close?.code}, refused ${s.refused})`,
          );
          assert.equal(s.close, null, `${where}: 409 but the socket closed`);
          assert.equal((await apiA.get(`/v1/conversations/${id}`)).status, 200, `${where}: 409 must delete nothing`);
          count('409, socket attached');
          s.ws.close();
          await s.ended;
        }
      }
      t.diagnostic(
        [...outcomes]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join('; '),
      );
      // every stream has ended: no presence lease is left behind in Redis
      const probe = new Redis(redis.url);
      try {
        const leases = async () => {
          let n = 0;
          for (const k of await probe.keys('parley:presence:*')) n += await probe.zcard(k);
          return n;
        };
        assert.equal(await eventually(leases, 0), 0, 'presence leases left after every socket ended');
      } finally {
        probe.disconnect();
      }
    });
  });
}
