import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';

for (const engine of testEngines()) {
  describe(`concurrent writes [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let raw: RawInspector;
    let workspaceId: string;

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      workspaceId = ws.id;
      api = (await ws.key(['read:ai', 'write:ai'], { rate_limit: 1_000_000 })).client;
      raw = rawInspector(engine, server);
    });
    after(async () => {
      await raw?.close();
      await server.close();
    });

    test('appends racing a delete answer 201 or 404, never 5xx, and leave nothing behind', async () => {
      const countersBefore = await raw.counters(workspaceId);
      const c = (await api.post('/v1/conversations', { messages: [{ role: 'user', content: 'start' }] })).body.data;
      const id = c.id as string;
      // four writers append (messages and tool invocations, alternately) without pause until the
      // conversation is gone; the delete goes out once some appends have landed, so appends are
      // in flight on both sides of it
      const statuses: number[] = [];
      const spans: Array<{ sent: number; answered: number; status: number }> = [];
      let tick = 0;
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; i < 500 && !stop; i++) {
          const sent = ++tick;
          const r =
            i % 2 === 0
              ? await api.post(`/v1/conversations/${id}/messages`, { role: 'assistant', content: `w${w} m${i}` })
              : await api.post(`/v1/conversations/${id}/tool-invocations`, { tool_name: 't', input: { w, i } });
          spans.push({ sent, answered: ++tick, status: r.status });
          statuses.push(r.status);
          assert.ok([201, 404].includes(r.status), `append: ${r.status} ${r.text}`);
          if (r.status === 404) return;
        }
        if (!stop) assert.fail(`writer ${w} never saw the conversation gone`);
      };
      const writers = Array.from({ length: 4 }, (_, w) => writer(w));
      let delSent = 0;
      let delAnswered = 0;
      try {
        while (statuses.filter((s) => s === 201).length < 8) await new Promise((r) => setImmediate(r));
        delSent = ++tick;
        const del = await api.delete(`/v1/conversations/${id}`);
        delAnswered = ++tick;
        assert.equal(del.status, 204, del.text);
        await Promise.all(writers);
      } finally {
        // a failed assertion must not leave writers running past the test
        stop = true;
        await Promise.allSettled(writers);
      }

      // the race happened: appends succeeded and were refused, and some were in flight while the
      // delete was (sent before it answered, answered after it was sent)
      const overlapping = spans.filter((s) => s.sent < delAnswered && s.answered > delSent).length;
      assert.ok(statuses.includes(201) && statuses.includes(404), `both outcomes: ${statuses.join(',')}`);
      assert.ok(overlapping > 0, 'appends were in flight while the delete ran');
      assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await api.get(`/v1/conversations/${id}/messages`)).status, 404);
      // nothing behind under the API either: no row of the conversation in any table, nothing
      // naming it but its audit event
      for (const table of ['conversations', 'messages', 'tool_invocations', 'conversation_events'] as const) {
        assert.equal(await raw.conversationRows(table, workspaceId, id), 0, `${table} rows left`);
      }
      assert.deepEqual(await raw.rowsMentioning(id), { audit_events: 1 }, 'rows naming the deleted conversation');
      assert.deepEqual(await raw.counters(workspaceId), countersBefore, 'counters back where they were');
    });

    test('concurrent appends keep message_count exact and the auto title set once', async () => {
      const c = (await api.post('/v1/conversations', {})).body.data;
      const replies = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: `question ${i}` }),
        ),
      );
      for (const r of replies) assert.equal(r.status, 201, r.text);
      const got = (await api.get(`/v1/conversations/${c.id}?limit=1000`)).body.data;
      assert.equal(got.message_count, 25);
      assert.equal(got.messages.length, 25);
      const first = [...got.messages].sort((a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1))[0];
      assert.equal(got.title, first.content, 'the title is the first stored user message');
    });

    test('concurrent archive toggles keep the totals exact', async () => {
      const c = (await api.post('/v1/conversations', { title: 'toggle' })).body.data;
      const before = (await api.get('/v1/conversations?archived=only')).body.meta.total;
      await Promise.all(Array.from({ length: 10 }, () => api.patch(`/v1/conversations/${c.id}`, { archived: true })));
      assert.equal((await api.get('/v1/conversations?archived=only')).body.meta.total, before + 1);
      await Promise.all(Array.from({ length: 10 }, () => api.patch(`/v1/conversations/${c.id}`, { archived: false })));
      assert.equal((await api.get('/v1/conversations?archived=only')).body.meta.total, before);
    });
  });
}
