import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

const ERR_ID = /^err_\d{14}x[0-9a-f]{8}$/;
const BOT = { 'x-bot-id': 'bot_1' };

for (const engine of testEngines()) {
  describe(`compat Botpress [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    const convs = '/v1/chat/conversations';

    const goc = async (tags: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const r = await api.post(
        `${convs}/get-or-create`,
        { channel: 'web', integrationName: 'webchat', tags, ...extra },
        BOT,
      );
      assert.equal(r.status, 200, r.text);
      return r.body.conversation as { id: string; tags: Record<string, string> };
    };

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      api = (await ws.key(['read:ai', 'write:ai'])).client;
    });
    after(async () => server.close());

    test('seed 003: DELETE /v1/chat/conversations/{id} with x-bot-id answers 200 {} and deletes its messages', async () => {
      const c = await goc({ thread: 'seed003' });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'hello' });
      const r = await api.delete(`${convs}/${c.id}`, BOT);
      assert.equal(r.status, 200);
      assert.equal(r.text, '{}');
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
      assert.equal((await api.get(`/v1/chat/messages?conversationId=${c.id}`, BOT)).status, 404);
    });

    test('seed 003: x-integration-id and x-integration-alias are accepted', async () => {
      const c = await goc({ thread: 'integration' });
      const r = await api.delete(`${convs}/${c.id}`, {
        ...BOT,
        'x-integration-id': 'int_1',
        'x-integration-alias': 'web',
      });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {});
    });

    test('quirk 14: Botpress DELETE answers 200 {} — no conversation fields despite "returns the Conversation"', async () => {
      const c = await goc({ thread: 'q14' });
      const r = await api.delete(`${convs}/${c.id}`, BOT);
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body), []);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    });

    test('quirk 15: Botpress requires x-bot-id; errors are {id:"err_…", code, type, message, metadata}', async () => {
      const c = await goc({ thread: 'q15' });
      const r = await api.delete(`${convs}/${c.id}`);
      assert.equal(r.status, 400);
      assert.deepEqual(Object.keys(r.body).sort(), ['code', 'id', 'message', 'metadata', 'type']);
      assert.match(r.body.id, ERR_ID);
      assert.equal(r.body.code, 400);
      assert.equal(r.body.type, 'InvalidPayload');
      assert.match(r.body.message, /x-bot-id/);
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 200, 'not deleted');
      const missing = await api.get(`${convs}/conv_01J00000000000000000000000`, BOT);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.type, 'ResourceNotFound');
      assert.match(missing.body.id, ERR_ID);
      const stamp = new Date(server.clock.now()).toISOString().slice(0, 10).replace(/-/g, '');
      assert.ok(missing.body.id.startsWith(`err_${stamp}`), 'the id carries the UTC date and time');
    });

    test('get-or-create: same channel/integration/tags returns the same conversation; discriminateByTags narrows', async () => {
      const a = await goc({ user: 'u1', topic: 'billing' });
      const again = await goc({ user: 'u1', topic: 'billing' });
      assert.equal(again.id, a.id);
      const other = await goc({ user: 'u2', topic: 'billing' });
      assert.notEqual(other.id, a.id);
      const byUser = await goc({ user: 'u1', topic: 'shipping' }, { discriminateByTags: ['user'] });
      assert.equal(byUser.id, a.id, 'only the user tag discriminates');
      const got = await api.get(`${convs}/${a.id}`, BOT);
      assert.equal(got.status, 200);
      assert.deepEqual(Object.keys(got.body), ['conversation']);
      const conv = got.body.conversation;
      assert.equal(conv.channel, 'web');
      assert.equal(conv.integration, 'webchat');
      assert.deepEqual(conv.tags, { user: 'u1', topic: 'billing' });
      assert.equal(conv.messageCount, 0);
      assert.equal((await api.get(`/v1/conversations/${a.id}`)).body.data.bot_id, 'bot_1', 'x-bot-id is stamped');
    });

    test('update: tags merge (empty string removes one) and currentTaskId; stored in metadata', async () => {
      const c = await goc({ keep: 'yes', drop: 'me' });
      const r = await api.request('PUT', `${convs}/${c.id}`, {
        body: { currentTaskId: 'task_9', tags: { drop: '', added: 'new' } },
        headers: BOT,
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.conversation.tags, { keep: 'yes', added: 'new' });
      assert.equal(r.body.conversation.currentTaskId, 'task_9');
      const native = (await api.get(`/v1/conversations/${c.id}`)).body.data;
      assert.deepEqual(native.metadata.tags, { keep: 'yes', added: 'new' });
      const bad = await api.request('PUT', `${convs}/${c.id}`, { body: { tags: { n: 1 } }, headers: BOT });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.type, 'InvalidPayload');
    });

    test('list: most recent first, nextToken walks every page, sortField/sortDirection, tag filter', async () => {
      const fresh = await newWorkspace(server, 'list');
      const k = (await fresh.key(['read:ai', 'write:ai'])).client;
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await k.post(
          `${convs}/get-or-create`,
          { channel: 'web', integrationName: 'webchat', tags: { n: String(i) } },
          BOT,
        );
        ids.push(r.body.conversation.id);
        server.clock.advance(1000);
      }
      const first = await k.get(convs, BOT);
      assert.equal(first.status, 200);
      assert.equal(first.body.conversations.length, 20);
      assert.equal(first.body.conversations[0].id, ids[24]);
      assert.ok(first.body.meta.nextToken);
      const second = await k.get(`${convs}?nextToken=${encodeURIComponent(first.body.meta.nextToken)}`, BOT);
      assert.equal(second.body.conversations.length, 5);
      assert.deepEqual(second.body.meta, {});
      const asc = await k.get(`${convs}?sortField=createdAt&sortDirection=asc`, BOT);
      assert.equal(asc.body.conversations[0].id, ids[0]);
      const tagged = await k.get(`${convs}?tags[n]=24`, BOT);
      assert.deepEqual(
        tagged.body.conversations.map((c: { id: string }) => c.id),
        [ids[24]],
      );
      assert.equal((await k.get(`${convs}?sortField=title`, BOT)).status, 400);
    });

    test('messages: listMessages by conversationId, most recent first, direction from the role', async () => {
      const c = await goc({ thread: 'messages' });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'hi' });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'assistant', content: 'hello!' });
      const r = await api.get(`/v1/chat/messages?conversationId=${c.id}`, BOT);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.messages.map((m: { direction: string; payload: { text: string } }) => [m.direction, m.payload.text]),
        [
          ['outgoing', 'hello!'],
          ['incoming', 'hi'],
        ],
      );
      const m = r.body.messages[0];
      assert.deepEqual(Object.keys(m).sort(), [
        'conversationId',
        'createdAt',
        'direction',
        'id',
        'payload',
        'tags',
        'type',
        'updatedAt',
        'userId',
      ]);
      assert.equal(m.type, 'text');
      assert.equal(m.conversationId, c.id);
    });

    test('createMessage answers 201 {message}; schedule is accepted; a conversation made on another surface has no bot here', async () => {
      const c = await goc({ thread: 'create-201' });
      const r = await api.post(
        '/v1/chat/messages',
        {
          conversationId: c.id,
          userId: 'u9',
          type: 'text',
          payload: { text: 'hello there' },
          tags: { a: '1' },
          schedule: { delay: 0 },
        },
        BOT,
      );
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(Object.keys(r.body), ['message']);
      assert.equal(r.body.message.conversationId, c.id);
      const got = await api.get(`/v1/chat/messages/${r.body.message.id}`, BOT);
      assert.deepEqual(got.body, r.body);
      const bad = await api.post(
        '/v1/chat/messages',
        { conversationId: c.id, userId: 'u', type: 'text', tags: {} },
        BOT,
      );
      assert.equal(bad.status, 400);
      assert.equal(bad.body.type, 'InvalidPayload');
      const native = (await api.post('/v1/conversations', { title: 'no bot' })).body.data;
      assert.equal((await api.get(`${convs}/${native.id}`, BOT)).status, 404, 'bot_id null is no bot');
      const stamped = (await api.post('/v1/conversations', { title: 'bot_1', bot_id: 'bot_1' })).body.data;
      assert.equal((await api.get(`${convs}/${stamped.id}`, BOT)).status, 200, 'bot_id set natively is seen');
    });

    test('write:ai alone is enough for the writes that name a conversation (createMessage, update, delete)', async () => {
      const c = await goc({ thread: 'write-only' });
      const writer = (await ws.key(['write:ai'])).client;
      const made = await writer.post(
        '/v1/chat/messages',
        { conversationId: c.id, userId: 'u', type: 'text', payload: { text: 'w' }, tags: {} },
        BOT,
      );
      assert.equal(made.status, 201, made.text);
      const put = await writer.request('PUT', `${convs}/${c.id}`, { body: { currentTaskId: 'w' }, headers: BOT });
      assert.equal(put.status, 200, put.text);
      const gone = await writer.request('DELETE', `/v1/chat/messages/${made.body.message.id}`, { headers: BOT });
      assert.equal(gone.status, 200, gone.text);
      assert.equal((await writer.delete(`${convs}/${c.id}`, BOT)).status, 200);
    });

    test('a key bound to a user reaches no other user’s messages here: 404 exactly like a missing one', async () => {
      const bob = await api.post('/v1/conversations', {
        bot_id: 'bot_1',
        user_id: 'bob',
        messages: [{ role: 'user', content: 'bob only' }],
      });
      assert.equal(bob.status, 201, bob.text);
      const msg = bob.body.data.messages[0].id as string;
      const alice = (await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' })).client;
      const missing = 'msg_01J00000000000000000000000';
      for (const [method, body] of [
        ['GET', undefined],
        ['PUT', { tags: { x: 'y' } }],
        ['DELETE', undefined],
      ] as const) {
        const theirs = await alice.request(method, `/v1/chat/messages/${msg}`, { body, headers: BOT });
        const none = await alice.request(method, `/v1/chat/messages/${missing}`, { body, headers: BOT });
        assert.equal(theirs.status, 404, `${method}: ${theirs.text}`);
        assert.deepEqual({ ...theirs.body, id: null }, { ...none.body, id: null });
      }
      const post = await alice.post(
        '/v1/chat/messages',
        { conversationId: bob.body.data.id, userId: 'u', type: 'text', payload: { text: 'x' }, tags: {} },
        BOT,
      );
      assert.equal(post.status, 404);
      assert.equal(
        (await api.get(`/v1/chat/messages/${msg}`, BOT)).status,
        200,
        'untouched, and the workspace key sees it',
      );
    });

    test('contract: no key, bad key → 401 Unauthorized; missing scope → 403; foreign id → 404; over the limit → 429', async () => {
      const c = await goc({ thread: 'contract' });
      const msg = (
        await api.post(
          '/v1/chat/messages',
          { conversationId: c.id, userId: 'u', type: 'text', payload: { text: 'contract' }, tags: {} },
          BOT,
        )
      ).body.message.id as string;
      const routes = [
        ['GET', convs, undefined],
        ['GET', `${convs}/${c.id}`, undefined],
        ['PUT', `${convs}/${c.id}`, { currentTaskId: 't' }],
        ['POST', `${convs}/get-or-create`, { channel: 'web', integrationName: 'webchat', tags: {} }],
        ['DELETE', `${convs}/${c.id}`, undefined],
        ['POST', '/v1/chat/messages', { conversationId: c.id, userId: 'u', type: 'text', payload: {}, tags: {} }],
        ['DELETE', `/v1/chat/messages/${msg}`, undefined],
        ['GET', `/v1/chat/messages?conversationId=${c.id}`, undefined],
        ['GET', `/v1/chat/messages/${msg}`, undefined],
      ] as const;
      for (const [method, path, body] of routes) {
        for (const client of [new Client(server.url), new Client(server.url, `prl_${'x'.repeat(43)}`)]) {
          const r = await client.request(method, path, { body, headers: BOT });
          assert.equal(r.status, 401, `${method} ${path}`);
          assert.equal(r.body.type, 'Unauthorized');
          assert.equal(r.body.code, 401);
          assert.match(r.body.id, ERR_ID);
        }
      }
      const readOnly = (await ws.key(['read:ai'])).client;
      for (const [method, path, body] of [routes[2], routes[3], routes[4], routes[5], routes[6]]) {
        const r = await readOnly.request(method, path, { body, headers: BOT });
        assert.equal(r.status, 403);
        assert.equal(r.body.type, 'Forbidden');
      }
      const other = await newWorkspace(server, 'other');
      const theirs = (await (await other.key(['read:ai', 'write:ai'])).client.post('/v1/conversations', {})).body.data;
      const theirMsg = (
        await (
          await other.key(['read:ai', 'write:ai'])
        ).client.post(`/v1/conversations/${theirs.id}/messages`, {
          role: 'user',
          content: 'theirs',
        })
      ).body.data.id as string;
      for (const method of ['GET', 'DELETE'] as const) {
        const a = await api.request(method, `${convs}/${theirs.id}`, { headers: BOT });
        const b = await api.request(method, `${convs}/conv_01J00000000000000000000000`, { headers: BOT });
        assert.equal(a.status, 404);
        assert.deepEqual({ ...a.body, id: null }, { ...b.body, id: null });
        const am = await api.request(method, `/v1/chat/messages/${theirMsg}`, { headers: BOT });
        const bm = await api.request(method, '/v1/chat/messages/msg_01J00000000000000000000000', { headers: BOT });
        assert.equal(am.status, 404);
        assert.deepEqual({ ...am.body, id: null }, { ...bm.body, id: null });
      }
      const post = await api.post(
        '/v1/chat/messages',
        { conversationId: theirs.id, userId: 'u', type: 'text', payload: { text: 'x' }, tags: {} },
        BOT,
      );
      assert.equal(post.status, 404);
      assert.equal(post.body.type, 'ResourceNotFound');
      assert.equal((await other.admin.get(`/v1/conversations/${theirs.id}`)).status, 200);
      const limited = (await ws.key(['read:ai'], { rate_limit: 1 })).client;
      assert.equal((await limited.get(convs, BOT)).status, 200);
      const r = await limited.get(convs, BOT);
      assert.equal(r.status, 429);
      assert.equal(r.body.type, 'RateLimited');
      assert.ok(r.headers.get('retry-after'));
    });

    test('an unknown path under /v1/chat answers in the Botpress error shape', async () => {
      const r = await api.get('/v1/chat/nothing', BOT);
      assert.equal(r.status, 404);
      assert.match(r.body.id, ERR_ID);
      assert.equal(r.body.code, 404);
    });
  });
}
