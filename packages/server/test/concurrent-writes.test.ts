import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

for (const engine of testEngines()) {
  describe(`concurrent writes [${engine}]`, () => {
    let server: TestServer;
    let api: Client;

    before(async () => {
      server = await startServer(engine);
      api = (await (await newWorkspace(server)).key(['read:ai', 'write:ai'])).client;
    });
    after(async () => server.close());

    test('appends racing a delete answer 201 or 404, never 5xx, and leave nothing behind', async () => {
      const c = (await api.post('/v1/conversations', { messages: [{ role: 'user', content: 'start' }] })).body.data;
      const appends = Array.from({ length: 30 }, (_, i) =>
        api.post(`/v1/conversations/${c.id}/messages`, { role: 'assistant', content: `m${i}` }),
      );
      const tools = Array.from({ length: 10 }, () =>
        api.post(`/v1/conversations/${c.id}/tool-invocations`, { tool_name: 't', input: {} }),
      );
      const del = api.delete(`/v1/conversations/${c.id}`);
      const replies = await Promise.all([...appends, ...tools, del]);
      for (const r of replies) assert.ok([201, 204, 404].includes(r.status), `${r.status} ${r.text}`);
      assert.equal((await del).status, 204);
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
      assert.equal((await api.get(`/v1/conversations/${c.id}/messages`)).status, 404);
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
