import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';
import { placeHold, releaseHold } from './helpers/holds.js';
import { waitForJob } from './helpers/jobs.js';
import { rawInspector } from './helpers/raw-rows.js';

/** A conversation of `user` with `n` messages and a tool step, all mentioning `word`. */
async function seed(ws: TestWorkspace, user: string, word: string, n = 2, context: Record<string, string> = {}) {
  const c = await ws.admin.post(
    '/v1/conversations',
    {
      title: `about ${word}`,
      user_id: user,
      context,
      messages: Array.from({ length: n }, (_, i) => ({ role: 'user', content: `${word} message ${i}` })),
    },
    { 'idempotency-key': `seed-${Math.random()}` },
  );
  assert.equal(c.status, 201, c.text);
  const t = await ws.admin.post(`/v1/conversations/${c.body.data.id}/tool-invocations`, {
    tool_name: 'lookup',
    input: { q: word },
    output: { a: word },
  });
  assert.equal(t.status, 201, t.text);
  return c.body.data.id as string;
}

for (const engine of testEngines()) {
  describe(`erase a user [${engine}]`, () => {
    let server: TestServer;
    let a: TestWorkspace;
    let b: TestWorkspace;

    before(async () => {
      // small batches, so a few conversations take several batches
      server = await startServer(engine, { jobs: { batchSize: 2 } });
      a = await newWorkspace(server, 'a');
      b = await newWorkspace(server, 'b');
    });
    after(async () => server.close());

    test('a job erases every conversation of the user in batches, with progress and a receipt', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await seed(a, 'erin', 'erinword'));
      const kept = await seed(a, 'frank', 'frankword');
      const theirs = await seed(b, 'erin', 'erinword');
      const r = await a.admin.post('/v1/users/erin/erase', {});
      assert.equal(r.status, 202, r.text);
      const job = r.body.data;
      assert.equal(job.kind, 'user.erase');
      assert.match(job.id, /^job_/);
      assert.equal(job.progress.total, 5);
      const done = await waitForJob(a.admin, job.id);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.deepEqual(done.progress.done, 5);
      const receipt = done.result.receipt;
      assert.equal(receipt.user_id, 'erin');
      assert.deepEqual([...receipt.conversation_ids].sort(), [...ids].sort());
      assert.deepEqual(receipt.counts, {
        conversations: 5,
        messages: 10,
        tool_invocations: 5,
        search_entries: 15,
        events: receipt.counts.events,
        stored_answers: 5,
      });
      assert.ok(receipt.counts.events >= 15, `events: ${receipt.counts.events}`);
      assert.ok(Date.parse(receipt.started_at) <= Date.parse(receipt.finished_at));
      assert.ok(done.started_at && done.finished_at);
      // nothing of erin's is left in A; frank's and B's erin's are untouched
      for (const id of ids) assert.equal((await a.admin.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await a.admin.get('/v1/conversations?user_id=erin')).body.meta.total, 0);
      assert.equal((await a.admin.get(`/v1/conversations/${kept}`)).status, 200);
      assert.equal((await b.admin.get(`/v1/conversations/${theirs}`)).status, 200);
      // the receipt is in the audit log too, without content
      const audit = await a.admin.get('/v1/audit-events?action=user.erased');
      assert.equal(audit.status, 200);
      const row = audit.body.data[0];
      assert.equal(row.target_type, 'user');
      assert.equal(row.target_id, 'erin');
      assert.deepEqual(row.counts, receipt.counts);
      assert.equal(row.details.job_id, job.id);
      assert.deepEqual(row.details.conversation_ids, receipt.conversation_ids);
      assert.ok(!JSON.stringify(audit.body).includes('erinword'));
      // and the job stays retrievable, in the list too
      const list = await a.admin.get('/v1/jobs?kind=user.erase');
      assert.ok(list.body.data.some((j: { id: string }) => j.id === job.id));
      // the ids went to the job's items batch by batch, not into its cursor (which every batch
      // rewrites: the job would be quadratic in its size), and the items went once the receipt held them
      const raw = rawInspector(engine, server);
      try {
        const row = await raw.jobRow(a.id, job.id);
        for (const id of ids) assert.ok(!(row.cursor ?? '').includes(id), `cursor ${row.cursor}`);
        assert.equal(row.items, 0);
      } finally {
        await raw.close();
      }
    });

    test('another workspace cannot see the job: 404 like a missing one', async () => {
      const r = await a.admin.post('/v1/users/nobody/erase', {});
      assert.equal(r.status, 202, r.text);
      await waitForJob(a.admin, r.body.data.id);
      const foreign = await b.admin.get(`/v1/jobs/${r.body.data.id}`);
      const missing = await b.admin.get(`/v1/jobs/job_01J000000000000000000000000`);
      assert.equal(foreign.status, 404);
      assert.equal(missing.status, 404);
      assert.equal(foreign.body.error.message, missing.body.error.message);
      assert.ok(!(await b.admin.get('/v1/jobs')).body.data.some((j: { id: string }) => j.id === r.body.data.id));
    });

    test('a key without admin, or bound to a user, may not erase', async () => {
      const writer = await a.key(['read:ai', 'write:ai']);
      assert.equal((await writer.client.post('/v1/users/erin/erase', {})).status, 403);
      const bound = await a.key(['admin'], { user_id: 'gina' });
      const r = await bound.client.post('/v1/users/gina/erase', {});
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, 'insufficient_permissions');
    });

    test('a held user or held conversation: 409 legal_hold and nothing erased', async () => {
      const one = await seed(a, 'hank', 'hankword');
      const two = await seed(a, 'hank', 'hankword', 1, { matter_id: 'm-77' });
      const hold = await placeHold(a, 'matter_id', 'm-77');
      const r = await a.admin.post('/v1/users/hank/erase', {});
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.error.code, 'legal_hold');
      assert.ok(r.body.error.details.some((d: { field: string }) => d.field === `/conversations/${two}`));
      assert.equal((await a.admin.get('/v1/jobs?kind=user.erase&state=queued')).body.data.length, 0);
      await releaseHold(a, hold);
      const userHold = await placeHold(a, 'user', 'hank');
      const u = await a.admin.post('/v1/users/hank/erase', {});
      assert.equal(u.status, 409, u.text);
      assert.equal(u.body.error.code, 'legal_hold');
      for (const id of [one, two]) assert.equal((await a.admin.get(`/v1/conversations/${id}`)).status, 200);
      await releaseHold(a, userHold);
      const ok = await a.admin.post('/v1/users/hank/erase', {});
      assert.equal(ok.status, 202);
      assert.equal((await waitForJob(a.admin, ok.body.data.id)).state, 'succeeded');
    });

    test('a hold placed after the request stops the job at the held batch; nothing held is erased', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await seed(a, 'ivan', 'ivanword', 1));
      const last = ids[3] as string;
      // the runner is stopped while the hold goes in, so the job cannot finish first
      await server.parley.jobs.close();
      const r = await a.admin.post('/v1/users/ivan/erase', {});
      assert.equal(r.status, 202);
      await placeHold(a, 'conversation', last);
      server.parley.jobs.start();
      const done = await waitForJob(a.admin, r.body.data.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.error.code, 'legal_hold');
      assert.equal((await a.admin.get(`/v1/conversations/${last}`)).status, 200, 'the held one is kept');
    });

    test("the user's conversations in the trash are erased too, and a held one in the trash refuses the erase", async () => {
      const t = await newWorkspace(server, 'trash-erase');
      assert.equal((await t.admin.patch('/v1/workspace', { trash_days: 7 })).status, 200);
      const live = await seed(t, 'kate', 'kateword');
      const trashed = await seed(t, 'kate', 'kateword', 3);
      const heldTrashed = await seed(t, 'kate', 'kateword', 1, { deal_id: 'd-9' });
      for (const id of [trashed, heldTrashed])
        assert.equal((await t.admin.delete(`/v1/conversations/${id}`)).status, 204);
      const hold = await placeHold(t, 'deal_id', 'd-9');
      const refused = await t.admin.post('/v1/users/kate/erase', {});
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error.code, 'legal_hold');
      assert.deepEqual(
        refused.body.error.details.map((d: { field: string }) => d.field),
        [`/conversations/${heldTrashed}`],
        'the held conversation is named, though it is in the trash',
      );
      await releaseHold(t, hold);
      const r = await t.admin.post('/v1/users/kate/erase', {});
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.data.progress.total, 3, 'the trash counts in the total');
      const done = await waitForJob(t.admin, r.body.data.id);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      assert.deepEqual([...done.result.receipt.conversation_ids].sort(), [live, trashed, heldTrashed].sort());
      assert.equal(done.result.receipt.counts.messages, 2 + 3 + 1);
      const trash = await t.admin.get('/v1/trash');
      assert.equal(trash.status, 200, trash.text);
      assert.equal(trash.body.data.length, 0, 'nothing of kate is left in the trash');
      assert.equal((await t.admin.post(`/v1/conversations/${trashed}/restore`, {})).status, 404);
    });

    test('export_first: the job writes a JSONL export first, downloadable until deleted or expired; the receipt names it', async () => {
      const e = await newWorkspace(server, 'export-first');
      const ids = [await seed(e, 'liam', 'liamword', 2), await seed(e, 'liam', 'liamword', 3)];
      await seed(e, 'mona', 'monaword');
      const r = await e.admin.post('/v1/users/liam/erase', { export_first: true });
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.body.data.params, { user_id: 'liam', export_first: true });
      const done = await waitForJob(e.admin, r.body.data.id);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
      const receipt = done.result.receipt;
      assert.equal(receipt.counts.conversations, 2);
      assert.equal(receipt.export.download, `/v1/jobs/${r.body.data.id}/export`);
      assert.deepEqual(
        [receipt.export.conversations, receipt.export.messages, receipt.export.tool_invocations],
        [2, 5, 2],
      );
      // the conversations are gone, their export is not
      for (const id of ids) assert.equal((await e.admin.get(`/v1/conversations/${id}`)).status, 404);
      const file = await e.admin.get(receipt.export.download);
      assert.equal(file.status, 200, file.text);
      assert.match(String(file.headers.get('content-type')), /application\/x-ndjson/);
      assert.match(String(file.headers.get('content-disposition')), /erase-liam-job_/);
      assert.equal(Buffer.byteLength(file.text), receipt.export.bytes);
      assert.equal(createHash('sha256').update(file.text).digest('hex'), receipt.export.sha256);
      const lines = file.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(lines[0].type, 'export');
      assert.deepEqual(lines.at(-1), { type: 'end', conversations: 2, messages: 5, tool_invocations: 2 });
      const convs = lines.filter((l) => l.type === 'conversation');
      assert.deepEqual(convs.map((c) => c.id).sort(), [...ids].sort());
      assert.ok(
        convs.every((c) => c.user_id === 'liam'),
        "only liam's conversations",
      );
      assert.ok(lines.some((l) => l.type === 'message' && l.content === 'liamword message 2'));
      // the export is audited; the file itself is the admin's only (another workspace: 404, like missing)
      const exported = await e.admin.get('/v1/audit-events?action=conversations.exported');
      assert.ok(exported.body.data.some((a: { target_id: string }) => a.target_id === 'liam'));
      assert.equal((await a.admin.get(receipt.export.download)).status, 404);
      // deleted on request: then 404
      assert.equal((await e.admin.delete(receipt.export.download)).status, 204);
      assert.equal((await e.admin.get(receipt.export.download)).status, 404);
      assert.equal((await e.admin.delete(receipt.export.download)).status, 404);
      const deleted = await e.admin.get('/v1/audit-events?action=job.export_deleted');
      assert.equal(deleted.body.data[0]?.target_id, r.body.data.id);
      // and it expires: 404 once PARLEY_ERASE_EXPORT_HOURS have passed
      await seed(e, 'nina', 'ninaword');
      const n = await e.admin.post('/v1/users/nina/erase', { export_first: true });
      const nd = await waitForJob(e.admin, n.body.data.id);
      assert.equal(nd.state, 'succeeded', JSON.stringify(nd.error));
      assert.equal((await e.admin.get(`/v1/jobs/${n.body.data.id}/export`)).status, 200);
      server.clock.advance(25 * 3_600_000);
      assert.equal((await e.admin.get(`/v1/jobs/${n.body.data.id}/export`)).status, 404);
      // a job without export_first has no export
      const plain = await e.admin.post('/v1/users/mona/erase', {});
      assert.equal((await waitForJob(e.admin, plain.body.data.id)).state, 'succeeded');
      assert.equal((await e.admin.get(`/v1/jobs/${plain.body.data.id}/export`)).status, 404);
    });

    test('the raw rows hold nothing of the erased user', async () => {
      const word = `rawcanary${engine}`;
      const id = await seed(a, 'jill', word);
      const r = await a.admin.post('/v1/users/jill/erase', {});
      await waitForJob(a.admin, r.body.data.id);
      const raw = rawInspector(engine, server);
      try {
        for (const t of ['conversations', 'messages', 'tool_invocations', 'conversation_events'] as const) {
          assert.equal(await raw.conversationRows(t, a.id, id), 0, t);
        }
        const left = await raw.rowsMentioning(word);
        const termDictionary = (n: string) => /^(message|title)_idx_(data|idx)$/.test(n);
        assert.deepEqual(
          Object.keys(left).filter((t) => !termDictionary(t)),
          [],
          `rows still holding the content: ${JSON.stringify(left)}`,
        );
        assert.equal(await raw.storedAnswersMentioning(a.id, word), 0);
      } finally {
        await raw.close();
      }
    });
  });
}
