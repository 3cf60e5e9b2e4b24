import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Kysely, sql } from 'kysely';
import { createLogger } from '../src/log.js';
import type { Database } from '../src/store/schema.js';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';
import { waitForJob } from './helpers/jobs.js';
import { rawInspector } from './helpers/raw-rows.js';
import { pagesHolding } from './helpers/sqlite-pages.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Everything the server logged, as text. */
function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { logger: createLogger({ level: 'trace' }, stream), text: () => text };
}

/** Every key and value under the prefix that mentions `canary`. */
async function redisMentions(prefix: string, canary: string): Promise<string[]> {
  const r = new Redis(REDIS_URL);
  try {
    const hits: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`);
      cursor = next;
      for (const k of keys) {
        const type = await r.type(k);
        const value =
          type === 'string'
            ? await r.get(k)
            : type === 'hash'
              ? JSON.stringify(await r.hgetall(k))
              : type === 'zset'
                ? JSON.stringify(await r.zrange(k, '0', '-1'))
                : type === 'set'
                  ? JSON.stringify(await r.smembers(k))
                  : type === 'list'
                    ? JSON.stringify(await r.lrange(k, 0, -1))
                    : '';
        if (k.includes(canary) || (value ?? '').includes(canary)) hits.push(k);
      }
    } while (cursor !== '0');
    return hits;
  } finally {
    r.disconnect();
  }
}

/** Files (of every relation of the database, each segment and fork) that contain the canary. */
async function pgFilesMentioning(db: Kysely<Database>, canary: string): Promise<Record<string, number>> {
  const dir = (await sql<{ d: string }>`SELECT current_setting('data_directory') AS d`.execute(db)).rows[0]?.d;
  assert.ok(dir, 'data_directory readable');
  const rels = await sql<{ name: string; file: string }>`SELECT c.relname AS name, pg_relation_filepath(c.oid) AS file
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'i', 't') AND (n.nspname = current_schema() OR n.nspname = 'pg_toast')
      AND pg_relation_filepath(c.oid) IS NOT NULL`.execute(db);
  const out: Record<string, number> = {};
  const needle = Buffer.from(canary);
  for (const { name, file } of rels.rows) {
    const base = path.join(dir, file);
    const folder = path.dirname(base);
    for (const f of readdirSync(folder).filter(
      (f) =>
        f === path.basename(base) || f.startsWith(`${path.basename(base)}.`) || f.startsWith(`${path.basename(base)}_`),
    )) {
      const bytes = readFileSync(path.join(folder, f));
      let n = 0;
      for (let i = bytes.indexOf(needle); i !== -1; i = bytes.indexOf(needle, i + 1)) n++;
      if (n > 0) out[`${name} (${f})`] = n;
    }
  }
  return out;
}

/** The canary planted everywhere a conversation can carry content. */
async function plant(ws: TestWorkspace, user: string, canary: string): Promise<string> {
  const c = await ws.admin.post(
    '/v1/conversations',
    {
      title: `title ${canary}`,
      user_id: user,
      metadata: { m: canary },
      context: { matter_id: `m-${canary}`, note: canary },
      messages: [{ role: 'user', content: `hello ${canary} ${'padding '.repeat(50)}` }],
    },
    { 'idempotency-key': `plant-${Math.random()}` },
  );
  assert.equal(c.status, 201, c.text);
  const id = c.body.data.id as string;
  const m = await ws.admin.post(
    `/v1/conversations/${id}/messages`,
    { role: 'assistant', content: `answer ${canary}`, metadata: { k: canary } },
    { 'idempotency-key': `plant-${Math.random()}` },
  );
  assert.equal(m.status, 201, m.text);
  const t = await ws.admin.post(`/v1/conversations/${id}/tool-invocations`, {
    tool_name: 'lookup',
    input: { q: canary },
    output: { a: canary },
  });
  assert.equal(t.status, 201, t.text);
  return id;
}

for (const engine of testEngines()) {
  describe(`canary: erase, delete, bulk delete and purge leave nothing [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    const logs = capture();
    const prefix = `parley-canary-${process.pid}-${engine}:`;

    before(async () => {
      server = await startServer(
        engine,
        {
          redis: { url: REDIS_URL, prefix },
          jobs: { batchSize: 3, eraseVacuum: 'full' },
          log: { level: 'trace' },
        },
        { logger: logs.logger },
      );
      ws = await newWorkspace(server, 'canary');
    });
    after(async () => server.close());

    for (const how of ['erase', 'delete', 'bulk-delete', 'purge'] as const) {
      test(`after ${how}: no table, no database file, no Redis key, no log line holds the canary`, async () => {
        const canary = `zqx${how}canary${engine}`;
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) ids.push(await plant(ws, `u-${how}`, canary));
        if (how === 'erase') {
          const r = await ws.admin.post(`/v1/users/u-${how}/erase`, {});
          assert.equal(r.status, 202, r.text);
          const done = await waitForJob(ws.admin, r.body.data.id);
          assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
          assert.equal(done.result.receipt.counts.conversations, 7);
          assert.ok(!JSON.stringify(done).includes(canary), 'the receipt holds no content');
        } else {
          if (how === 'delete') {
            for (const id of ids) assert.equal((await ws.admin.delete(`/v1/conversations/${id}`)).status, 204);
          } else if (how === 'bulk-delete') {
            const r = await ws.admin.post('/v1/conversations/bulk-delete', { ids });
            assert.equal(r.status, 200, r.text);
            assert.deepEqual(
              r.body.data.map((x: { status: string }) => x.status),
              ids.map(() => 'deleted'),
            );
          } else {
            // with the trash on, a delete keeps the content until the window ends and the purge runs
            assert.equal((await ws.admin.patch('/v1/workspace', { trash_days: 1 })).status, 200);
            for (const id of ids) assert.equal((await ws.admin.delete(`/v1/conversations/${id}`)).status, 204);
            const held = rawInspector(engine, server);
            try {
              assert.ok(Object.keys(await held.rowsMentioning(canary)).length > 0, 'the trash still holds it');
            } finally {
              await held.close();
            }
            server.clock.advance(2 * 24 * 3600_000);
            const purged = await ws.admin.post('/v1/trash/purge', {});
            assert.equal(purged.status, 200, purged.text);
            assert.equal(purged.body.data.purged, ids.length);
            assert.equal((await ws.admin.patch('/v1/workspace', { trash_days: 0 })).status, 200);
          }
          // a plain delete has no VACUUM of its own: the same reclaim the erase job ends with
          await server.parley.store.reclaim(
            ['conversations', 'messages', 'tool_invocations', 'conversation_events', 'idempotency_records'],
            'full',
          );
        }
        const dictionary = (t: string) => /^(message|title)_idx_(data|idx)$/.test(t);
        if (engine === 'sqlite') {
          // until the full-text compaction has run, a deleted row's terms stay in the index
          // segments (contentless_delete leaves a tombstone); the term dictionary may hold it
          const raw = rawInspector(engine, server);
          try {
            const left = await raw.rowsMentioning(canary);
            assert.deepEqual(
              Object.keys(left).filter((t) => !dictionary(t)),
              [],
              `rows before the compaction: ${JSON.stringify(left)}`,
            );
          } finally {
            await raw.close();
          }
          // the compaction (it runs in the background after erasures; here awaited)
          await (server.parley.store as SqliteStore).compaction.runNow();
        }
        // every table, the full-text index's included
        const raw = rawInspector(engine, server);
        try {
          assert.deepEqual(await raw.rowsMentioning(canary), {}, 'rows');
        } finally {
          await raw.close();
        }
        // the database files
        if (engine === 'sqlite') {
          const file = path.join(server.dataDir, 'parley.db');
          assert.equal((server.parley.store as SqliteStore).checkpoint().busy, false);
          assert.equal(existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0, 0, 'WAL truncated');
          assert.deepEqual(pagesHolding(file, canary), [], 'no row, index entry, index segment or free page');
        } else {
          const db = (server.parley.store as unknown as { kysely: Kysely<Database> }).kysely;
          // the job's VACUUM keeps dead rows that an open transaction (other suites share this
          // cluster) may still see, and says so in the receipt; once none is open, none are kept
          const tables = [
            'conversations',
            'messages',
            'tool_invocations',
            'conversation_events',
            'idempotency_records',
          ];
          const deadline = Date.now() + 60_000;
          for (;;) {
            const r = await server.parley.store.reclaim(tables, 'full');
            if (r.deadRowsKept === 0) break;
            assert.ok(Date.now() < deadline, `dead rows still kept after 60 s: ${r.deadRowsKept}`);
            await new Promise((res) => setTimeout(res, 250));
          }
          // a checkpoint of a busy shared cluster may outlast the pool's statement timeout
          await db.transaction().execute(async (trx) => {
            await sql`SET LOCAL statement_timeout = 0`.execute(trx);
            await sql`CHECKPOINT`.execute(trx);
          });
          assert.deepEqual(await pgFilesMentioning(db, canary), {}, 'table, TOAST and index files after VACUUM FULL');
        }
        // Redis (rate limits, presence: nothing of the content should ever be there)
        assert.deepEqual(await redisMentions(prefix, canary), []);
        // and the server's logs, at trace level
        assert.ok(logs.text().length > 0, 'logs were captured');
        assert.ok(!logs.text().includes(canary), 'the logs hold the canary');
      });
    }
  });
}
