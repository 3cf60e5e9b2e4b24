import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { newId, ulidToUuid } from '../src/ids.js';
import { Client, newWorkspace, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';

/**
 * A key bound to a user (alice) on every compat surface: another user's conversation, or one
 * with no user, answers exactly as a missing one in that product's shape; naming another user is
 * 403; lists and find-or-create see only alice's conversations; her own conversations work.
 */
const BOT = 'bot_ub';
const uuid = (id: string) => ulidToUuid(id.slice(id.indexOf('_') + 1));

/** The body without what differs per request (request ids, Botpress error ids). */
function normalized(r: Reply): unknown {
  const b = r.body as Record<string, any> | undefined;
  if (b === undefined) return r.text;
  const copy = JSON.parse(JSON.stringify(b));
  if (copy.error && typeof copy.error === 'object') delete copy.error.request_id;
  if (typeof copy.id === 'string' && copy.id.startsWith('err_')) delete copy.id;
  return copy;
}

function assertSameAsMissing(theirs: Reply, missing: Reply, status: number, where: string): void {
  assert.equal(missing.status, status, `${where} (missing): ${missing.text}`);
  assert.equal(theirs.status, status, `${where}: ${theirs.text}`);
  assert.deepEqual(normalized(theirs), normalized(missing), `${where}: answers like a missing one`);
  assert.equal(theirs.headers.get('content-type'), missing.headers.get('content-type'), where);
}

for (const engine of testEngines()) {
  describe(`compat surfaces with a user-bound key [${engine}]`, () => {
    let server: TestServer;
    let admin: Client; // workspace admin (no user)
    let alice: Client; // bound to alice, Bearer
    let aliceSecret: string;
    const lex = (secret = aliceSecret) => {
      const c = new Client(server.url);
      const base = c.request.bind(c);
      c.request = (method, p, opts = {}) =>
        base(method, p, { ...opts, headers: { 'x-api-key': secret, ...opts.headers } });
      return c;
    };
    const bp = { 'x-bot-id': BOT };

    /** A conversation owned by `user` (undefined: by no one), with one message. */
    async function conversation(user: string | undefined, title = 'shared words') {
      const r = await admin.post('/v1/conversations', {
        title,
        bot_id: BOT,
        ...(user !== undefined ? { user_id: user } : {}),
        metadata: { channel: 'web', tags: { topic: 'billing' } },
        messages: [{ role: 'user', content: 'shared words in a message' }],
      });
      assert.equal(r.status, 201, r.text);
      return r.body.data.id as string;
    }
    /** Still there, untouched (title and message count), seen by the workspace admin. */
    async function untouched(id: string, title = 'shared words') {
      const r = await admin.get(`/v1/conversations/${id}`);
      assert.equal(r.status, 200, `${id} still exists`);
      assert.equal(r.body.data.title, title);
      assert.equal(r.body.data.message_count, 1);
      assert.equal(r.body.data.archived, false);
    }

    let bobs: string;
    let nobodys: string;
    const missing = () => newId('conversation');

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      admin = ws.admin;
      const k = await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' });
      alice = k.client;
      aliceSecret = k.secret;
      bobs = await conversation('bob');
      nobodys = await conversation(undefined);
    });
    after(async () => server.close());

    for (const prefix of ['/v1/lexi', '/functions/v1/api-gateway/v1/lexi']) {
      test(`LeadLex ${prefix}: other users' conversations are not_found, another user_id is 403, lists are hers`, async () => {
        const mine = await conversation('alice');
        for (const other of [bobs, nobodys]) {
          const gone = missing();
          assertSameAsMissing(
            await alice.get(`${prefix}/conversations/${other}`),
            await alice.get(`${prefix}/conversations/${gone}`),
            404,
            'GET',
          );
          assertSameAsMissing(
            await alice.patch(`${prefix}/conversations/${other}`, { title: 'mine now' }),
            await alice.patch(`${prefix}/conversations/${gone}`, { title: 'mine now' }),
            404,
            'PATCH',
          );
          assertSameAsMissing(
            await alice.delete(`${prefix}/conversations/${other}`),
            await alice.delete(`${prefix}/conversations/${gone}`),
            404,
            'DELETE',
          );
          await untouched(other);
        }
        const refused = await alice.get(`${prefix}/conversations?user_id=bob`);
        assert.equal(refused.status, 403, refused.text);
        assert.equal(refused.body.error.code, 'insufficient_permissions');
        assert.match(refused.body.error.message, /bound to user alice/);
        const list = await alice.get(`${prefix}/conversations?per_page=100&search=shared`);
        assert.equal(list.status, 200, list.text);
        const ids = (list.body.data.conversations as Array<{ id: string }>).map((c) => c.id);
        assert.ok(ids.includes(mine), 'her own conversation is listed');
        assert.ok(!ids.includes(bobs) && !ids.includes(nobodys), 'no one else’s');
        assert.equal((await alice.get(`${prefix}/conversations?user_id=alice`)).status, 200);
        assert.equal((await alice.get(`${prefix}/conversations/${mine}`)).status, 200);
        assert.equal((await alice.patch(`${prefix}/conversations/${mine}`, { title: 'renamed' })).status, 200);
        assert.equal((await alice.delete(`${prefix}/conversations/${mine}`)).status, 204);
      });
    }

    test('Lexicon: other users’ chats are "Chat not found", another user_id is 403 (create, list by user, socket)', async () => {
      const created = await lex().post('/api/v1/chats/', { user_id: 'alice', title: 'hers' });
      assert.equal(created.status, 201, created.text);
      const mine = created.body.id as string;
      for (const other of [bobs, nobodys]) {
        const gone = uuid(missing());
        for (const path of ['', '/messages']) {
          assertSameAsMissing(
            await lex().get(`/api/v1/chats/${uuid(other)}${path}`),
            await lex().get(`/api/v1/chats/${gone}${path}`),
            404,
            `GET chat${path}`,
          );
        }
        assertSameAsMissing(
          await lex().delete(`/api/v1/chats/${uuid(other)}`),
          await lex().delete(`/api/v1/chats/${gone}`),
          404,
          'DELETE',
        );
        await untouched(other);
      }
      for (const r of [
        await lex().post('/api/v1/chats/', { user_id: 'bob' }),
        await lex().post('/api/v1/chats', { user_id: 'bob' }),
        await lex().get('/api/v1/chats/user/bob'),
      ]) {
        assert.equal(r.status, 403, r.text);
        assert.match(r.body.detail, /bound to user alice/);
      }
      assert.equal((await admin.get('/v1/conversations?user_id=bob')).body.meta.total, 1, 'nothing made for bob');
      const list = await lex().get('/api/v1/chats/user/alice');
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        (list.body.chats as Array<{ user_id: string }>).map((c) => c.user_id),
        list.body.chats.map(() => 'alice'),
      );
      assert.equal((await lex().get(`/api/v1/chats/${mine}`)).status, 200);
      assert.equal((await lex().get(`/api/v1/chats/${mine}/messages`)).status, 200);

      // the socket: bob's chat is a missing chat (4404); naming bob is 403 (4403); her own connects
      const socket = (chat: string, user: string) =>
        new Promise<{ frames: any[]; code: number }>((resolve, reject) => {
          const qs = new URLSearchParams({ api_key: aliceSecret, user_id: user, chat_id: chat });
          const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/chat?${qs}`);
          const frames: any[] = [];
          ws.on('message', (d) => {
            const f = JSON.parse(String(d));
            frames.push(f);
            if (f.event_type === 'connection_established') ws.close();
          });
          ws.on('close', (code) => resolve({ frames, code }));
          ws.on('error', reject);
        });
      const theirs = await socket(uuid(bobs), 'alice');
      const none = await socket(uuid(missing()), 'alice');
      assert.equal(theirs.code, 4404);
      assert.equal(none.code, 4404);
      const strip = (f: any) => ({ ...f, timestamp: undefined });
      assert.deepEqual(theirs.frames.map(strip), none.frames.map(strip));
      const asBob = await socket(uuid(bobs), 'bob');
      assert.equal(asBob.code, 4403);
      assert.equal(asBob.frames[0]?.code, 'insufficient_permissions');
      const own = await socket(mine, 'alice');
      assert.equal(own.frames[0]?.event_type, 'connection_established');
      assert.equal((await lex().delete(`/api/v1/chats/${mine}`)).status, 200);
    });

    test('Fini: GET other users’ → 404 like a missing one; DELETE answers success but deletes nothing; bulk 406; list is hers', async () => {
      const mine = await conversation('alice');
      for (const other of [bobs, nobodys]) {
        assertSameAsMissing(
          await alice.get(`/v2/hc-interactions/${uuid(other)}/public`),
          await alice.get(`/v2/hc-interactions/${uuid(missing())}/public`),
          404,
          'GET',
        );
        const del = await alice.delete(`/v2/hc-interactions/${uuid(other)}/public`);
        assert.equal(del.status, 200, del.text);
        assert.deepEqual(del.body, { success: true }, 'the documented quirk stays');
        const bulk = await alice.request('DELETE', '/v2/hc-interactions/public', {
          body: { ids: [uuid(mine), uuid(other)] },
        });
        assert.equal(bulk.status, 406, bulk.text);
        await untouched(other);
      }
      assert.equal((await alice.get(`/v2/hc-interactions/${uuid(mine)}/public`)).status, 200, 'all or nothing');
      const list = await alice.get('/v2/hc-interactions/public?limit=100');
      assert.equal(list.status, 200, list.text);
      const ids = (list.body.interactions as Array<{ id: string }>).map((c) => c.id);
      assert.ok(ids.includes(uuid(mine)));
      assert.ok(!ids.includes(uuid(bobs)) && !ids.includes(uuid(nobodys)));
      // a cursor naming another user's conversation is no cursor of hers
      const cursor = await alice.get(`/v2/hc-interactions/public?cursor=${uuid(bobs)}`);
      assert.equal(cursor.status, 400, cursor.text);
      const bulk = await alice.request('DELETE', '/v2/hc-interactions/public', { body: { ids: [uuid(mine)] } });
      assert.equal(bulk.status, 200, bulk.text);
      assert.equal((await alice.get(`/v2/hc-interactions/${uuid(mine)}/public`)).status, 404);
    });

    test('Botpress: other users’ conversations are ResourceNotFound; list and get-or-create see only hers', async () => {
      const mine = await conversation('alice');
      for (const other of [bobs, nobodys]) {
        const gone = missing();
        assertSameAsMissing(
          await alice.get(`/v1/chat/conversations/${other}`, bp),
          await alice.get(`/v1/chat/conversations/${gone}`, bp),
          404,
          'GET',
        );
        assertSameAsMissing(
          await alice.request('PUT', `/v1/chat/conversations/${other}`, { body: { tags: { x: 'y' } }, headers: bp }),
          await alice.request('PUT', `/v1/chat/conversations/${gone}`, { body: { tags: { x: 'y' } }, headers: bp }),
          404,
          'PUT',
        );
        assertSameAsMissing(
          await alice.get(`/v1/chat/messages?conversationId=${other}`, bp),
          await alice.get(`/v1/chat/messages?conversationId=${gone}`, bp),
          404,
          'listMessages',
        );
        assertSameAsMissing(
          await alice.request('DELETE', `/v1/chat/conversations/${other}`, { headers: bp }),
          await alice.request('DELETE', `/v1/chat/conversations/${gone}`, { headers: bp }),
          404,
          'DELETE',
        );
        await untouched(other);
      }
      const list = await alice.get('/v1/chat/conversations?pageSize=100', bp);
      assert.equal(list.status, 200, list.text);
      const ids = (list.body.conversations as Array<{ id: string }>).map((c) => c.id);
      assert.ok(ids.includes(mine));
      assert.ok(!ids.includes(bobs) && !ids.includes(nobodys));
      // bob's conversation matches channel and tags, but get-or-create finds only hers
      await admin.post(`/v1/conversations/${mine}/messages`, { role: 'user', content: 'touch' });
      const found = await alice.post(
        '/v1/chat/conversations/get-or-create',
        { channel: 'web', tags: { topic: 'billing' } },
        bp,
      );
      assert.equal(found.status, 200, found.text);
      assert.equal(found.body.conversation.id, mine);
      assert.equal((await alice.request('DELETE', `/v1/chat/conversations/${mine}`, { headers: bp })).status, 200);
      const made = await alice.post(
        '/v1/chat/conversations/get-or-create',
        { channel: 'web', tags: { topic: 'billing' } },
        bp,
      );
      assert.equal(made.status, 200, made.text);
      assert.ok(![bobs, nobodys, mine].includes(made.body.conversation.id), 'a new one, not bob’s');
      const owner = await admin.get(`/v1/conversations/${made.body.conversation.id}`);
      assert.equal(owner.body.data.user_id, 'alice');
    });
  });
}
