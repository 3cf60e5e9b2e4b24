import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client as BotpressClient,
  InvalidPayloadError,
  isApiError,
  ResourceNotFoundError,
  UnauthorizedError,
} from '@botpress/client';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { LiveSocket } from './helpers/live.js';
import { rawInspector } from './helpers/raw-rows.js';

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
    let ws: TestWorkspace;
    const client = (props: Partial<ConstructorParameters<typeof BotpressClient>[0]> = {}) =>
      new BotpressClient({ apiUrl: server.url, botId: 'bot_1', token, retry: { retries: 0 }, ...props });

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
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

    test('createMessage, getMessage, listMessages: a bot writes outgoing messages, an integration incoming ones', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'write-messages' },
      });
      const integration = client({ integrationId: 'int_web' });
      const asked = await integration.createMessage({
        conversationId: c.id,
        userId: 'user_42',
        type: 'text',
        payload: { text: 'where is my parcel?' },
        tags: { channelMsgId: 'abc' },
      });
      const m = asked.message;
      assert.match(m.id, /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.deepEqual(
        { ...m, id: '', createdAt: '', updatedAt: '' },
        {
          id: '',
          createdAt: '',
          updatedAt: '',
          type: 'text',
          payload: { text: 'where is my parcel?' },
          direction: 'incoming',
          userId: 'user_42',
          conversationId: c.id,
          tags: { channelMsgId: 'abc' },
        },
      );
      const card = { title: 'Parcel', items: [{ label: 'Track', value: 'track' }] };
      const { message: reply } = await bp.createMessage({
        conversationId: c.id,
        userId: 'bot_1',
        type: 'card',
        payload: card,
        tags: {},
        origin: 'synthetic',
      });
      assert.equal(reply.direction, 'outgoing', 'a bot request (no x-integration-id) is outgoing');
      assert.equal(reply.type, 'card');
      assert.deepEqual(reply.payload, card);
      assert.equal(reply.origin, 'synthetic');

      assert.deepEqual((await bp.getMessage({ id: m.id })).message, m);
      assert.deepEqual((await bp.getMessage({ id: reply.id })).message, reply);
      const listed = await bp.listMessages({ conversationId: c.id });
      assert.deepEqual(listed.messages, [reply, m], 'most recent first, as created');
      assert.equal((await bp.getConversation({ id: c.id })).conversation.messageCount, 2);

      // Parley's own view: content is payload.text, else the payload as JSON; the payload stays in metadata
      const native = (await api.get(`/v1/conversations/${c.id}/messages?order=asc`)).body.data as Array<{
        role: string;
        content: string;
        metadata: Record<string, unknown>;
      }>;
      assert.deepEqual(
        native.map((n) => [n.role, n.content]),
        [
          ['user', 'where is my parcel?'],
          ['assistant', JSON.stringify(card)],
        ],
      );
      assert.deepEqual(native[1]?.metadata.payload, card);

      await assert.rejects(
        bp.createMessage({
          conversationId: 'conv_01J00000000000000000000000',
          userId: 'u',
          type: 'text',
          payload: { text: 'x' },
          tags: {},
        }),
        ResourceNotFoundError,
      );
      await assert.rejects(bp.getMessage({ id: 'msg_01J00000000000000000000000' }), ResourceNotFoundError);
      await assert.rejects(bp.getMessage({ id: 'not-an-id' }), ResourceNotFoundError);
    });

    test('deleteMessage resolves to {}: the row, its search entry and one of messageCount go in one write, and the log gets message.deleted', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'delete-message' },
      });
      const keep = await bp.createMessage({
        conversationId: c.id,
        userId: 'u',
        type: 'text',
        payload: { text: 'keeper' },
        tags: {},
      });
      server.clock.advance(1000);
      const gone = await bp.createMessage({
        conversationId: c.id,
        userId: 'u',
        type: 'text',
        payload: { text: 'quetzalcoatl secret' },
        tags: {},
      });
      const tool = await api.post(`/v1/conversations/${c.id}/tool-invocations`, {
        tool_name: 'lookup',
        message_id: gone.message.id,
      });
      assert.equal(tool.status, 201, tool.text);
      const raw = rawInspector(engine, server);
      try {
        assert.equal((await raw.searchEntries('quetzalcoatl')).messages, 1);
        const stream = await LiveSocket.ready(`${server.url}/v1/conversations/${c.id}/stream`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const before = await raw.conversationRows('conversation_events', ws.id, c.id);
        server.clock.advance(1000);
        assert.deepEqual(await bp.deleteMessage({ id: gone.message.id }), {});

        const frame = await stream.waitFor((f) => f.type === 'message.deleted');
        assert.deepEqual(frame.data, { id: gone.message.id, conversation_id: c.id });
        stream.ws.close();
        assert.equal(await raw.conversationRows('conversation_events', ws.id, c.id), before + 1, 'logged');
        assert.equal((await raw.searchEntries('quetzalcoatl')).messages, 0, 'the index entry is gone');
        assert.equal(await raw.conversationRows('messages', ws.id, c.id), 1);
      } finally {
        await raw.close();
      }
      await assert.rejects(bp.getMessage({ id: gone.message.id }), ResourceNotFoundError);
      await assert.rejects(bp.deleteMessage({ id: gone.message.id }), ResourceNotFoundError);
      const after = (await bp.getConversation({ id: c.id })).conversation;
      assert.equal(after.messageCount, 1);
      assert.deepEqual((await bp.listMessages({ conversationId: c.id })).messages, [keep.message]);
      const search = (await api.get('/v1/conversations?search=quetzalcoatl')).body.data as unknown[];
      assert.equal(search.length, 0);
      const native = (await api.get(`/v1/conversations/${c.id}`)).body.data;
      assert.equal(native.message_count, 1);
      assert.equal(native.last_message_at, keep.message.createdAt, 'last_message_at falls back to the newest left');
      // the tool invocation stays with the conversation, detached from the deleted message
      const t = (await api.get(`/v1/conversations/${c.id}/tool-invocations/${tool.body.data.id}`)).body.data;
      assert.equal(t.message_id, null);
      const audit = (await ws.admin.get('/v1/audit-events')).body.data as Array<{ action: string; target_id: string }>;
      assert.ok(audit.some((e) => e.action === 'message.deleted' && e.target_id === gone.message.id));
    });

    test('deleteMessage with an Idempotency-Key: a retry gets {} again, not a 404', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'delete-message-idem' },
      });
      const { message: m } = await bp.createMessage({
        conversationId: c.id,
        userId: 'u',
        type: 'text',
        payload: { text: 'once' },
        tags: {},
      });
      const headers = { 'x-bot-id': 'bot_1', 'idempotency-key': 'del-msg-1' };
      const first = await api.request('DELETE', `/v1/chat/messages/${m.id}`, { headers });
      const again = await api.request('DELETE', `/v1/chat/messages/${m.id}`, { headers });
      assert.equal(first.status, 200, first.text);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, {});
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal((await bp.getConversation({ id: c.id })).conversation.messageCount, 0);
    });

    test('updateMessage: tags merge (null removes), the payload is replaced and search follows the new text; a live stream gets message.updated', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'update-message' },
      });
      const { message: m } = await bp.createMessage({
        conversationId: c.id,
        userId: 'bot_1',
        type: 'text',
        payload: { text: 'draft wombat' },
        tags: { keep: '1', drop: '2' },
      });
      const stream = await LiveSocket.ready(`${server.url}/v1/conversations/${c.id}/stream`, {
        headers: { authorization: `Bearer ${token}` },
      });
      server.clock.advance(1000);
      const { message: u } = await bp.updateMessage({
        id: m.id,
        tags: { drop: null, added: '3' },
        payload: { text: 'final numbat' },
      });
      assert.deepEqual(u.tags, { keep: '1', added: '3' });
      assert.deepEqual(u.payload, { text: 'final numbat' });
      assert.equal(u.id, m.id);
      assert.equal(u.direction, 'outgoing');
      assert.deepEqual((await bp.getMessage({ id: m.id })).message, u);
      const frame = await stream.waitFor((f) => f.type === 'message.updated');
      assert.equal(frame.data.id, m.id);
      assert.equal(frame.data.content, 'final numbat');
      stream.ws.close();
      const found = async (word: string) =>
        ((await api.get(`/v1/conversations?search=${word}`)).body.data as Array<{ id: string }>).some(
          (x) => x.id === c.id,
        );
      assert.equal(await found('numbat'), true, 'the new text is indexed');
      assert.equal(await found('wombat'), false, 'the old text is not');
      const tagsOnly = await bp.updateMessage({ id: m.id, tags: { keep: null } });
      assert.deepEqual(tagsOnly.message.tags, { added: '3' });
      assert.deepEqual(tagsOnly.message.payload, { text: 'final numbat' });
      await assert.rejects(bp.updateMessage({ id: 'msg_01J00000000000000000000000', tags: {} }), ResourceNotFoundError);
      await assert.rejects(
        client({ botId: 'bot_B' }).updateMessage({ id: m.id, tags: { stolen: 'yes' } }),
        ResourceNotFoundError,
      );
      assert.deepEqual((await bp.getMessage({ id: m.id })).message.tags, { added: '3' });
    });

    test('getOrCreateMessage: finds the message by its discriminating tags, else creates it (meta.created)', async () => {
      const { conversation: c } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'goc-message' },
      });
      const integration = client({ integrationId: 'int_web' });
      const input = {
        conversationId: c.id,
        userId: 'user_7',
        type: 'text',
        payload: { text: 'delivered twice by the channel' },
        tags: { externalId: 'ext-1' },
      };
      const first = await integration.getOrCreateMessage(input);
      assert.equal(first.meta.created, true);
      assert.equal(first.message.direction, 'incoming');
      const again = await integration.getOrCreateMessage({ ...input, payload: { text: 'redelivery' } });
      assert.equal(again.meta.created, false);
      assert.deepEqual(again.message, first.message);
      const byTag = await integration.getOrCreateMessage({
        ...input,
        tags: { externalId: 'ext-1', attempt: '2' },
        discriminateByTags: ['externalId'],
      });
      assert.equal(byTag.message.id, first.message.id, 'only externalId discriminates');
      const other = await integration.getOrCreateMessage({ ...input, tags: { externalId: 'ext-2' } });
      assert.equal(other.meta.created, true);
      assert.notEqual(other.message.id, first.message.id);
      assert.equal((await bp.getConversation({ id: c.id })).conversation.messageCount, 2);
      await assert.rejects(
        client({ botId: 'bot_B' }).getOrCreateMessage(input),
        ResourceNotFoundError,
        'another bot’s conversation',
      );
    });

    test('x-bot-id partitions: bot B cannot list, get, update or delete bot A’s conversations or messages', async () => {
      const botB = client({ botId: 'bot_B' });
      const { conversation: a } = await bp.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'partition' },
      });
      const { message: am } = await bp.createMessage({
        conversationId: a.id,
        userId: 'u',
        type: 'text',
        payload: { text: 'mine' },
        tags: {},
      });
      const { conversation: b } = await botB.getOrCreateConversation({
        channel: 'web',
        integrationName: 'webchat',
        tags: { thread: 'partition' },
      });
      assert.notEqual(b.id, a.id, 'get-or-create never finds another bot’s conversation');
      assert.equal((await api.get(`/v1/conversations/${b.id}`)).body.data.bot_id, 'bot_B');

      const listedB = await botB.list.conversations({}).collect();
      assert.deepEqual(
        listedB.map((c) => c.id),
        [b.id],
        'bot B lists only its own',
      );
      const listedA = (await bp.list.conversations({}).collect()).map((c) => c.id);
      assert.ok(listedA.includes(a.id) && !listedA.includes(b.id));

      const missing = 'conv_01J00000000000000000000000';
      const calls: Array<[string, (id: string) => Promise<unknown>]> = [
        ['getConversation', (id) => botB.getConversation({ id })],
        ['updateConversation', (id) => botB.updateConversation({ id, tags: { stolen: 'yes' } })],
        ['listMessages', (id) => botB.listMessages({ conversationId: id })],
        [
          'createMessage',
          (id) =>
            botB.createMessage({ conversationId: id, userId: 'u', type: 'text', payload: { text: 'x' }, tags: {} }),
        ],
        [
          'getOrCreateMessage',
          (id) =>
            botB.getOrCreateMessage({ conversationId: id, userId: 'u', type: 'text', payload: {}, tags: { k: 'v' } }),
        ],
        ['deleteConversation', (id) => botB.deleteConversation({ id })],
      ];
      for (const [name, call] of calls) {
        const theirs = (await call(a.id).catch((e: unknown) => e)) as ResourceNotFoundError;
        const none = (await call(missing).catch((e: unknown) => e)) as ResourceNotFoundError;
        assert.ok(theirs instanceof ResourceNotFoundError, `${name}: ${String(theirs)}`);
        assert.ok(none instanceof ResourceNotFoundError, `${name} (missing): ${String(none)}`);
        assert.equal(theirs.message, none.message, `${name}: another bot's answers like a missing one`);
      }
      for (const [name, call] of [
        ['getMessage', (id: string) => botB.getMessage({ id })],
        ['updateMessage', (id: string) => botB.updateMessage({ id, tags: { stolen: 'yes' } })],
        ['deleteMessage', (id: string) => botB.deleteMessage({ id })],
      ] as const) {
        const theirs = (await call(am.id).catch((e: unknown) => e)) as ResourceNotFoundError;
        const none = (await call('msg_01J00000000000000000000000').catch((e: unknown) => e)) as ResourceNotFoundError;
        assert.ok(theirs instanceof ResourceNotFoundError, `${name}: ${String(theirs)}`);
        assert.equal(theirs.message, none.message, `${name}: another bot's answers like a missing one`);
      }
      // nothing of A's changed
      const still = (await bp.getConversation({ id: a.id })).conversation;
      assert.deepEqual(still.tags, { thread: 'partition' });
      assert.equal(still.messageCount, 1);
      assert.deepEqual((await bp.getMessage({ id: am.id })).message, am);
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
