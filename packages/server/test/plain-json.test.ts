import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DetailAnswer, ListAnswer } from '../src/http/routes/conversations.js';
import { serializerFactory } from '../src/http/serializer.js';
import { type Client, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { newSdkWorkspace } from './helpers/sdk.js';

// GET /v1/conversations/:id and the conversation list answer through plain JSON.stringify
// (http/serializer.ts plainJson) instead of the schema's serializer. That is only right while
// their presenters build exactly what the schema serializer would write: the same fields, in the
// schema's order, with the schema's types. Each answer here must be byte for byte what the
// route's own schema serializer writes for the same data.
for (const engine of testEngines()) {
  describe(`hot reads answer what their schema serializer writes [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    const ids: string[] = [];

    before(async () => {
      server = await startServer(engine);
      api = (await (await newSdkWorkspace(server)).key(['read:ai', 'write:ai'])).client;
      const bodies: unknown[] = [
        // free keys before the declared ones, nested metadata, escapes and non-ASCII text
        {
          title: 'Quotes "here" \\ and a tab\t, naïve café 日本語 🎉',
          user_id: 'u1',
          bot_id: 'b1',
          context: { zeta: 1, contact_id: 'ct_1', nested: { a: [1, 'two', null] }, matter_id: 'm_1', deal_id: 'd_1' },
          metadata: { plan: 'pro', n: 1.5, deep: { list: [true, false], empty: {} } },
          messages: [
            { role: 'user', content: 'first question about invoices', metadata: { source: 'web' } },
            { role: 'assistant', content: 'line one\nline two </script> \u2028 done' },
            { role: 'system', content: 'x'.repeat(300) },
            { role: 'tool', content: '{"json":"inside text"}' },
          ],
        },
        // nothing optional: null title, no user, empty context and metadata
        {},
        // one declared context key only, and free keys after it
        {
          title: 'invoices overdue',
          context: { deal_id: 'd_2', free: 'yes' },
          messages: [{ role: 'user', content: 'invoices?' }],
        },
      ];
      for (const body of bodies) {
        server.clock.advance(1000);
        const r = await api.post('/v1/conversations', body);
        assert.equal(r.status, 201, r.text);
        ids.push(r.body.data.id);
      }
      const tool = await api.post(`/v1/conversations/${ids[0]}/tool-invocations`, {
        tool_name: 'lookup',
        input: { q: 'invoices', limit: 3 },
        output: [{ id: 1 }, 'text', null],
        status: 'succeeded',
        started_at: '2026-01-01T00:00:00.000Z',
        finished_at: '2026-01-01T00:00:01.250Z',
      });
      assert.equal(tool.status, 201, tool.text);
      const pending = await api.post(`/v1/conversations/${ids[0]}/tool-invocations`, { tool_name: 'pending one' });
      assert.equal(pending.status, 201, pending.text);
      const archived = await api.patch(`/v1/conversations/${ids[1]}`, { archived: true });
      assert.equal(archived.status, 200, archived.text);
    });
    after(async () => server?.close());

    /** The route's own schema serializer, built the way the server builds it (serializerFactory). */
    function schemaSerializer(schema: unknown): (v: unknown) => string {
      return serializerFactory()(server.parley.app.getSchemas(), {})({ schema }) as (v: unknown) => string;
    }

    async function check(schema: unknown, path: string, expect: (body: any) => void): Promise<void> {
      const r = await api.get(path);
      assert.equal(r.status, 200, r.text);
      expect(r.body);
      assert.equal(r.text, schemaSerializer(schema)(JSON.parse(r.text)), `${path} differs from its schema serializer`);
    }

    test('GET /v1/conversations/:id, in every variant', async () => {
      const url = DetailAnswer;
      await check(url, `/v1/conversations/${ids[0]}`, (b) => assert.equal(b.data.messages.length, 4));
      await check(url, `/v1/conversations/${ids[0]}?order=desc&limit=2`, (b) =>
        assert.equal(b.data.messages.length, 2),
      );
      await check(url, `/v1/conversations/${ids[0]}?include_tool_steps=true`, (b) =>
        assert.equal(b.data.tool_invocations.length, 2),
      );
      await check(url, `/v1/conversations/${ids[1]}`, (b) => assert.equal(b.data.title, null));
      await check(url, `/v1/conversations/${ids[2]}`, (b) => assert.equal(b.data.context.free, 'yes'));
    });

    test('GET /v1/conversations: pages, filters, cursors and search matches', async () => {
      const url = ListAnswer;
      await check(url, '/v1/conversations', (b) => assert.equal(b.data.length, 2));
      await check(url, '/v1/conversations?archived=true&per_page=1&page=2', (b) => assert.equal(b.data.length, 1));
      const first = await api.get('/v1/conversations?archived=true&limit=1');
      assert.ok(first.body.meta.next_cursor);
      await check(url, `/v1/conversations?cursor=${encodeURIComponent(first.body.meta.next_cursor)}`, (b) =>
        assert.equal(b.data.length, 1),
      );
      await check(url, '/v1/conversations?user_id=u1', (b) => assert.equal(b.data[0].context.contact_id, 'ct_1'));
      await check(url, '/v1/conversations?search=invoices', (b) => {
        assert.equal(b.data.length, 2);
        assert.ok(b.data.every((c: { match?: unknown }) => c.match !== undefined));
      });
    });
  });
}
