import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ulidToUuid } from '../src/ids.js';
import { Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

const BOT = { 'x-bot-id': 'bot_x' };
const uuid = (id: string) => ulidToUuid(id.slice('conv_'.length));

for (const engine of testEngines()) {
  describe(`compat cross-surface [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let secret: string;
    const xkey = () => ({ 'x-api-key': secret });

    /** Whether each surface (and native search) sees the conversation. */
    const seenBy = async (id: string, word: string) => ({
      native: (await api.get(`/v1/conversations/${id}`)).status,
      search: ((await api.get(`/v1/conversations?search=${word}`)).body.data as { id: string }[]).some(
        (c) => c.id === id,
      ),
      leadlex: (await api.get(`/v1/lexi/conversations/${id}`)).status,
      leadlexList: (
        (await api.get(`/v1/lexi/conversations?search=${word}`)).body.data.conversations as { id: string }[]
      ).some((c) => c.id === id),
      lexicon: (await new Client(server.url).get(`/api/v1/chats/${uuid(id)}`, xkey())).status,
      fini: (await api.get(`/v2/hc-interactions/${uuid(id)}/public`)).status,
      finiList: ((await api.get('/v2/hc-interactions/public')).body.interactions as { id: string }[]).some(
        (c) => c.id === uuid(id),
      ),
      botpress: (await api.get(`/v1/chat/conversations/${id}`, BOT)).status,
    });
    const everywhere = {
      native: 200,
      search: true,
      leadlex: 200,
      leadlexList: true,
      lexicon: 200,
      fini: 200,
      finiList: true,
      botpress: 200,
    };
    const nowhere = {
      native: 404,
      search: false,
      leadlex: 404,
      leadlexList: false,
      lexicon: 404,
      fini: 404,
      finiList: false,
      botpress: 404,
    };

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      secret = k.secret;
    });
    after(async () => server.close());

    test('created through Lexicon, seen through every other surface and native; deleted through LeadLex, gone everywhere', async () => {
      const made = await new Client(server.url).post(
        '/api/v1/chats/',
        { user_id: 'u1', title: 'aardvark plans' },
        xkey(),
      );
      assert.equal(made.status, 201);
      // the UUID a surface prints is an RFC 9562 UUIDv7 (the id's ULID bits, with version and variant set)
      assert.match(made.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const native = await api.get(`/v1/conversations/${made.body.id}`);
      const id = native.body.data.id as string;
      assert.equal(uuid(id), made.body.id);
      // Botpress is partitioned by bot, and a conversation made on Lexicon has none
      assert.deepEqual(await seenBy(id, 'aardvark'), { ...everywhere, botpress: 404 });
      assert.equal((await api.delete(`/functions/v1/api-gateway/v1/lexi/conversations/${id}`)).status, 204);
      assert.deepEqual(await seenBy(id, 'aardvark'), nowhere);
    });

    test('created through Botpress, seen everywhere; deleted through Fini, gone everywhere including search', async () => {
      const made = await api.post(
        '/v1/chat/conversations/get-or-create',
        { channel: 'web', integrationName: 'webchat', tags: { t: 'bison' } },
        BOT,
      );
      assert.equal(made.status, 200);
      const id = made.body.conversation.id as string;
      await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'bison migration' });
      assert.deepEqual(await seenBy(id, 'bison'), everywhere);
      assert.equal((await api.delete(`/v2/hc-interactions/${uuid(id)}/public`)).status, 200);
      assert.deepEqual(await seenBy(id, 'bison'), nowhere);
    });

    test('created natively, seen everywhere; deleted through Botpress and through Lexicon, gone everywhere', async () => {
      for (const [word, del] of [
        ['cheetah', (id: string) => api.delete(`/v1/chat/conversations/${id}`, BOT)],
        ['dingo', (id: string) => new Client(server.url).delete(`/api/v1/chats/${uuid(id)}`, xkey())],
        ['emu', (id: string) => api.request('DELETE', '/v2/hc-interactions/public', { body: { ids: [uuid(id)] } })],
      ] as const) {
        const c = (
          await api.post('/v1/conversations', {
            bot_id: BOT['x-bot-id'],
            messages: [{ role: 'user', content: `${word} facts` }],
          })
        ).body.data;
        assert.deepEqual(await seenBy(c.id, word), everywhere, word);
        assert.equal((await del(c.id)).status, 200, word);
        assert.deepEqual(await seenBy(c.id, word), nowhere, word);
      }
    });

    test('each surface appears in /openapi.json under its own tag; native routes keep theirs', async () => {
      const doc = (await new Client(server.url).get('/openapi.json')).body;
      const tagOf = (path: string, method: string) => doc.paths[path]?.[method]?.tags?.[0];
      assert.equal(tagOf('/v1/lexi/conversations', 'get'), 'LeadLex Lexi');
      // the gateway base path answers the same routes and is documented once, under /v1/lexi
      assert.equal(tagOf('/v1/lexi/conversations/{id}', 'delete'), 'LeadLex Lexi');
      assert.equal(doc.paths['/functions/v1/api-gateway/v1/lexi/conversations/{id}'], undefined);
      assert.equal(tagOf('/api/v1/chats/', 'post'), 'Lexicon Labs');
      assert.equal(tagOf('/api/v1/chats/{chat_id}', 'delete'), 'Lexicon Labs');
      assert.equal(tagOf('/v2/hc-interactions/public', 'delete'), 'Fini');
      assert.equal(tagOf('/v2/hc-interactions/{id}/public', 'get'), 'Fini');
      assert.equal(tagOf('/v1/chat/conversations/{id}', 'delete'), 'Botpress');
      assert.equal(tagOf('/v1/chat/messages', 'get'), 'Botpress');
      assert.equal(tagOf('/v1/conversations', 'get'), 'Conversations');
    });

    test('native behaviour is unchanged: native errors keep the native shape and X-API-Key is not read there', async () => {
      const r = await new Client(server.url).get('/v1/conversations', xkey());
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'invalid_key');
      const missing = await api.delete('/v1/conversations/conv_01J00000000000000000000000');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'not_found');
      const bad = await api.get('/v1/conversations?per_page=101');
      assert.equal(bad.body.error.code, 'validation_failed');
    });
  });
}
