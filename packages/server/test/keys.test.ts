import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createParley } from '../src/parley.js';
import {
  Client,
  type Engine,
  freshDatabase,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

/** Every row of the given tables, as text, read straight from the database (not through Parley). */
async function dumpTables(server: { parley: TestServer['parley'] }, tables: string[]): Promise<string> {
  const url = server.parley.config.database.url;
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    try {
      return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM ${t}`).all()));
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: unknown[] = [];
    for (const t of tables) out.push((await client.query(`SELECT * FROM ${t}`)).rows);
    return JSON.stringify(out);
  } finally {
    await client.end();
  }
}

const SECRET_RE = /^prl_[A-Za-z0-9_-]{43}$/;

for (const engine of testEngines()) {
  describe(`API keys [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
    });
    after(async () => server.close());

    test('POST /v1/keys: 201 with the secret once; GET never shows it; it authenticates', async () => {
      const r = await ws.admin.post('/v1/keys', { name: 'reader', scopes: ['read:ai'] });
      assert.equal(r.status, 201, r.text);
      const secret: string = r.body.data.secret;
      assert.match(secret, SECRET_RE);
      const key = r.body.data.key;
      assert.match(key.id, /^key_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.ok(secret.startsWith(key.prefix) && key.prefix.length < secret.length / 2, 'a short recognisable prefix');
      assert.deepEqual(key.scopes, ['read:ai']);
      assert.equal(key.revoked_at, null);
      assert.equal(key.user_id, null);
      const list = await ws.admin.get('/v1/keys');
      const one = await ws.admin.get(`/v1/keys/${key.id}`);
      assert.equal(list.status, 200);
      assert.equal(one.status, 200);
      assert.ok(list.body.data.some((k: { id: string }) => k.id === key.id));
      assert.deepEqual(one.body.data, key);
      for (const text of [list.text, one.text]) {
        assert.ok(!text.includes(secret), 'the secret is never shown again');
        assert.ok(!text.includes(secret.slice(4)), 'not even without its prefix');
        assert.ok(!/"secret"/.test(text), 'no secret field at all');
      }
      assert.equal((await new Client(server.url, secret).get('/v1/conversations')).status, 200);
    });

    test('the database holds only a hash: the secret is nowhere in api_keys or idempotency_records', async () => {
      const idem = 'keys-db-check-0001';
      const r = await ws.admin.post('/v1/keys', { name: 'stored', scopes: ['write:ai'] }, { 'idempotency-key': idem });
      assert.equal(r.status, 201, r.text);
      const secret: string = r.body.data.secret;
      assert.match(secret, SECRET_RE);
      // the replay answers the same key without the secret, since the secret was never stored
      const replay = await ws.admin.post(
        '/v1/keys',
        { name: 'stored', scopes: ['write:ai'] },
        { 'idempotency-key': idem },
      );
      assert.equal(replay.status, 201);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.body.data.key.id, r.body.data.key.id);
      assert.equal(replay.body.data.secret, null);
      // and the workspace's first admin key, made by POST /v1/workspaces
      const dump = await dumpTables(server, ['api_keys', 'idempotency_records']);
      assert.ok(dump.includes(r.body.data.key.id), 'the dump does hold the key row');
      assert.ok(dump.includes(idem), 'the dump does hold the idempotency record');
      for (const s of [secret, ws.admin.key as string, server.instanceKey]) {
        assert.ok(!dump.includes(s), 'no secret in the database');
        assert.ok(!dump.includes(s.slice(4)), 'not even its random part');
      }
    });

    test('a key bound to a user: lists that user by default and creates for that user', async () => {
      const { client: alice } = await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' });
      const forAlice = await ws.admin.post('/v1/conversations', { user_id: 'alice', title: 'a' });
      const forBob = await ws.admin.post('/v1/conversations', { user_id: 'bob', title: 'b' });
      const nobody = await ws.admin.post('/v1/conversations', { title: 'n' });
      const made = await alice.post('/v1/conversations', { title: 'by alice' });
      assert.equal(made.status, 201);
      assert.equal(made.body.data.user_id, 'alice', 'creating without user_id sets the key’s user');
      const mine = await alice.get('/v1/conversations?per_page=100');
      assert.equal(mine.status, 200);
      const mineIds = mine.body.data.map((c: { id: string }) => c.id).sort();
      assert.deepEqual(mineIds, [forAlice.body.data.id, made.body.data.id].sort());
      assert.ok(mine.body.data.every((c: { user_id: string }) => c.user_id === 'alice'));
      assert.equal(mine.body.meta.total, 2);
      // a workspace key without a user sees everyone
      const { client: team } = await ws.key(['read:ai']);
      const everyone = (await team.get('/v1/conversations?per_page=100')).body.data.map((c: { id: string }) => c.id);
      for (const id of [forAlice.body.data.id, forBob.body.data.id, nobody.body.data.id, made.body.data.id]) {
        assert.ok(everyone.includes(id), `${id} listed for the workspace key`);
      }
      const keyRow = (await ws.admin.get('/v1/keys')).body.data.find((k: { user_id: string }) => k.user_id === 'alice');
      assert.ok(keyRow, 'the binding is shown on the key');
    });

    test('a key bound to a user mints only keys bound to the same user (no way out of the boundary)', async () => {
      const { client: aliceAdmin } = await ws.key(['admin'], { user_id: 'alice' });
      const bob = await ws.admin.post('/v1/conversations', { user_id: 'bob', title: 'bob' });
      const forBobByAlice = await aliceAdmin.post('/v1/keys', {
        name: 'forBobByAlice',
        scopes: ['read:ai'],
        user_id: 'bob',
      });
      assert.equal(forBobByAlice.status, 403, forBobByAlice.text);
      assert.equal(forBobByAlice.body.error.code, 'insufficient_permissions');
      assert.match(forBobByAlice.body.error.message, /bound to user alice/);
      const inherited = await aliceAdmin.post('/v1/keys', { name: 'child', scopes: ['read:ai'] });
      assert.equal(inherited.status, 201, inherited.text);
      assert.equal(inherited.body.data.key.user_id, 'alice', 'without user_id the new key is bound to alice too');
      const child = new Client(server.url, inherited.body.data.secret);
      assert.equal((await child.get(`/v1/conversations/${bob.body.data.id}`)).status, 404);
      // a workspace key (no user) may still bind keys to anyone
      const forBob = await ws.admin.post('/v1/keys', { name: 'bob', scopes: ['read:ai'], user_id: 'bob' });
      assert.equal(forBob.status, 201);
    });

    test('expires_at in the past (or now) → 400; in the future → accepted and shown', async () => {
      for (const when of [new Date(server.clock.now() - 1000), new Date(server.clock.now() - 86_400_000)]) {
        const r = await ws.admin.post('/v1/keys', {
          name: 'late',
          scopes: ['read:ai'],
          expires_at: when.toISOString(),
        });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error.code, 'validation_failed');
        assert.ok(r.text.includes('expires_at'));
      }
      const bad = await ws.admin.post('/v1/keys', { name: 'x', scopes: ['read:ai'], expires_at: 'tomorrow' });
      assert.equal(bad.status, 400);
      const future = new Date(server.clock.now() + 3_600_000).toISOString();
      const ok = await ws.admin.post('/v1/keys', { name: 'soon', scopes: ['read:ai'], expires_at: future });
      assert.equal(ok.status, 201);
      assert.equal(Date.parse(ok.body.data.key.expires_at), Date.parse(future));
    });

    test('unknown scope, no scopes, or an empty name → 400', async () => {
      for (const body of [
        { name: 'x', scopes: ['root'] },
        { name: 'x', scopes: [] },
        { name: '', scopes: ['read:ai'] },
        { scopes: ['read:ai'] },
        { name: 'x', scopes: ['read:ai'], rate_limit: 0 },
      ]) {
        const r = await ws.admin.post('/v1/keys', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, 'validation_failed');
      }
    });
  });

  describe(`logs never hold secrets [${engine}]`, () => {
    const lines: string[] = [];
    let url = '';
    let close: () => Promise<void> = async () => {};
    let instanceKey = '';

    async function start(e: Engine) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-logs-'));
      const db = await freshDatabase(e, dataDir);
      const config = loadConfig(
        {},
        { http: { host: '127.0.0.1', port: 0 }, database: { dataDir, url: db.url }, log: { level: 'info' } },
      );
      const logger = createLogger({ level: 'info' }, { write: (s: string) => void lines.push(s) });
      const parley = await createParley(config, { clock: new ManualClock(), logger });
      url = await parley.start();
      instanceKey = parley.bootstrapped?.key.secret ?? '';
      close = async () => {
        await parley.close();
        await db.drop();
        rmSync(dataDir, { recursive: true, force: true });
      };
    }

    before(() => start(engine));
    after(() => close());

    test('Authorization, X-API-Key, Idempotency-Key and query strings never reach the log; request_id is on every line', async () => {
      const instance = new Client(url, instanceKey);
      const created = await instance.post('/v1/workspaces', { name: 'logged' });
      assert.equal(created.status, 201);
      const secret: string = created.body.data.secret;
      const api = new Client(url, secret);
      const idem = 'idem-key-that-must-stay-private-7f3a';
      const ids: string[] = [];
      const track = (r: { headers: Headers }) => ids.push(r.headers.get('x-request-id') ?? '');
      track(created);
      track(await api.post('/v1/conversations', { title: 'logged' }, { 'idempotency-key': idem }));
      track(await api.post('/v1/conversations', { title: 'logged' }, { 'idempotency-key': idem }));
      track(await api.post('/v1/conversations', { title: 'other' }, { 'idempotency-key': idem })); // 422
      track(await api.get('/v1/conversations', { 'x-api-key': secret }));
      track(await api.post('/v1/conversations', { title: 5 }, { 'x-api-key': secret, 'idempotency-key': `${idem}-2` }));
      track(await api.get(`/v1/conversations?api_key=${secret}`)); // 400, the query holds the secret
      track(await new Client(url).get('/v1/conversations', { authorization: `Bearer ${secret}x` })); // 401
      const keyReply = await api.post('/v1/keys', { name: 'k', scopes: ['read:ai'] });
      track(keyReply);
      const minted: string = keyReply.body.data.secret;
      track(await new Client(url, minted).get('/v1/nowhere')); // 404
      // pino writes synchronously to our stream, and the completion line is written before onResponse ends
      await new Promise((r) => setImmediate(r));

      const text = lines.join('');
      assert.ok(text.length > 0, 'something was logged');
      for (const s of [secret, minted, instanceKey, idem]) {
        assert.ok(!text.includes(s), `a secret reached the log: ${s.slice(0, 8)}…`);
      }
      assert.ok(!text.includes(secret.slice(4)), 'not even the random part of a key');
      const parsed = lines
        .flatMap((l) => l.split('\n'))
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const requestLines = parsed.filter(
        (l) => l.req !== undefined || l.res !== undefined || l.msg === 'request completed',
      );
      assert.ok(requestLines.length >= ids.length, `one line per request at least (${requestLines.length})`);
      for (const l of requestLines)
        assert.match(String(l.request_id), /^req_[0-9A-HJKMNP-TV-Z]{26}$/, JSON.stringify(l));
      const logged = new Set(requestLines.map((l) => l.request_id));
      for (const id of ids) assert.ok(logged.has(id), `request ${id} is logged under its id`);
      const completed = parsed.filter((l) => l.msg === 'request completed');
      assert.ok(
        completed.some((l) => l.status === 422),
        'the failing requests are logged too',
      );
      assert.ok(completed.some((l) => l.status === 401));
    });
  });
}
