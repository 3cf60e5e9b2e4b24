import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { PostgresStore } from '../src/store/postgres/index.js';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';

// A database that is busy (SQLite: another process holds the write lock past busy_timeout) or that
// cannot answer in time (PostgreSQL: a lock held past statement_timeout) is reported by the store
// itself as service_unavailable: HTTP answers 503 with Retry-After, never 500, and writes nothing.

const engines = testEngines();

function assertUnavailable(r: { status: number; headers: Headers; body: { error: { code: string } } }): void {
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'service_unavailable');
  assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
}

if (engines.includes('sqlite')) {
  describe('a busy SQLite database [sqlite]', () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let other: BetterSqlite3.Database;
    before(async () => {
      server = await startServer('sqlite');
      ws = await newWorkspace(server, 'busy');
      const store = server.parley.store as SqliteStore;
      // the server gives up on the lock quickly; the test holds it from a second connection
      store.raw.pragma('busy_timeout = 50');
      other = new BetterSqlite3(path.join(server.dataDir, 'parley.db'));
    });
    after(async () => {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await server.close();
    });

    test('a write while another process holds the write lock is 503 service_unavailable; reads go on', async () => {
      const before = await ws.admin.get('/v1/conversations');
      assert.equal(before.status, 200);
      other.exec('BEGIN IMMEDIATE');
      try {
        assertUnavailable(await ws.admin.post('/v1/conversations', { title: 'while locked' }));
        // WAL readers do not wait on the writer
        const during = await ws.admin.get('/v1/conversations');
        assert.equal(during.status, 200);
        assert.equal(during.body.meta.total, before.body.meta.total, 'the refused write left nothing');
      } finally {
        other.exec('ROLLBACK');
      }
      assert.equal((await ws.admin.post('/v1/conversations', { title: 'after' })).status, 201);
    });
  });
}

if (engines.includes('postgres')) {
  describe('a PostgreSQL that cannot answer in time [postgres]', () => {
    let server: TestServer;
    let ws: TestWorkspace;
    before(async () => {
      server = await startServer('postgres', { pg: { statementTimeoutMs: 300 } });
      ws = await newWorkspace(server, 'locked');
    });
    after(async () => server.close());

    test('a write blocked past statement_timeout is 503 service_unavailable, and writes nothing', async () => {
      const before = await ws.admin.get('/v1/conversations');
      assert.equal(before.status, 200);
      const client = await (server.parley.store as PostgresStore).pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE');
        assertUnavailable(await ws.admin.post('/v1/conversations', { title: 'while locked' }));
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      const afterwards = await ws.admin.get('/v1/conversations');
      assert.equal(afterwards.body.meta.total, before.body.meta.total, 'the refused write left nothing');
      assert.equal((await ws.admin.post('/v1/conversations', { title: 'after' })).status, 201);
    });
  });
}
