import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testEngines } from './helpers/harness.js';
import { openRawDb, processDatabase } from './helpers/kill-rounds.js';
import { firstWorkspace, type ParleyProcess, spawnParley } from './helpers/processes.js';

/**
 * The crash between commit and response, made deterministic: a spawned `parley serve` carries a
 * fixture (test/fixtures/crash-before-answer.mjs) that SIGKILLs the process when the answer to a
 * request marked `x-test-crash: before-answer` is about to be written. Each kind of keyed write is
 * sent once marked: the client loses its connection; the raw rows show the write committed; the
 * server restarts on the same database and the same request, retried with its key, is answered
 * from the stored answer (`Idempotent-Replayed: true`) and lands exactly once.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/crash-before-answer.mjs', import.meta.url));

for (const engine of testEngines()) {
  describe(`a crash between commit and answer, then a keyed retry [${engine}]`, () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-lost-answer-'));
    let database: Awaited<ReturnType<typeof processDatabase>>;
    let proc: ParleyProcess;
    let key = '';
    let workspaceId = '';
    const start = () =>
      spawnParley(
        { PARLEY_DATA_DIR: dataDir, PARLEY_DATABASE_URL: database.url, PARLEY_RATE_LIMIT: '1000000' },
        { nodeArgs: ['--import', FIXTURE] },
      );

    const send = async (method: string, p: string, idem: string, body?: unknown, crash = false) =>
      fetch(proc.url + p, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          'idempotency-key': idem,
          ...(crash ? { 'x-test-crash': 'before-answer' } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });

    /** Raw rows of this workspace, read while no server runs (or beside one). */
    const rows = async (sql: string, params: unknown[] = []) => {
      const db = await openRawDb(engine, database.url);
      try {
        return await db.all<Record<string, unknown>>(sql, params);
      } finally {
        await db.close();
      }
    };

    /**
     * Sends the write marked to crash: the connection drops, the process is gone by SIGKILL. Then
     * `committed` checks the raw rows, the server restarts, and the keyed retry is returned.
     */
    const crashThenRetry = async (
      method: string,
      p: string,
      idem: string,
      body: unknown,
      committed: () => Promise<void>,
    ): Promise<Response> => {
      const exited = new Promise<NodeJS.Signals | null>((r) => proc.child.once('exit', (_code, signal) => r(signal)));
      await assert.rejects(send(method, p, idem, body, true), 'the answer never arrives: the connection drops');
      assert.equal(await exited, 'SIGKILL', 'the server died before answering');
      await committed();
      proc = await start();
      return send(method, p, idem, body);
    };

    before(
      async () => {
        database = await processDatabase(engine, dataDir);
        proc = await start();
        ({ key, workspaceId } = await firstWorkspace(proc, 'lost-answer'));
      },
      { timeout: 180_000 },
    );
    after(async () => {
      await proc?.stop();
      await database?.drop();
    });

    test('create, append, rename, delete and bulk delete: each committed, its answer lost, replayed once', {
      timeout: 300_000,
    }, async () => {
      const count = async (sql: string, params: unknown[]) => Number((await rows(sql, params))[0]?.n);

      // create
      const created = await crashThenRetry(
        'POST',
        '/v1/conversations',
        'lost-create',
        { title: 'lost answer' },
        async () =>
          assert.equal(
            await count('SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND title = ?', [
              workspaceId,
              'lost answer',
            ]),
            1,
            'the create committed before the crash',
          ),
      );
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('idempotent-replayed'), 'true');
      const id = ((await created.json()) as { data: { id: string; title: string } }).data.id;
      const listed = await fetch(`${proc.url}/v1/conversations?per_page=100`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const titles = ((await listed.json()) as { data: Array<{ title: string }> }).data.map((c) => c.title);
      assert.deepEqual(titles, ['lost answer'], 'created once');

      // append
      const appended = await crashThenRetry(
        'POST',
        `/v1/conversations/${id}/messages`,
        'lost-append',
        { role: 'user', content: 'said once' },
        async () =>
          assert.equal(
            await count('SELECT count(*) AS n FROM messages WHERE workspace_id = ? AND conversation_id = ?', [
              workspaceId,
              id,
            ]),
            1,
          ),
      );
      assert.equal(appended.status, 201);
      assert.equal(appended.headers.get('idempotent-replayed'), 'true');
      assert.equal(((await appended.json()) as { data: { content: string } }).data.content, 'said once');
      const messages = await fetch(`${proc.url}/v1/conversations/${id}/messages`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const contents = ((await messages.json()) as { data: Array<{ content: string }> }).data.map((m) => m.content);
      assert.deepEqual(contents, ['said once'], 'appended once');
      const one = (await (
        await fetch(`${proc.url}/v1/conversations/${id}`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as { data: { message_count: number } };
      assert.equal(one.data.message_count, 1, 'the counter moved once');

      // rename
      const renamed = await crashThenRetry(
        'PATCH',
        `/v1/conversations/${id}`,
        'lost-patch',
        { title: 'renamed' },
        async () =>
          assert.equal(
            (await rows('SELECT title FROM conversations WHERE workspace_id = ? AND id = ?', [workspaceId, id]))[0]
              ?.title,
            'renamed',
          ),
      );
      assert.equal(renamed.status, 200);
      assert.equal(renamed.headers.get('idempotent-replayed'), 'true');
      assert.equal(((await renamed.json()) as { data: { title: string } }).data.title, 'renamed');

      // delete
      const deleted = await crashThenRetry('DELETE', `/v1/conversations/${id}`, 'lost-delete', undefined, async () =>
        assert.equal(
          await count('SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND id = ?', [workspaceId, id]),
          0,
          'the delete committed before the crash',
        ),
      );
      assert.equal(deleted.status, 204);
      assert.equal(deleted.headers.get('idempotent-replayed'), 'true');
      const gone = await fetch(`${proc.url}/v1/conversations/${id}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(gone.status, 404);

      // bulk delete (atomic): two conversations, one missing id
      const ids: string[] = [];
      for (const title of ['bulk a', 'bulk b']) {
        const r = await send('POST', '/v1/conversations', `make-${ids.length}`, { title });
        assert.equal(r.status, 201);
        ids.push(((await r.json()) as { data: { id: string } }).data.id);
      }
      const missing = 'conv_01ARZ3NDEKTSV4RRFFQ69G5FAV';
      const bulk = await crashThenRetry(
        'POST',
        '/v1/conversations/bulk-delete',
        'lost-bulk',
        { ids: [...ids, missing] },
        async () =>
          assert.equal(
            await count(
              'SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND id IN (?, ?) AND deleted_state IS NULL',
              [workspaceId, ...ids],
            ),
            0,
            'both left view before the crash',
          ),
      );
      assert.equal(bulk.status, 200);
      assert.equal(bulk.headers.get('idempotent-replayed'), 'true');
      const answer = (await bulk.json()) as { data: Array<{ id: string; status: string }> };
      assert.deepEqual(answer.data, [
        { id: ids[0], status: 'deleted' },
        { id: ids[1], status: 'deleted' },
        { id: missing, status: 'not_found' },
      ]);
      // one audit row for the bulk delete: it ran once
      const audit = await fetch(`${proc.url}/v1/audit-events?action=conversations.bulk_deleted`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(((await audit.json()) as { data: unknown[] }).data.length, 1, 'the bulk delete ran once');
      const left = await fetch(`${proc.url}/v1/conversations`, { headers: { authorization: `Bearer ${key}` } });
      assert.deepEqual(((await left.json()) as { data: unknown[] }).data, []);
    });
  });
}
