import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

const PREFIX = '/openai/v1';

for (const engine of testEngines()) {
  describe(`compat OpenAI Conversations with the official openai client [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let other: TestWorkspace;
    let openai: OpenAI;
    let raw: Client;

    const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: server.url + PREFIX, maxRetries: 0 });

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server, 'openai');
      other = await newWorkspace(server, 'other');
      const key = await ws.key(['read:ai', 'write:ai']);
      openai = client(key.secret);
      raw = key.client;
    });
    after(async () => server.close());

    test('create with items and metadata, retrieve, and the same conversation on the native API', async () => {
      const c = await openai.conversations.create({
        metadata: { topic: 'acme', stage: 'b' },
        items: [
          { type: 'message', role: 'developer', content: 'Be brief.' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Series B for Acme?' }] },
          { role: 'assistant', content: [{ type: 'output_text', text: 'Yes, 12 M.' }] } as never,
        ],
      });
      assert.match(c.id, /^conv_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(c.object, 'conversation');
      assert.deepEqual(c.metadata, { topic: 'acme', stage: 'b' });
      assert.ok(Math.abs(c.created_at - server.clock.now() / 1000) < 2, 'created_at is unix seconds');
      const again = await openai.conversations.retrieve(c.id);
      assert.deepEqual(again, c);

      const native = await raw.get(`/v1/conversations/${c.id}?limit=10`);
      assert.equal(native.status, 200, native.text);
      assert.equal(native.body.data.message_count, 3);
      assert.equal(native.body.data.title, 'Series B for Acme?', 'the first user message titles it');
      const roles = (native.body.data.messages as Array<{ role: string }>).map((m) => m.role).sort();
      assert.deepEqual(roles, ['assistant', 'system', 'user']);
      const search = await raw.get('/v1/conversations?search=acme');
      assert.ok(
        (search.body.data as Array<{ id: string }>).some((x) => x.id === c.id),
        'items are searchable',
      );
    });

    test('items round-trip: roles, content parts, list order, cursor pages, retrieve', async () => {
      const c = await openai.conversations.create({});
      const created = await openai.conversations.items.create(c.id, {
        items: [
          { type: 'message', role: 'user', content: 'one' },
          { type: 'message', role: 'developer', content: 'two' },
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: 'three a' },
              { type: 'input_text', text: 'three b' },
            ],
          },
        ],
      });
      assert.equal(created.object, 'list');
      assert.equal(created.data.length, 3);
      assert.equal(created.first_id, created.data[0]?.id);
      assert.equal(created.last_id, created.data[2]?.id);
      assert.equal(created.has_more, false);
      const [one, two, three] = created.data as OpenAI.Conversations.Message[];
      assert.equal(one?.role, 'user');
      assert.deepEqual(one?.content, [{ type: 'input_text', text: 'one' }]);
      assert.equal(two?.role, 'developer', 'a developer message keeps its role');
      assert.deepEqual(three?.content, [
        { type: 'input_text', text: 'three a' },
        { type: 'input_text', text: 'three b' },
      ]);
      await openai.conversations.items.create(c.id, {
        // an output message as the Responses API returns it: its id is the client's, Parley mints its own
        items: [
          {
            id: 'msg_from_responses',
            type: 'message',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'four', annotations: [] }],
          },
        ],
      });

      // default order is newest first; the client pages with after = last_id while has_more
      const desc: string[] = [];
      for await (const it of openai.conversations.items.list(c.id, { limit: 1 })) {
        desc.push((it as OpenAI.Conversations.Message).content.map((p) => ('text' in p ? p.text : '')).join('+'));
      }
      assert.deepEqual(desc, ['four', 'three a+three b', 'two', 'one']);
      const asc = await openai.conversations.items.list(c.id, { order: 'asc', limit: 3 });
      assert.deepEqual(
        asc.data.map((x) => x.id),
        [one?.id, two?.id, three?.id],
      );
      assert.equal(asc.has_more, true);
      const assistant = (await openai.conversations.items.list(c.id, { limit: 1 }))
        .data[0] as OpenAI.Conversations.Message;
      assert.equal(assistant.role, 'assistant');
      assert.deepEqual(assistant.content, [{ type: 'output_text', text: 'four', annotations: [] }]);
      assert.equal(assistant.status, 'completed');

      const got = await openai.conversations.items.retrieve(two?.id ?? '', { conversation_id: c.id });
      assert.deepEqual(got, two);
    });

    test('items.delete removes one message and answers the conversation; another conversation’s item is not found', async () => {
      const c = await openai.conversations.create({
        items: [
          { type: 'message', role: 'user', content: 'keep' },
          { type: 'message', role: 'user', content: 'drop' },
        ],
      });
      const other = await openai.conversations.create({ items: [{ type: 'message', role: 'user', content: 'x' }] });
      const [keep, drop] = (await openai.conversations.items.list(c.id, { order: 'asc' })).data;
      const otherItem = (await openai.conversations.items.list(other.id)).data[0];
      await assert.rejects(
        openai.conversations.items.delete(otherItem?.id ?? '', { conversation_id: c.id }),
        OpenAI.NotFoundError,
      );
      const after = await openai.conversations.items.delete(drop?.id ?? '', { conversation_id: c.id });
      assert.deepEqual(after, c);
      const left = (await openai.conversations.items.list(c.id)).data.map((x) => x.id);
      assert.deepEqual(left, [keep?.id]);
      const native = await raw.get(`/v1/conversations/${c.id}`);
      assert.equal(native.body.data.message_count, 1);
      await assert.rejects(
        openai.conversations.items.retrieve(drop?.id ?? '', { conversation_id: c.id }),
        OpenAI.NotFoundError,
      );
      assert.equal((await openai.conversations.items.list(other.id)).data.length, 1, 'the other item stays');
    });

    test('update replaces the metadata; null clears it; other surfaces’ keys stay', async () => {
      const c = await openai.conversations.create({ metadata: { a: '1', b: '2' } });
      const u = await openai.conversations.update(c.id, { metadata: { b: '3', c: '4' } });
      assert.deepEqual(u.metadata, { b: '3', c: '4' });
      const patched = await raw.patch(`/v1/conversations/${c.id}`, { metadata: { native: { kept: true } } });
      assert.equal(patched.status, 200, patched.text);
      const cleared = await openai.conversations.update(c.id, { metadata: null });
      assert.deepEqual(cleared.metadata, {});
      const native = await raw.get(`/v1/conversations/${c.id}`);
      assert.deepEqual(native.body.data.metadata, { native: { kept: true } });
    });

    test('delete answers conversation.deleted; then it is gone on every surface', async () => {
      const c = await openai.conversations.create({ items: [{ type: 'message', role: 'user', content: 'bye' }] });
      const d = await openai.conversations.delete(c.id);
      assert.deepEqual(d, { id: c.id, object: 'conversation.deleted', deleted: true });
      await assert.rejects(openai.conversations.retrieve(c.id), (e: unknown) => {
        assert.ok(e instanceof OpenAI.NotFoundError);
        assert.equal(e.status, 404);
        assert.equal((e.error as { code?: string }).code, 'not_found');
        return true;
      });
      assert.equal((await raw.get(`/v1/conversations/${c.id}`)).status, 404);
    });

    test('errors: OpenAI shape, client classes, param names the offending item', async () => {
      const c = await openai.conversations.create({});
      await assert.rejects(
        openai.conversations.items.create(c.id, {
          items: [{ type: 'function_call_output', call_id: 'x', output: 'y' } as never],
        }),
        (e: unknown) => {
          assert.ok(e instanceof OpenAI.BadRequestError);
          const err = e.error as { type: string; param: string; code: string; message: string };
          assert.equal(err.type, 'invalid_request_error');
          assert.equal(err.param, 'items[0].type');
          assert.equal(err.code, 'validation_failed');
          assert.match(err.message, /message items only/);
          return true;
        },
      );
      const unchanged = await raw.get(`/v1/conversations/${c.id}`);
      assert.equal(unchanged.body.data.message_count, 0, 'a refused batch stores nothing');

      await assert.rejects(client('prl_bad').conversations.create({}), (e: unknown) => {
        assert.ok(e instanceof OpenAI.AuthenticationError);
        return true;
      });
      const readOnly = await ws.key(['read:ai']);
      await assert.rejects(client(readOnly.secret).conversations.create({}), (e: unknown) => {
        assert.ok(e instanceof OpenAI.PermissionDeniedError);
        return true;
      });
      await assert.rejects(openai.conversations.create({ metadata: { k: 'x'.repeat(513) } }), OpenAI.BadRequestError);

      const r = await raw.post(`${PREFIX}/conversations/${c.id}/items`, {
        items: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }],
      });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(Object.keys(r.body), ['error']);
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(r.body.error.param, 'items[0].content[0].type');
      assert.ok(r.headers.get('x-request-id'));

      const unknownRoute = await raw.get(`${PREFIX}/responses`);
      assert.equal(unknownRoute.status, 404);
      assert.equal(unknownRoute.body.error.message, `Invalid URL (GET ${PREFIX}/responses)`);
    });

    test("another workspace's conversation and items answer exactly like missing ones", async () => {
      const theirs = await client((await other.key(['read:ai', 'write:ai'])).secret).conversations.create({
        items: [{ type: 'message', role: 'user', content: 'secret' }],
      });
      const missing = `conv_${'0'.repeat(26)}`;
      for (const [a, b] of [
        [`/conversations/${theirs.id}`, `/conversations/${missing}`],
        [`/conversations/${theirs.id}/items`, `/conversations/${missing}/items`],
      ] as const) {
        const x = await raw.get(PREFIX + a);
        const y = await raw.get(PREFIX + b);
        assert.equal(x.status, 404);
        assert.equal(y.status, 404);
        assert.deepEqual(x.body, y.body);
      }
      const del = await raw.delete(`${PREFIX}/conversations/${theirs.id}`);
      assert.equal(del.status, 404);
    });
  });
}
