import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { migratePostgres } from '../src/store/postgres/index.js';
import { PG_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { migrateSqlite, openSqlite } from '../src/store/sqlite/index.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { testEngines } from './helpers/harness.js';
import { freshPostgresDatabase } from './helpers/postgres.js';

/** Audit rows as the schema before the actor_type migration held them. */
const OLD_ROWS: Array<[id: string, actor: string | null, action: string]> = [
  ['aud_1', 'key_A', 'conversation.deleted'],
  ['aud_2', null, 'api_key.created'],
  ['aud_3', 'cli', 'api_key.revoked'],
];
const EXPECTED = [
  ['aud_1', 'key_A', 'api_key'],
  ['aud_2', null, 'unknown'],
  ['aud_3', null, 'operator'],
];
const insertOld = (p: (n: number) => string) =>
  `INSERT INTO audit_events (workspace_id, id, actor_key_id, action, target_type, target_id, counts, created_at) VALUES ('ws_1', ${p(1)}, ${p(2)}, ${p(3)}, 'x', 'y', '{}', 1)`;

for (const engine of testEngines()) {
  describe(`migration: key last use and audit actor type [${engine}]`, () => {
    test('older audit rows: a key stays api_key, no actor becomes unknown, the CLI placeholder becomes the operator', async () => {
      if (engine === 'sqlite') {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-mig-'));
        const raw = openSqlite(path.join(dir, 'parley.db'));
        try {
          raw.exec(
            'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
          );
          for (const m of SQLITE_MIGRATIONS.filter((x) => x.version < 5)) {
            raw.exec(m.sql);
            m.run?.(raw);
            raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
          }
          raw.exec("INSERT INTO workspaces VALUES ('ws_1', 'w', 1)");
          for (const row of OLD_ROWS) raw.prepare(insertOld(() => '?')).run(...row);
          const report = migrateSqlite(raw);
          assert.deepEqual(
            report.applied.map((a) => a.version),
            SQLITE_MIGRATIONS.filter((m) => m.version >= 5).map((m) => m.version),
          );
          const rows = raw.prepare('SELECT id, actor_key_id, actor_type FROM audit_events ORDER BY id').raw().all();
          assert.deepEqual(rows, EXPECTED);
          const cols = raw.prepare("SELECT name FROM pragma_table_info('api_keys')").pluck().all();
          assert.ok(cols.includes('last_used_at'));
        } finally {
          raw.close();
          rmSync(dir, { recursive: true, force: true });
        }
        return;
      }
      // One attempt on a fresh database; a second only when the server itself ended the session
      // (57P01, seen under several concurrent suites on this shared cluster: cause not identified).
      // Any assertion failure fails at once.
      const attempt = async () => {
        const db = await freshPostgresDatabase();
        const pool = new pg.Pool({ connectionString: db.url, max: 1 });
        try {
          const c = await pool.connect();
          try {
            await c.query(
              'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
            );
            for (const m of PG_MIGRATIONS.filter((x) => x.version < 5)) {
              await c.query(m.sql);
              if (m.run) await m.run(c);
              if (m.sqlAfter) await c.query(m.sqlAfter);
              await c.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
            }
            await c.query("INSERT INTO workspaces VALUES ('ws_1', 'w', 1)");
            for (const row of OLD_ROWS)
              await c.query(
                insertOld((n) => `$${n}`),
                row,
              );
          } finally {
            c.release();
          }
          const report = await migratePostgres(pool);
          assert.deepEqual(
            report.applied.map((a) => a.version),
            PG_MIGRATIONS.filter((m) => m.version >= 5).map((m) => m.version),
          );
          const rows = await pool.query({
            text: 'SELECT id, actor_key_id, actor_type FROM audit_events ORDER BY id',
            rowMode: 'array',
          });
          assert.deepEqual(rows.rows, EXPECTED);
          const cols = await pool.query(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'api_keys' AND column_name = 'last_used_at'",
          );
          assert.equal(cols.rowCount, 1);
        } finally {
          await pool.end();
          await db.drop();
        }
      };
      try {
        await attempt();
      } catch (err) {
        if ((err as { code?: string }).code !== '57P01') throw err;
        await attempt();
      }
    });
  });
}
