import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client as BotpressClient,
  InvalidPayloadError,
  isApiError,
  ResourceNotFoundError,
  UnauthorizedError,
} from '@botpress/client';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

/**
 * The official @botpress/client, pointed at Parley's Botpress surface with its `apiUrl` option,
 * used as a bot developer would. Retries are off so that a refusal surfaces at once.
 */
for (const engine of testEngines()) {
  describe(`compat Botpress with the official @botpress/client [${engine}]`, () => {
    let server: TestServer;
    let api: Client; // native
    let bp: BotpressClient;
    let token: string;
    const client = (props: Partial<ConstructorParameters<typeof BotpressClient>[0]> = {}) =>
      new BotpressClient({ apiUrl: server.url, botId: 'bot_1', token, retry: { retries: 0 }, ...props });

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      token = k.secret;
      bp = client();
    });
    after(async () => server.close());

    test('the client talks to the configured apiUrl with x-bot-id and the Bearer token', () => {
      assert.equal(bp.config.apiUrl, server.url);
      assert.equal(bp.config.headers['x-bot-id'], 'bot_1');
      assert.equal(bp.config.headers.Authorization, `Bearer ${token}`);
    });

    test('getOrCreateConversation: creates once, then finds the same conversation by channel, integration and tags', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 't-1', locale: 'en' },
      });
      assert.match(c.id, /^conv_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.ok(c.id.length >= 28 && c.id.length <= 36, 'Botpress ids are 28–36 characters');
      assert.equal(c.channel, 'web');
      assert.equal(c.integration, 'webchat');
      assert.deepEqual(c.tags, { thread: 't-1', locale: 'en' });
      assert.equal(c.messageCount, 0);
      assert.ok(!Number.isNaN(Date.parse(c.createdAt)));
      const again = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 't-1', locale: 'fr' },
        discriminateByTags: ['thread'],
      });
      assert.equal(again.conversation.id, c.id, 'discriminated by thread only');
      const other = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 't-2' },
      });
      assert.notEqual(other.conversation.id, c.id);
      // integrationName is optional in the client: a bot's own call matches any integration
      const noIntegration = await bp.getOrCreateConversation({ channel: 'web', tags: { thread: 't-1' } });
      assert.equal(noIntegration.conversation.id, c.id);
      // the conversation is Parley's: the native API sees it
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 200);
    });

    test('getConversation and updateConversation: tags and properties merge, null removes, currentTaskId is kept', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'sms',
        integrationName: 'twilio',
        tags: { a: '1', b: '2' },
        properties: { plan: 'pro' },
      });
      const got = await bp.getConversation({ id: c.id });
      assert.deepEqual(got.conversation, c);
      assert.deepEqual(got.conversation.properties, { plan: 'pro' });
      const { conversation: u } = await bp.updateConversation({
        id: c.id,
        currentTaskId: 'task_7',
        tags: { b: null, c: '3' },
        properties: { plan: null, seats: '4' },
      });
      assert.deepEqual(u.tags, { a: '1', c: '3' });
      assert.deepEqual(u.properties, { seats: '4' });
      assert.equal(u.currentTaskId, 'task_7');
      assert.equal(u.channel, 'sms');
      assert.ok(Date.parse(u.updatedAt) >= Date.parse(c.updatedAt));
      assert.deepEqual((await bp.getConversation({ id: c.id })).conversation, u);
    });

    test('listConversations: most recent first, tag filter, sort options, and nextToken paging through list.conversations', async () => {
      const made: string[] = [];
      for (let i = 0; i < 25; i++) {
        server.clock.advance(1000);
        const r = await bp.getOrCreateConversation({
          channel: 'page',
          integrationName: 'webchat',
          tags: { n: String(i) },
        });
        made.push(r.conversation.id);
      }
      const first = await bp.listConversations({});
      assert.equal(first.conversations.length, 20, 'a page of 20');
      assert.equal(first.conversations[0]?.id, made.at(-1), 'most recent first');
      assert.equal(typeof first.meta.nextToken, 'string');
      const small = await bp.listConversations({ pageSize: 5 });
      assert.equal(small.conversations.length, 5);

      const asc = await bp.listConversations({ sortField: 'createdAt', sortDirection: 'asc', pageSize: 100 });
      const ascIds = asc.conversations.map((c) => c.id).filter((id) => made.includes(id));
      assert.deepEqual(ascIds, made, 'createdAt ascending');

      const tagged = await bp.listConversations({ tags: { n: '7' } });
      assert.deepEqual(
        tagged.conversations.map((c) => c.id),
        [made[7] ?? ''],
      );

      // the client's paginator follows meta.nextToken until it is absent
      const all = await bp.list.conversations({}).collect();
      const ids = all.map((c) => c.id);
      assert.equal(new Set(ids).size, ids.length, 'no conversation twice');
      for (const id of made) assert.ok(ids.includes(id), `paged through ${id}`);
    });

    test('listMessages: messages written natively, most recent first, with direction and text payload; list.messages pages', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'messages' },
      });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'hi' });
      await api.post(`/v1/conversations/${c.id}/messages`, {
        role: 'assistant',
        content: 'choose',
        metadata: { type: 'choice', payload: { text: 'choose', options: [{ label: 'A', value: 'a' }] } },
      });
      const { messages, meta } = await bp.listMessages({ conversationId: c.id });
      assert.equal(meta.nextToken, undefined);
      assert.deepEqual(
        messages.map((m) => [m.direction, m.type, m.payload.text, m.conversationId]),
        [
          ['outgoing', 'choice', 'choose', c.id],
          ['incoming', 'text', 'hi', c.id],
        ],
      );
      assert.deepEqual(messages[0]?.payload.options, [{ label: 'A', value: 'a' }]);
      for (const m of messages) {
        assert.equal(m.origin, undefined, 'origin is only ever "synthetic" in the client types');
        assert.deepEqual(m.tags, {});
      }
      assert.equal((await bp.getConversation({ id: c.id })).conversation.messageCount, 2);

      // message tags are the message's metadata.tags; the client's tags filter (sent as tags.k=v) applies
      await api.post(`/v1/conversations/${c.id}/messages`, {
        role: 'user',
        content: 'tagged',
        metadata: { tags: { k: 'v' } },
      });
      const tagged = await bp.listMessages({ conversationId: c.id, tags: { k: 'v' } });
      assert.deepEqual(
        tagged.messages.map((m) => [m.payload.text, m.tags]),
        [['tagged', { k: 'v' }]],
      );

      for (let i = 0; i < 22; i++)
        await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: `m${i}` });
      const page = await bp.listMessages({ conversationId: c.id, pageSize: 10 });
      assert.equal(page.messages.length, 10);
      const all = await bp.list.messages({ conversationId: c.id }).collect();
      assert.equal(all.length, 25);
      assert.equal(new Set(all.map((m) => m.id)).size, 25);
    });

    test('deleteConversation resolves to {}; the conversation is then a ResourceNotFoundError everywhere', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'delete-me' },
      });
      await api.post(`/v1/conversations/${c.id}/messages`, { role: 'user', content: 'bye' });
      const r = await bp.deleteConversation({ id: c.id });
      assert.deepEqual(r, {});
      const err = await bp.getConversation({ id: c.id }).catch((e: unknown) => e);
      assert.ok(err instanceof ResourceNotFoundError, String(err));
      assert.ok(isApiError(err));
      assert.equal(err.code, 404);
      assert.equal(err.type, 'ResourceNotFound');
      assert.match(err.id ?? '', /^err_\d{14}x[0-9a-f]{8}$/);
      await assert.rejects(bp.listMessages({ conversationId: c.id }), ResourceNotFoundError);
      await assert.rejects(bp.deleteConversation({ id: c.id }), ResourceNotFoundError);
      assert.equal((await api.get(`/v1/conversations/${c.id}`)).status, 404);
    });

    test('errors arrive as the client’s typed errors: bad token → UnauthorizedError, no botId → InvalidPayloadError', async () => {
      await assert.rejects(client({ token: `${token}x` }).listConversations({}), (e: unknown) => {
        assert.ok(e instanceof UnauthorizedError, String(e));
        assert.equal(e.code, 401);
        return true;
      });
      const noBot = new BotpressClient({ apiUrl: server.url, token, retry: { retries: 0 } });
      await assert.rejects(noBot.listConversations({}), (e: unknown) => {
        assert.ok(e instanceof InvalidPayloadError, String(e));
        assert.match(e.message, /x-bot-id/);
        return true;
      });
    });
  });
}
