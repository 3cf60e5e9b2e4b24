import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

for (const engine of testEngines()) {
  describe(`conversations [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      api = (await ws.key(['read:ai', 'write:ai'])).client;
    });
    after(async () => server.close());

    test('create with first messages: 201, auto title from the first user message, counts', async () => {
      const r = await api.post('/v1/conversations', {
        user_id: 'u1',
        bot_id: 'b1',
        context: { contact_id: 'c1', deal_id: 'd1', page: 'deals' },
        metadata: { source: 'sidebar' },
        messages: [
          { role: 'system', content: 'You are helpful' },
          { role: 'user', content: 'Series B research for Acme Corp' },
          { role: 'assistant', content: 'Here is what I found' },
        ],
      });
      assert.equal(r.status, 201);
      const c = r.body.data;
      assert.match(c.id, /^conv_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(c.title, 'Series B research for Acme Corp');
      assert.equal(c.title_source, 'auto');
      assert.equal(c.message_count, 3);
      assert.deepEqual(c.context, { contact_id: 'c1', deal_id: 'd1', page: 'deals' });
      assert.deepEqual(c.metadata, { source: 'sidebar' });
      assert.equal(c.archived, false);
      assert.deepEqual(
        c.messages.map((m: { role: string }) => m.role),
        ['system', 'user', 'assistant'],
        'the create echo keeps the order they were sent in',
      );
      const got = await api.get(`/v1/conversations/${c.id}`);
      assert.deepEqual(
        got.body.data.messages.map((m: { id: string }) => m.id),
        c.messages.map((m: { id: string }) => m.id),
        'and GET shows them in the same order',
      );
      assert.match(r.headers.get('x-request-id') ?? '', /^req_[0-9A-Z]{26}$/);
    });

    test('title follows the first user message appended later, until someone sets it', async () => {
      const c = (await api.post('/v1/conversations', {})).body.data;
      assert.equal(c.title, null);
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'assistant', content: 'Hi! How can I help?' });
      const long = `${'word '.repeat(40)}end`;
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: long });
      let got = (await api.get(`/v1/conversations/${c.id}`)).body.data;
      assert.ok(got.title.endsWith('…'), got.title);
      assert.ok(Array.from(got.title as string).length <= 81);
      assert.equal(got.title_source, 'auto');
      await api.patch(`/v1/conversations/${c.id}`, { title: 'Mine' });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'another question' });
      got = (await api.get(`/v1/conversations/${c.id}`)).body.data;
      assert.equal(got.title, 'Mine');
      assert.equal(got.title_source, 'user');
      assert.equal(got.message_count, 3);
      assert.equal(got.last_message_at, got.messages.at(-1).created_at);
    });

    test('get: limit and include_tool_steps; the UUID form of an id finds the same conversation', async () => {
      const c = (await api.post('/v1/conversations', { messages: [{ role: 'user', content: 'q' }] })).body.data;
      for (let i = 0; i < 4; i++)
        await api.post(`/v1/conversations/${c.id}/messages`, { role: 'assistant', content: `a${i}` });
      const t = await api.post(`/v1/conversations/${c.id}/tool-invocations`, { tool_name: 'search', input: { q: 1 } });
      assert.equal(t.status, 201);
      const r = await api.get(`/v1/conversations/${c.id}?limit=2`);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.data.messages.map((m: { content: string }) => m.content),
        ['a2', 'a3'],
        'the most recent 2, oldest first as a transcript reads',
      );
      const desc = await api.get(`/v1/conversations/${c.id}?limit=2&order=desc`);
      assert.deepEqual(
        desc.body.data.messages.map((m: { content: string }) => m.content),
        ['a3', 'a2'],
        'order=desc: newest first',
      );
      const all = await api.get(`/v1/conversations/${c.id}`);
      assert.deepEqual(
        all.body.data.messages.map((m: { content: string }) => m.content),
        ['q', 'a0', 'a1', 'a2', 'a3'],
      );
      assert.equal((await api.get(`/v1/conversations/${c.id}?order=sideways`)).status, 400);
      assert.equal(r.body.data.tool_invocations, undefined);
      const withTools = await api.get(`/v1/conversations/${c.id}?include_tool_steps=true`);
      assert.equal(withTools.body.data.tool_invocations.length, 1);
      assert.equal(withTools.body.data.tool_invocation_count, 1);
      // same 128 bits written as a UUID
      const { ulidToUuid } = await import('../src/ids.js');
      const uuid = ulidToUuid(c.id.slice(5));
      const viaUuid = await api.get(`/v1/conversations/${uuid}`);
      assert.equal(viaUuid.status, 200);
      assert.equal(viaUuid.body.data.id, c.id);
      assert.equal((await api.get('/v1/conversations/conv_01HY1')).status, 404);
    });

    test('patch: title, archive, context merge with null clearing, metadata merge; at least one field', async () => {
      const c = (
        await api.post('/v1/conversations', {
          context: { contact_id: 'c9', matter_id: 'm9' },
          metadata: { a: 1, b: 2 },
        })
      ).body.data;
      const r = await api.patch(`/v1/conversations/${c.id}`, {
        archived: true,
        context: { contact_id: null, deal_id: 'd9' },
        metadata: { a: null, c: 3 },
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.data.archived, true);
      assert.deepEqual(r.body.data.context, { deal_id: 'd9', matter_id: 'm9' });
      assert.deepEqual(r.body.data.metadata, { b: 2, c: 3 });
      const empty = await api.patch(`/v1/conversations/${c.id}`, {});
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.code, 'validation_failed');
      const long = await api.patch(`/v1/conversations/${c.id}`, { title: 'x'.repeat(201) });
      assert.equal(long.status, 400);
      assert.equal(long.body.error.code, 'validation_failed');
      const restored = await api.patch(`/v1/conversations/${c.id}`, { archived: false });
      assert.equal(restored.body.data.archived, false);
    });

    test('patch: context null clears the whole context (and its indexed ids)', async () => {
      const c = (
        await api.post('/v1/conversations', {
          context: { contact_id: 'c-clear', deal_id: 'd-clear', page: 'deals' },
        })
      ).body.data;
      const found = await api.get('/v1/conversations?contact_id=c-clear');
      assert.deepEqual(
        found.body.data.map((x: { id: string }) => x.id),
        [c.id],
      );
      const r = await api.patch(`/v1/conversations/${c.id}`, { context: null });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.data.context, {});
      assert.deepEqual((await api.get(`/v1/conversations/${c.id}`)).body.data.context, {});
      assert.equal((await api.get('/v1/conversations?contact_id=c-clear')).body.data.length, 0);
      assert.equal((await api.get('/v1/conversations?deal_id=d-clear')).body.data.length, 0);
    });

    test('patch: title null returns to the automatic title (from the first user message), or none yet', async () => {
      const c = (
        await api.post('/v1/conversations', {
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'Quarterly revenue of Acme' },
            { role: 'user', content: 'and their margins' },
          ],
        })
      ).body.data;
      assert.equal((await api.patch(`/v1/conversations/${c.id}`, { title: 'Mine' })).body.data.title_source, 'user');
      const r = await api.patch(`/v1/conversations/${c.id}`, { title: null });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.title, 'Quarterly revenue of Acme');
      assert.equal(r.body.data.title_source, 'auto');
      // without a user message there is no title yet; the next user message gives it one
      const bare = (await api.post('/v1/conversations', { title: 'Named' })).body.data;
      await api.post(`/v1/conversations/${bare.id}/messages`, { role: 'assistant', content: 'Hello there' });
      const cleared = await api.patch(`/v1/conversations/${bare.id}`, { title: null });
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal(cleared.body.data.title, null);
      assert.equal(cleared.body.data.title_source, null);
      await api.post(`/v1/conversations/${bare.id}/messages`, { role: 'user', content: 'What is new?' });
      const titled = (await api.get(`/v1/conversations/${bare.id}`)).body.data;
      assert.equal(titled.title, 'What is new?');
      assert.equal(titled.title_source, 'auto');
      // an empty title is still refused; null is the way back to the automatic one
      assert.equal((await api.patch(`/v1/conversations/${bare.id}`, { title: '' })).status, 400);
    });

    test('messages: keyset pages in both orders, no duplicates, no gaps', async () => {
      const c = (await api.post('/v1/conversations', {})).body.data;
      for (let i = 0; i < 7; i++) {
        const m = await api.post(`/v1/conversations/${c.id}/messages`, {
          role: 'user',
          content: `m${i}`,
          metadata: { i },
        });
        assert.equal(m.status, 201);
      }
      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const q: string = `?limit=3&order=${order}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const page = await api.get(`/v1/conversations/${c.id}/messages${q}`);
          assert.equal(page.status, 200);
          seen.push(...page.body.data.map((m: { content: string }) => m.content));
          cursor = page.body.meta.next_cursor;
        } while (cursor);
        const expected = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];
        assert.deepEqual(seen, order === 'asc' ? expected : expected.reverse());
      }
    });

    test('tool invocations: create, get, patch status with derived timings, list', async () => {
      const c = (await api.post('/v1/conversations', { messages: [{ role: 'assistant', content: 'calling' }] })).body
        .data;
      const msgId = c.messages[0].id;
      const t = await api.post(`/v1/conversations/${c.id}/tool-invocations`, {
        tool_name: 'crm.lookup',
        input: { contact: 'c1' },
        message_id: msgId,
        status: 'running',
      });
      assert.equal(t.status, 201);
      assert.equal(t.body.data.message_id, msgId);
      assert.ok(t.body.data.started_at);
      assert.equal(t.body.data.finished_at, null);
      const done = await api.patch(`/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`, {
        status: 'succeeded',
        output: { name: 'Ada', tags: ['vip'] },
      });
      assert.equal(done.status, 200);
      assert.equal(done.body.data.status, 'succeeded');
      assert.deepEqual(done.body.data.output, { name: 'Ada', tags: ['vip'] });
      assert.ok(done.body.data.finished_at);
      assert.ok(done.body.data.duration_ms >= 0);
      const one = await api.get(`/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`);
      assert.deepEqual(one.body.data, done.body.data);
      const list = await api.get(`/v1/conversations/${c.id}/tool-invocations`);
      assert.equal(list.body.data.length, 1);
      const badMsg = await api.post(`/v1/conversations/${c.id}/tool-invocations`, {
        tool_name: 'x',
        message_id: 'msg_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      });
      assert.equal(badMsg.status, 400);
      // a message of another conversation of the same workspace is refused too, on create and on
      // update: the service is what keeps the link inside its conversation (PostgreSQL has no
      // foreign key from tool_invocations.message_id since migration 13)
      const other = (await api.post('/v1/conversations', { messages: [{ role: 'user', content: 'elsewhere' }] })).body
        .data.id as string;
      const otherMsg = (await api.get(`/v1/conversations/${other}/messages`)).body.data[0].id as string;
      const crossCreate = await api.post(`/v1/conversations/${c.id}/tool-invocations`, {
        tool_name: 'x',
        message_id: otherMsg,
      });
      assert.equal(crossCreate.status, 400, crossCreate.text);
      const crossUpdate = await api.patch(`/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`, {
        message_id: otherMsg,
      });
      assert.equal(crossUpdate.status, 400, crossUpdate.text);
      assert.equal(
        (await api.get(`/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`)).body.data.message_id,
        msgId,
      );
      const bad = await api.patch(`/v1/conversations/${c.id}/tool-invocations/${t.body.data.id}`, {
        started_at: '2030-01-01T00:00:00Z',
        finished_at: '2029-01-01T00:00:00Z',
      });
      assert.equal(bad.status, 400);
      assert.equal(
        (await api.get(`/v1/conversations/${c.id}/tool-invocations/tool_01ARZ3NDEKTSV4RRFFQ69G5FAV`)).status,
        404,
      );
    });

    test('delete: 204 then 404, and every child row is gone', async () => {
      const c = (
        await api.post('/v1/conversations', {
          title: 'doomed',
          messages: [
            { role: 'user', content: 'zebra crossing' },
            { role: 'assistant', content: 'zebra answer' },
          ],
        })
      ).body.data;
      await api.post(`/v1/conversations/${c.id}/tool-invocations`, { tool_name: 't', output: 'zebra' });
      assert.equal((await api.get('/v1/conversations?search=zebra')).body.data.length, 1);
      const d = await api.delete(`/v1/conversations/${c.id}`);
      assert.equal(d.status, 204);
      assert.equal(d.text, '');
      assert.ok(d.headers.get('x-ratelimit-limit'));
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
      assert.equal((await api.delete(`/v1/conversations/${c.id}`)).status, 404);
      assert.equal((await api.get('/v1/conversations?search=zebra')).body.data.length, 0);
      assert.equal((await api.get(`/v1/conversations/${c.id}/messages`)).status, 404);
    });
  });
}
