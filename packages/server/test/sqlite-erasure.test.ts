import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { Client, startServer, type TestServer } from './helpers/harness.js';

import { pagesHolding } from './helpers/sqlite-pages.js';

const CANARY = 'zqxcanaryword';

describe('SQLite erasure settings', () => {
  let server: TestServer;
  let api: Client;
  let file: string;

  before(async () => {
    server = await startServer('sqlite');
    api = new Client(server.url, server.instanceKey);
    file = path.join(server.dataDir, 'parley.db');
  });
  after(async () => server.close());

  test('secure_delete and FTS5 secure-delete are on', () => {
    const raw = (server.parley.store as SqliteStore).raw;
    assert.equal(raw.pragma('secure_delete', { simple: true }), 1);
    for (const t of ['message_idx', 'title_idx']) {
      const row = raw.prepare(`SELECT v FROM ${t}_config WHERE k = 'secure-delete'`).get() as { v: number } | undefined;
      assert.equal(row?.v, 1, `${t} secure-delete`);
    }
  });

  test('a delete leaves the content in no row, no free page and no WAL frame after the checkpoint', async () => {
    const store = server.parley.store as SqliteStore;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await api.post('/v1/conversations', {
        title: `title ${CANARY}`,
        metadata: { m: CANARY },
        context: { note: CANARY },
        messages: [{ role: 'user', content: `hello ${CANARY} ${'padding '.repeat(100)}` }],
      });
      assert.equal(c.status, 201, c.text);
      const t = await api.post(`/v1/conversations/${c.body.data.id}/tool-invocations`, {
        tool_name: 'lookup',
        input: { q: CANARY },
        output: { a: CANARY },
      });
      assert.equal(t.status, 201, t.text);
      ids.push(c.body.data.id);
    }
    store.checkpoint();
    assert.ok(pagesHolding(file, CANARY).length >= 20, 'the canary is on disk before the delete');
    for (const id of ids) assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 204);
    assert.equal(store.checkpoint().busy, false);
    assert.equal(existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0, 0, 'the WAL is truncated');
    // what may remain is the full-text term dictionary's bare term (README, Durability)
    const left = pagesHolding(file, CANARY).filter((p) => !/^(message|title)_idx_(data|idx)$/.test(p.owner));
    assert.deepEqual(left, [], 'no row, index or free page outside the term dictionary holds the canary');
  });
});
