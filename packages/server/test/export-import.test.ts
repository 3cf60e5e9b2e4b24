import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { newId } from '../src/ids.js';
import { EXPORT_PAGES } from '../src/services/transfer-store.js';
import type { KyselyStore } from '../src/store/kysely/store.js';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

const JSONL = { 'content-type': 'application/x-ndjson' };
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));

async function exportAll(client: Client, query = 'format=jsonl') {
  const r = await client.get(`/v1/export?${query}`);
  assert.equal(r.status, 200, r.text);
  return { reply: r, records: lines(r.text) };
}

async function importText(client: Client, text: string | Buffer) {
  const r = await client.request('POST', '/v1/import', { raw: text, headers: JSONL });
  assert.equal(r.status, 200, r.text);
  return r.body.data;
}

/** A workspace with a bit of everything: roles, metadata, context, tool invocations linked and not, archived, users. */
async function populate(ws: TestWorkspace) {
  const a = await ws.admin.post('/v1/conversations', {
    title: 'Refund for order 1042',
    user_id: 'alice',
    bot_id: 'support',
    context: { contact_id: 'c7', deal_id: 'd1', tier: 'gold' },
    metadata: { channel: 'web', nested: { n: 1 } },
    messages: [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Can I get a *refund*?\n\n## not a heading', metadata: { locale: 'fr' } },
    ],
  });
  assert.equal(a.status, 201, a.text);
  const id = a.body.data.id;
  const asked = a.body.data.messages[1].id;
  const t1 = await ws.admin.post(`/v1/conversations/${id}/tool-invocations`, {
    tool_name: 'lookup_order',
    input: { order: 1042 },
    status: 'running',
    message_id: asked,
    started_at: '2026-01-01T00:00:00.000Z',
  });
  assert.equal(t1.status, 201, t1.text);
  await ws.admin.patch(`/v1/conversations/${id}/tool-invocations/${t1.body.data.id}`, {
    status: 'succeeded',
    output: { refundable: true, note: 'has ``` fences' },
    finished_at: '2026-01-01T00:00:01.250Z',
  });
  await ws.admin.post(`/v1/conversations/${id}/messages`, { role: 'assistant', content: 'Yes.' });
  await ws.admin.post(`/v1/conversations/${id}/messages`, { role: 'tool', content: '{"ok":true}' });
  await ws.admin.post(`/v1/conversations/${id}/tool-invocations`, { tool_name: 'unlinked', status: 'failed' });
  const b = await ws.admin.post('/v1/conversations', {
    user_id: 'bob',
    messages: [{ role: 'user', content: 'Bob here, first words make the title' }],
  });
  await ws.admin.patch(`/v1/conversations/${b.body.data.id}`, { archived: true });
  const empty = await ws.admin.post('/v1/conversations', { title: 'empty' });
  return { alice: id, bob: b.body.data.id as string, empty: empty.body.data.id as string };
}

/**
 * Writes `conversations` × `per` messages into a workspace through the bulk loader (the
 * `seed-data` path: rows, counters and full-text entries as the API writes them) on the running
 * server's own store: seconds where HTTP took minutes. On SQLite the loader's steps are
 * synchronous on the server's one connection, so each is started only while that connection is
 * outside a transaction (a background job of the server may hold one across an await); a second
 * connection would wait on such a transaction with the event loop blocked, i.e. for ever.
 */
async function bulkSeed(
  live: import('../src/store/types.js').Store,
  workspaceId: string,
  shape: { conversations: number; per: number; content: (i: number) => string; title: (c: number) => string | null },
): Promise<void> {
  const { openBulkLoader } = await import('../src/seed/bulk-load.js');
  const raw = live.engine === 'sqlite' ? (live as unknown as { raw: { inTransaction: boolean } }).raw : null;
  const idle = async () => {
    for (let i = 0; raw?.inTransaction; i++) {
      if (i > 2000) throw new Error('the server stayed inside a transaction for 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await idle();
  const loader = await openBulkLoader(live, { deferIndexes: false });
  const t0 = Date.now() - shape.conversations * shape.per;
  try {
    for (let c = 0; c < shape.conversations; c++) {
      const at = t0 + c * shape.per;
      const batch = [
        {
          workspaceId,
          id: newId('conversation', at),
          userId: null,
          botId: null,
          title: shape.title(c),
          titleSource: shape.title(c) === null ? null : 'user',
          contactId: null,
          dealId: null,
          matterId: null,
          archived: false,
          createdAt: at,
          updatedAt: at + shape.per - 1,
          lastMessageAt: at + shape.per - 1,
          messages: Array.from({ length: shape.per }, (_, i) => ({
            id: newId('message', at + i),
            role: i % 2 ? 'assistant' : 'user',
            content: shape.content(i),
            createdAt: at + i,
          })),
          tools: [],
        },
      ];
      await idle();
      assert.equal(await loader.write(batch), shape.per);
    }
  } finally {
    await idle();
    await loader.finish();
  }
}

const body = (records: any[]) => records.filter((r) => r.type !== 'export' && r.type !== 'end');

for (const engine of testEngines()) {
  describe(`export and import [${engine}]`, () => {
    let server: TestServer;
    let a: TestWorkspace;
    let ids: Awaited<ReturnType<typeof populate>>;

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 } });
      a = await newWorkspace(server, 'a');
      ids = await populate(a);
    });
    after(async () => server.close());

    test('JSONL: header, then each conversation with its messages and tool invocations, then an end line with counts', async () => {
      const { reply, records } = await exportAll(a.admin);
      assert.match(reply.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      assert.match(
        reply.headers.get('content-disposition') ?? '',
        /^attachment; filename="parley-export-ws_[0-9A-Z]+-\d{8}T\d{6}Z\.jsonl"/,
      );
      assert.deepEqual(Object.keys(records[0]).sort(), ['exported_at', 'format', 'type', 'version']);
      assert.equal(records[0].format, 'parley.export');
      const end = records[records.length - 1];
      assert.deepEqual(end, { type: 'end', conversations: 3, messages: 5, tool_invocations: 2 });
      const convs = records.filter((r) => r.type === 'conversation');
      assert.deepEqual(
        convs.map((c) => c.id),
        [ids.alice, ids.bob, ids.empty],
        'oldest first, archived ones included',
      );
      // the records are the API's own objects
      const viaApi = (await a.admin.get(`/v1/conversations/${ids.alice}?include_tool_steps=true`)).body.data;
      const alice = convs[0];
      for (const k of Object.keys(alice).filter((k) => k !== 'type')) assert.deepEqual(alice[k], viaApi[k], k);
      const start = records.indexOf(alice);
      const kinds = records.slice(start, start + 7).map((r) => r.type);
      assert.deepEqual(kinds, [
        'conversation',
        'message',
        'message',
        'message',
        'message',
        'tool_invocation',
        'tool_invocation',
      ]);
      assert.deepEqual(
        records.slice(start + 1, start + 5),
        viaApi.messages.map((m: object) => ({ type: 'message', ...m })),
      );
      // archived=false leaves bob's out; the filters are the list's
      const live = await exportAll(a.admin, 'archived=false');
      assert.equal(live.records.filter((r) => r.type === 'conversation').length, 2);
      const bots = await exportAll(a.admin, 'bot_id=support');
      assert.deepEqual(
        bots.records.filter((r) => r.type === 'conversation').map((c) => c.id),
        [ids.alice],
      );
    });

    test('one conversation; JSON streams one valid document; Markdown reads as a transcript', async () => {
      const one = await a.admin.get(`/v1/conversations/${ids.alice}/export`);
      assert.equal(one.status, 200);
      assert.match(one.headers.get('content-disposition') ?? '', new RegExp(`filename="parley-${ids.alice}\\.jsonl"`));
      assert.deepEqual(
        lines(one.text)
          .filter((r) => r.type === 'conversation')
          .map((c) => c.id),
        [ids.alice],
      );

      const j = await a.admin.get('/v1/export?format=json');
      assert.equal(j.status, 200);
      assert.match(j.headers.get('content-type') ?? '', /^application\/json/);
      const doc = JSON.parse(j.text);
      assert.equal(doc.format, 'parley.export');
      assert.deepEqual(doc.counts, { conversations: 3, messages: 5, tool_invocations: 2 });
      const [alice, bob, empty] = doc.conversations;
      assert.equal(alice.messages.length, 4);
      assert.equal(alice.tool_invocations.length, 2);
      assert.equal(bob.archived, true);
      assert.deepEqual(empty.messages, []);
      assert.deepEqual(empty.tool_invocations, []);

      const md = await a.admin.get(`/v1/conversations/${ids.alice}/export?format=markdown`);
      assert.equal(md.status, 200);
      assert.match(md.headers.get('content-type') ?? '', /^text\/markdown/);
      assert.match(md.headers.get('content-disposition') ?? '', /\.md"/);
      const text = md.text;
      assert.match(text, /^# Parley export/);
      assert.match(text, /^## Refund for order 1042$/m);
      assert.match(text, /^### user · /m);
      // message text is quoted: its own "## …" line stays inside the quote
      assert.match(text, /^> ## not a heading$/m);
      assert.doesNotMatch(text, /^## not a heading$/m);
      // the tool invocation sits where it happened: after the user's message, before the assistant's answer
      const userAt = text.indexOf('### user');
      const toolAt = text.indexOf('### tool `lookup\\_order`');
      const answerAt = text.indexOf('### assistant');
      assert.ok(userAt > 0 && toolAt > userAt && answerAt > toolAt, `${userAt} < ${toolAt} < ${answerAt}`);
      // a fence longer than the ``` inside the output
      assert.match(text, /^````json$/m);
      assert.match(text, /1 conversation\(s\), 4 message\(s\), 2 tool invocation\(s\)\./);
    });

    test('export → import into a fresh workspace gives equal conversations, messages and tool invocations; a second import creates nothing', async () => {
      const { records } = await exportAll(a.admin);
      const text = records.map((r) => JSON.stringify(r)).join('\n');
      const b = await newWorkspace(server, 'b');
      const first = await importText(b.admin, text);
      assert.deepEqual(first.conversations, { created: 3, skipped: 0, failed: 0 });
      assert.deepEqual(first.messages, { created: 5, skipped: 0, failed: 0 });
      assert.deepEqual(first.tool_invocations, { created: 2, skipped: 0, failed: 0 });
      assert.equal(first.errors, 0);
      assert.equal(first.lines, records.length);
      assert.deepEqual(
        first.results.map((r: any) => [r.type, r.status, r.id]),
        [
          ['conversation', 'created', ids.alice],
          ['conversation', 'created', ids.bob],
          ['conversation', 'created', ids.empty],
        ],
      );
      // field by field: ids are kept (free in B), and so is every time and counter
      const again = await exportAll(b.admin);
      assert.deepEqual(body(again.records), body(records));
      // the search index took the imported text
      const found = await b.admin.get('/v1/conversations?search=refund');
      assert.deepEqual(
        found.body.data.map((c: any) => c.id),
        [ids.alice],
      );

      const second = await importText(b.admin, text);
      assert.deepEqual(second.conversations, { created: 0, skipped: 3, failed: 0 });
      assert.deepEqual(second.messages, { created: 0, skipped: 5, failed: 0 });
      assert.deepEqual(second.tool_invocations, { created: 0, skipped: 2, failed: 0 });
      assert.deepEqual(body((await exportAll(b.admin)).records), body(records), 'nothing changed');

      // B's copies are B's: deleting one leaves A's original, and A's export into A itself is all skipped
      assert.equal((await b.admin.delete(`/v1/conversations/${ids.alice}`)).status, 204);
      assert.equal((await a.admin.get(`/v1/conversations/${ids.alice}`)).status, 200);
      const self = await importText(a.admin, text);
      assert.equal(self.conversations.created, 0);
      assert.equal(self.messages.created, 0);

      // each run is on the audit log with counts, never content
      const audit = await b.admin.get('/v1/audit-events?action=conversations.imported');
      assert.equal(audit.body.data.length, 2);
      assert.equal(audit.body.data[1].counts.conversations_created, 3);
      assert.equal(audit.body.data[0].counts.conversations_skipped, 3);
      const exports = await a.admin.get('/v1/audit-events?action=conversations.exported');
      assert.ok(exports.body.data.length >= 1);
      const last = exports.body.data[0];
      assert.equal(last.target_type, 'workspace');
      assert.deepEqual(
        { c: last.counts.conversations, m: last.counts.messages, t: last.counts.tool_invocations },
        { c: 3, m: 5, t: 2 },
      );
      assert.equal(last.counts.complete, 1);
      assert.doesNotMatch(JSON.stringify(exports.body), /refund/i);
    });

    test('a JSON array body is read as lines too', async () => {
      const { records } = await exportAll(a.admin, `format=jsonl&user_id=alice`);
      const c = await newWorkspace(server, 'c');
      const r = await c.admin.post('/v1/import', records);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.conversations.created, 1);
      assert.equal(r.body.data.messages.created, 4);
    });

    test('per-line errors: malformed, wrong types, NUL, unknown roles, bad UTF-8, orphans; the good lines go in', async () => {
      const ws = await newWorkspace(server, 'errors');
      const conv = newId('conversation');
      const good = JSON.stringify({ type: 'conversation', id: conv, title: 'kept' });
      const msg = (extra: object) =>
        JSON.stringify({
          type: 'message',
          id: newId('message'),
          conversation_id: conv,
          role: 'user',
          content: 'x',
          ...extra,
        });
      const input = Buffer.concat([
        Buffer.from(
          [
            good,
            msg({ content: 'fine' }),
            '{"type":"message", nope',
            msg({ role: 'wizard' }),
            msg({ content: 'nul \u0000 here' }),
            msg({ content: 42 }),
            msg({ conversation_id: newId('conversation') }),
            JSON.stringify({ type: 'planet' }),
            '[1,2]',
            JSON.stringify({ type: 'message', id: 'msg_bad', conversation_id: conv, role: 'user', content: 'x' }),
            '',
          ].join('\n'),
        ),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
        Buffer.from(`${msg({ content: 'after the bad bytes' })}\n`),
        // a chat line ends the conversation before it, even when it fails
        Buffer.from(`${JSON.stringify({ messages: [{ role: 'function', content: 'old' }] })}\n`),
        Buffer.from(`${JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], extra: 1 })}\n`),
        Buffer.from(`${msg({ content: 'orphaned by the chat line' })}\n`),
      ]);
      const r = await importText(ws.admin, input);
      const byLine = new Map<number, any>(r.results.map((x: any) => [x.line, x]));
      assert.equal(byLine.get(1)?.status, 'created');
      const expect: Array<[number, string, RegExp]> = [
        [3, 'invalid_json', /not valid JSON/],
        [4, 'validation_failed', /\/role must be one of user, assistant, system, tool/],
        [5, 'validation_failed', /\/content must not contain NUL/],
        [6, 'validation_failed', /\/content must be string/],
        [7, 'validation_failed', /conversation_id must name the conversation of the latest conversation line/],
        [8, 'validation_failed', /\/type must be one of/],
        [9, 'validation_failed', /must be a JSON object/],
        [10, 'validation_failed', /\/id is not a msg_ id/],
        [11, 'invalid_json', /not valid UTF-8/],
        [13, 'validation_failed', /\/messages\/0\/role must be one of/],
        [14, 'validation_failed', /\/extra is not a known field/],
        [15, 'validation_failed', /latest conversation line/],
      ];
      for (const [line, code, message] of expect) {
        const e = byLine.get(line);
        assert.equal(e?.status, 'error', `line ${line}: ${JSON.stringify(e)}`);
        assert.equal(e.error.code, code, `line ${line}`);
        assert.match(e.error.message, message, `line ${line}`);
      }
      assert.equal(r.errors, expect.length);
      assert.deepEqual(r.messages, { created: 2, skipped: 0, failed: 6 });
      assert.deepEqual(r.conversations, { created: 1, skipped: 0, failed: 2 });
      const stored = await ws.admin.get(`/v1/conversations/${conv}`);
      assert.deepEqual(
        stored.body.data.messages.map((m: any) => m.content),
        ['fine', 'after the bad bytes'],
      );
      assert.equal(stored.body.data.message_count, 2);
      // and a body that is neither JSONL nor JSON is a 415 before anything is read
      const wrong = await ws.admin.request('POST', '/v1/import', { raw: 'x', headers: { 'content-type': 'text/csv' } });
      assert.equal(wrong.status, 415);
      assert.equal(wrong.body.error.code, 'unsupported_media_type');
    });

    test('an id that names a trashed conversation of the workspace: a per-line conflict, nothing inserted; after restore it is skipped', async () => {
      const ws = await newWorkspace(server, 'trash-import');
      assert.equal((await ws.admin.patch('/v1/workspace', { trash_days: 7 })).status, 200);
      const made = await ws.admin.post('/v1/conversations', {
        title: 'ibex trashed',
        messages: [{ role: 'user', content: 'ibex words' }],
      });
      assert.equal(made.status, 201, made.text);
      const id = made.body.data.id as string;
      const { records } = await exportAll(ws.admin);
      const chat = JSON.stringify({ messages: [{ role: 'user', content: 'ibex chat' }], external_id: 'ibex-chat' });
      const chatMade = await importText(ws.admin, chat);
      assert.equal(chatMade.results[0].status, 'created');
      const chatId = chatMade.results[0].id as string;
      assert.equal((await ws.admin.delete(`/v1/conversations/${id}`)).status, 204);
      assert.equal((await ws.admin.delete(`/v1/conversations/${chatId}`)).status, 204);
      const text = records.map((r) => JSON.stringify(r)).join('\n');
      const again = await importText(ws.admin, text);
      assert.deepEqual(again.conversations, { created: 0, skipped: 0, failed: 1 });
      assert.deepEqual(again.messages, { created: 0, skipped: 0, failed: 1 });
      const line = again.results.find((r: any) => r.type === 'conversation');
      assert.equal(line.status, 'error');
      assert.equal(line.error.code, 'conversation_in_trash');
      const chatAgain = await importText(ws.admin, chat);
      assert.equal(chatAgain.results[0].status, 'error');
      assert.equal(chatAgain.results[0].error.code, 'conversation_in_trash');
      // nothing came back into view, the trash holds the two as they were
      assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await ws.admin.get('/v1/conversations?archived=true')).body.meta.total, 0);
      // restored, the same file finds it there: skipped, not duplicated
      assert.equal((await ws.admin.post(`/v1/conversations/${id}/restore`)).status, 200);
      const restored = await importText(ws.admin, text);
      assert.deepEqual(restored.conversations, { created: 0, skipped: 1, failed: 0 });
      assert.deepEqual(restored.messages, { created: 0, skipped: 1, failed: 0 });
      assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).body.data.message_count, 1);
    });

    test('OpenAI-style chats: created once (by content or external_id), roles mapped, titles made', async () => {
      const ws = await newWorkspace(server, 'chats');
      const chats = [
        {
          messages: [
            { role: 'developer', content: 'Be brief.' },
            { role: 'user', content: [{ type: 'text', text: 'What is the capital of France?' }] },
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function' }] },
            { role: 'tool', tool_call_id: 'call_1', content: 'Paris' },
          ],
          user_id: 'u1',
        },
        { messages: [{ role: 'user', content: 'hello' }], external_id: 'thread-9', title: 'Named' },
      ];
      const text = chats.map((c) => JSON.stringify(c)).join('\n');
      const first = await importText(ws.admin, text);
      assert.deepEqual(first.conversations, { created: 2, skipped: 0, failed: 0 });
      assert.deepEqual(first.messages, { created: 5, skipped: 0, failed: 0 });
      const [one, two] = first.results;
      const c1 = (await ws.admin.get(`/v1/conversations/${one.id}`)).body.data;
      assert.equal(c1.title, 'What is the capital of France?');
      assert.equal(c1.title_source, 'auto');
      assert.equal(c1.user_id, 'u1');
      assert.deepEqual(
        c1.messages.map((m: any) => [m.role, m.content]),
        [
          ['system', 'Be brief.'],
          ['user', 'What is the capital of France?'],
          ['assistant', ''],
          ['tool', 'Paris'],
        ],
      );
      assert.equal(c1.messages[0].metadata.openai_role, 'developer');
      assert.deepEqual(c1.messages[2].metadata.tool_calls, [{ id: 'call_1', type: 'function' }]);
      assert.equal(c1.messages[3].metadata.tool_call_id, 'call_1');
      assert.equal((await ws.admin.get(`/v1/conversations/${two.id}`)).body.data.title, 'Named');

      const second = await importText(ws.admin, text);
      assert.deepEqual(second.conversations, { created: 0, skipped: 2, failed: 0 });
      assert.deepEqual(
        second.results.map((r: any) => r.id),
        [one.id, two.id],
      );
      // the same external_id with other content is the same chat; other content without one is another
      const renamed = await importText(
        ws.admin,
        JSON.stringify({ messages: [{ role: 'user', content: 'changed' }], external_id: 'thread-9' }),
      );
      assert.equal(renamed.results[0].status, 'skipped');
      const other = await importText(ws.admin, JSON.stringify({ messages: [{ role: 'user', content: 'changed' }] }));
      assert.equal(other.results[0].status, 'created');
      assert.equal((await ws.admin.get('/v1/conversations?archived=true')).body.meta.total, 3);
    });

    test('a user-bound key exports and imports only its own user’s conversations, and learns nothing of others', async () => {
      const ws = await newWorkspace(server, 'users');
      const mine = await populate(ws);
      const alice = await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' });
      const own = await exportAll(alice.client);
      assert.deepEqual(
        own.records.filter((r) => r.type === 'conversation').map((c) => c.id),
        [mine.alice],
      );
      assert.match(own.reply.headers.get('content-disposition') ?? '', /parley-export-user-alice-/);
      const other = await alice.client.get('/v1/export?user_id=bob');
      assert.equal(other.status, 403);
      assert.equal(other.body.error.code, 'insufficient_permissions');
      const bobs = await alice.client.get(`/v1/conversations/${mine.bob}/export`);
      const missing = await alice.client.get(`/v1/conversations/${newId('conversation')}/export`);
      assert.equal(bobs.status, 404);
      assert.equal(
        bobs.text.replace(bobs.body.error.request_id, ''),
        missing.text.replace(missing.body.error.request_id, ''),
      );

      // importing: another user's line is refused per line; a line whose id is bob's here takes another id
      const full = (await exportAll(ws.admin)).records;
      const r = await importText(alice.client, full.map((x) => JSON.stringify(x)).join('\n'));
      const byId = new Map<string, any>(r.results.map((x: any) => [x.id, x]));
      assert.equal(byId.get(mine.alice)?.status, 'skipped', 'its own conversation is there already');
      const refused = r.results.find((x: any) => x.status === 'error' && x.type === 'conversation');
      assert.equal(refused?.error.code, 'insufficient_permissions', JSON.stringify(r.results));
      // the conversation without a user becomes alice's, under a new id (the file's names one she cannot see)
      const placed = r.results.find((x: any) => x.status === 'created');
      assert.ok(placed && placed.id !== mine.empty, JSON.stringify(r.results));
      assert.equal((await alice.client.get(`/v1/conversations/${placed.id}`)).body.data.user_id, 'alice');
      assert.equal((await ws.admin.get(`/v1/conversations/${mine.empty}`)).body.data.user_id, null, 'untouched');
      const again = await importText(alice.client, full.map((x) => JSON.stringify(x)).join('\n'));
      assert.equal(again.conversations.created, 0, JSON.stringify(again.results));
    });

    test("another workspace's conversation: export is 404 identical to a missing one", async () => {
      const b = await newWorkspace(server, 'foreign');
      const theirs = await b.admin.get(`/v1/conversations/${ids.alice}/export`);
      const none = await b.admin.get(`/v1/conversations/${newId('conversation')}/export`);
      assert.equal(theirs.status, 404);
      assert.equal(
        theirs.text.replace(theirs.body.error.request_id, ''),
        none.text.replace(none.body.error.request_id, ''),
      );
      const all = await exportAll(b.admin);
      assert.deepEqual(all.records[all.records.length - 1], {
        type: 'end',
        conversations: 0,
        messages: 0,
        tool_invocations: 0,
      });
    });

    test('scopes: export needs read:ai, import write:ai; bad format is a 400 before anything is sent', async () => {
      const writer = await a.key(['write:ai']);
      assert.equal((await writer.client.get('/v1/export')).status, 403);
      const reader = await a.key(['read:ai']);
      const r = await reader.client.request('POST', '/v1/import', { raw: '{}', headers: JSONL });
      assert.equal(r.status, 403);
      const bad = await a.admin.get('/v1/export?format=csv');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
    });

    test('import body limit: a declared length over it is refused at once; a streamed one is cut with 413', async () => {
      const small = await startServer(engine, { http: { importBodyLimit: 2048 } });
      try {
        const ws = await newWorkspace(small, 'limit');
        const line = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(100) }] });
        const big = Array.from({ length: 40 }, (_, i) => line.replace('x', `${i}`)).join('\n');
        const r = await ws.admin.request('POST', '/v1/import', { raw: big, headers: JSONL });
        assert.equal(r.status, 413);
        assert.equal(r.body.error.code, 'payload_too_large');
        assert.equal((await ws.admin.get('/v1/conversations')).body.meta.total, 0, 'nothing read, nothing written');
        // without a length (chunked), the read stops at the limit
        const chunked = await fetch(`${small.url}/v1/import`, {
          method: 'POST',
          headers: { ...JSONL, authorization: ws.admin.key ? `Bearer ${ws.admin.key}` : '' },
          body: new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode(big));
              c.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        assert.equal(chunked.status, 413);
        const e = (await chunked.json()) as any;
        assert.equal(e.error.code, 'payload_too_large');
        assert.match(e.error.message, /importing again is safe/);
      } finally {
        await small.close();
      }
    });
  });
}

for (const engine of testEngines()) {
  describe(`export: conversations read in batches and in pages [${engine}]`, () => {
    // rows per read on this engine: the big conversation, the batch edges and the grown counter are sized by it
    const ROW_PAGE = EXPORT_PAGES[engine].rows;
    let server: TestServer;
    let w: TestWorkspace;
    const convIds: string[] = [];
    const tricky = (i: number) =>
      i % 7 === 0 ? `quote " backslash \\ tab \t nl \n ctl \u0001 é ✓ 😀 ${i}` : `message ${i} ${'x'.repeat(i % 50)}`;

    /** Every page of a list endpoint (messages, tool invocations), oldest first. */
    async function listAll(path: string): Promise<any[]> {
      const out: any[] = [];
      let cursor: string | null = null;
      do {
        const r: { status: number; text: string; body: any } = await w.admin.get(
          `${path}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        assert.equal(r.status, 200, r.text);
        out.push(...r.body.data);
        cursor = r.body.meta.next_cursor;
      } while (cursor);
      return out;
    }

    before(
      async () => {
        server = await startServer(engine, { limits: { rate: 1_000_000 } });
        w = await newWorkspace(server, 'batches');
        // one conversation of ROW_PAGE + 80 messages (more than a read's rows) with tool invocations among them
        const big = await w.admin.post('/v1/conversations', {
          title: 'big',
          messages: Array.from({ length: ROW_PAGE }, (_, i) => ({
            role: i % 2 ? 'assistant' : 'user',
            content: tricky(i),
            ...(i % 11 === 0 ? { metadata: { i, tags: ['a', 'b'], nested: { ok: true } } } : {}),
          })),
        });
        assert.equal(big.status, 201, big.text);
        convIds.push(big.body.data.id);
        const tool = async (conv: string, n: number) => {
          const t = await w.admin.post(`/v1/conversations/${conv}/tool-invocations`, {
            tool_name: `tool_${n}`,
            input: { n, text: tricky(n) },
            status: 'succeeded',
            output: { ok: n },
            started_at: '2026-01-01T00:00:00.000Z',
            finished_at: '2026-01-01T00:00:00.125Z',
          });
          assert.equal(t.status, 201, t.text);
        };
        await tool(big.body.data.id, 1);
        for (let i = 0; i < 80; i++) {
          const m = await w.admin.post(`/v1/conversations/${big.body.data.id}/messages`, {
            role: 'user',
            content: tricky(ROW_PAGE + i),
          });
          assert.equal(m.status, 201, m.text);
          if (i % 20 === 4) await tool(big.body.data.id, 2 + i);
        }
        // small ones, read together: empty, messages only, tools only, both, one of exactly ROW_PAGE rows
        for (let c = 0; c < 14; c++) {
          const n = c === 13 ? ROW_PAGE - 1 : (c * 7) % 23;
          const r = await w.admin.post('/v1/conversations', {
            title: `small ${c}`,
            ...(n > 0
              ? { messages: Array.from({ length: n }, (_, i) => ({ role: 'user', content: tricky(i + c) })) }
              : {}),
          });
          assert.equal(r.status, 201, r.text);
          convIds.push(r.body.data.id);
          if (c % 3 === 1 || c === 13) await tool(r.body.data.id, 100 + c);
        }
      },
      { timeout: 300_000 },
    );
    after(async () => server.close());

    test('JSONL: each line is byte for byte the API object with its type; all rows, in order, whatever the batch', async () => {
      const r = await w.admin.get('/v1/export');
      assert.equal(r.status, 200);
      const got = r.text.split('\n');
      assert.equal(got.pop(), '', 'ends with a newline');
      const expected: string[] = [];
      let messages = 0;
      let tools = 0;
      for (const id of convIds) {
        const conv = (await w.admin.get(`/v1/conversations/${id}`)).body.data;
        const { messages: _m, tool_invocations: _t, live_connections: _l, ...head } = conv;
        expected.push(JSON.stringify({ type: 'conversation', ...head }));
        const ms = await listAll(`/v1/conversations/${id}/messages`);
        const ts = await listAll(`/v1/conversations/${id}/tool-invocations`);
        for (const m of ms) expected.push(JSON.stringify({ type: 'message', ...m }));
        for (const t of ts) expected.push(JSON.stringify({ type: 'tool_invocation', ...t }));
        messages += ms.length;
        tools += ts.length;
      }
      assert.equal(
        messages,
        ROW_PAGE + 80 + [...Array(13).keys()].reduce((a, c) => a + ((c * 7) % 23), 0) + ROW_PAGE - 1,
      );
      expected.push(JSON.stringify({ type: 'end', conversations: convIds.length, messages, tool_invocations: tools }));
      assert.deepEqual(got.slice(1), expected);
    });

    test('Markdown: messages and tool invocations of a conversation in time order, across read pages', async () => {
      const id = convIds[0] as string;
      const ms = await listAll(`/v1/conversations/${id}/messages`);
      const ts = await listAll(`/v1/conversations/${id}/tool-invocations`);
      assert.ok(ms.length > ROW_PAGE && ts.length >= 4);
      // the model: both by the ULID part of their ids, a message before a tool invocation on a tie
      const ulid = (x: string) => x.slice(x.indexOf('_') + 1);
      const order = [...ms.map((m) => ({ id: m.id, k: 0 })), ...ts.map((t) => ({ id: t.id, k: 1 }))]
        .sort((a, b) => (ulid(a.id) < ulid(b.id) ? -1 : ulid(a.id) > ulid(b.id) ? 1 : a.k - b.k))
        .map((x) => x.id);
      for (const path of [`/v1/conversations/${id}/export?format=markdown`, '/v1/export?format=markdown']) {
        const md = await w.admin.get(path);
        assert.equal(md.status, 200);
        const section = md.text.slice(0, md.text.indexOf('## small 0'));
        const seen = [...section.matchAll(/^<sub>((?:msg|tool)_[0-9A-Z]+)/gm)].map((m) => m[1]);
        assert.deepEqual(seen, order, path);
      }
      const json = JSON.parse((await w.admin.get('/v1/export?format=json')).text);
      assert.deepEqual(
        json.conversations.map((c: any) => [c.id, c.messages.length, c.tool_invocations.length]),
        await Promise.all(
          convIds.map(async (c) => [
            c,
            (await listAll(`/v1/conversations/${c}/messages`)).length,
            (await listAll(`/v1/conversations/${c}/tool-invocations`)).length,
          ]),
        ),
      );
    });

    test('counters short of the rows (rows added after the page was read): the batch is read again one by one, nothing lost', async () => {
      const v = await newWorkspace(server, 'stale');
      // more rows than one read takes (ROW_PAGE + 50)
      const grown = ROW_PAGE + 50;
      const a = await v.admin.post('/v1/conversations', {
        title: 'grew',
        messages: Array.from({ length: ROW_PAGE }, (_, i) => ({ role: 'user', content: `m ${i}` })),
      });
      for (let i = ROW_PAGE; i < grown; i++)
        assert.equal(
          (await v.admin.post(`/v1/conversations/${a.body.data.id}/messages`, { role: 'user', content: `m ${i}` }))
            .status,
          201,
        );
      const b = await v.admin.post('/v1/conversations', {
        title: 'next',
        messages: [{ role: 'user', content: 'b' }],
      });
      assert.equal(a.status, 201, a.text);
      assert.equal(b.status, 201, b.text);
      // what an export sees when most of its messages arrive between its page read and its batch read
      await (server.parley.store as unknown as KyselyStore).kysely
        .updateTable('conversations')
        .set({ message_count: 5 })
        .where('id', '=', a.body.data.id)
        .execute();
      const records = lines((await v.admin.get('/v1/export')).text);
      const ofA = records.filter((r) => r.type === 'message' && r.conversation_id === a.body.data.id);
      assert.deepEqual(
        ofA.map((m) => m.content),
        Array.from({ length: grown }, (_, i) => `m ${i}`),
      );
      assert.deepEqual(
        records.map((r) => r.type).filter((t, k, all) => t !== all[k - 1]),
        ['export', 'conversation', 'message', 'conversation', 'message', 'end'],
      );
      assert.deepEqual(records.at(-1), { type: 'end', conversations: 2, messages: grown + 1, tool_invocations: 0 });
    });
  });

  describe(`export and import: SDK, size, failure [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    const PER = 1000;
    const CONVERSATIONS = 50;
    // ~300 characters each: 50,000 messages make an export of about 25 MB
    const content = (i: number) => `message ${i} ${'lorem ipsum dolor sit amet '.repeat(11)}`;

    before(
      async () => {
        server = await startServer(engine, { limits: { rate: 1_000_000 }, http: { bodyLimit: 4 * 1024 * 1024 } });
        ws = await newWorkspace(server, 'big');
        // seeded through the bulk loader: 50,000 messages through HTTP took minutes per engine
        await bulkSeed(server.parley.store, ws.id, {
          conversations: CONVERSATIONS,
          per: PER,
          content,
          title: (c) => `big ${c}`,
        });
        const listed = await ws.admin.get('/v1/conversations?per_page=1');
        assert.equal(listed.body.meta.total, CONVERSATIONS, 'the counters moved with the rows');
        const one = await ws.admin.get(`/v1/conversations/${listed.body.data[0].id}`);
        assert.equal(one.body.data.message_count, PER);
        const found = await ws.admin.get('/v1/conversations?search=lorem&per_page=1');
        assert.equal(found.body.data.length, 1, 'the full-text entries were written');
      },
      { timeout: 300_000 },
    );
    after(async () => server.close());

    test('a 50,000-message export streams: pulled as read, with flat memory, and complete at the end', {
      timeout: 300_000,
    }, async () => {
      const res = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${ws.admin.key}` } });
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      assert.ok(!first.done && first.value.length > 0);
      // the export has not finished when its first bytes arrive: its audit row is written at the end
      const early = await ws.admin.get('/v1/audit-events?action=conversations.exported');
      assert.equal(early.body.data.length, 0, 'streamed, not built whole first');
      // What the process (server and client both) holds live, after a full collection: RSS moved
      // with the collector's mood (170 MB on one CI run, 20 on the next), live memory does not.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const live = () => {
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const base = live();
      let peak = base;
      let bytes = first.value.length;
      let sampledAt = 0;
      let newlines = 0;
      let tail = '';
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        for (const b of value) if (b === 0x0a) newlines++;
        tail = (tail + decoder.decode(value, { stream: true })).slice(-200);
        // every ~2 MB taken: what is held then (a collection per chunk would dominate the run)
        if (bytes - sampledAt > 2_000_000) {
          sampledAt = bytes;
          peak = Math.max(peak, live());
        }
      }
      for (const b of first.value) if (b === 0x0a) newlines++;
      assert.equal(newlines, 1 + CONVERSATIONS * (1 + PER) + 1);
      assert.match(tail, /\{"type":"end","conversations":50,"messages":50000,"tool_invocations":0\}\n$/);
      assert.ok(bytes > 20_000_000, `${bytes} bytes`);
      const growth = peak - base;
      // the export held whole (or written ahead of the reader) would be its 24 MB at least; a page
      // of 200 messages is ~80 kB
      assert.ok(
        growth < 12 * 1024 * 1024,
        `live memory grew ${Math.round(growth / 1048576)} MB while streaming ${Math.round(bytes / 1048576)} MB`,
      );
      const done = await ws.admin.get('/v1/audit-events?action=conversations.exported');
      assert.equal(done.body.data[0].counts.messages, 50_000);
      assert.equal(done.body.data[0].counts.complete, 1);
    });

    test('SDK: records iterate a JSONL export; imports.send takes records or text; the copy equals the original', async () => {
      const { Parley } = await import('../../sdk/src/index.js');
      const from = new Parley({ baseUrl: server.url, apiKey: ws.admin.key ?? '' });
      const target = await newWorkspace(server, 'sdk-target');
      const to = new Parley({ baseUrl: server.url, apiKey: target.admin.key ?? '' });
      const first = (await ws.admin.get('/v1/conversations?order_by=created_at&order=asc&per_page=1')).body.data[0];
      const records = [];
      for await (const r of from.exports.conversationRecords(first.id)) records.push(r);
      assert.equal(records.length, 1 + 1 + PER + 1);
      assert.equal(records[0]?.type, 'export');
      const report = await to.imports.send(records);
      assert.deepEqual(report.messages, { created: PER, skipped: 0, failed: 0 });
      const text = records.map((r) => JSON.stringify(r)).join('\n');
      const again = await to.imports.send(text);
      assert.deepEqual(again.messages, { created: 0, skipped: PER, failed: 0 });
      const copy = [];
      for await (const r of to.exports.records()) copy.push(r);
      assert.deepEqual(body(copy), body(records));
      const md = await from.exports.conversation(first.id, { format: 'markdown' });
      assert.equal(md.filename, `parley-${first.id}.md`);
      await md.body.cancel();
    });

    test('the store failing mid-stream cuts the stream (no end line, an error for the reader) and is logged', async () => {
      const lines: string[] = [];
      const { createParley } = await import('../src/parley.js');
      const { loadConfig } = await import('../src/config.js');
      const { createLogger } = await import('../src/log.js');
      const { freshDatabase } = await import('./helpers/harness.js');
      const os = await import('node:os');
      const fs = await import('node:fs');
      const path = await import('node:path');
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cut-'));
      const db = await freshDatabase(engine, dataDir);
      const config = loadConfig(
        {},
        { http: { host: '127.0.0.1', port: 0 }, database: { dataDir, url: db.url }, log: { level: 'error' } },
      );
      const sink = { write: (s: string) => void lines.push(s) };
      const parley = await createParley(config, { logger: createLogger(config.log, sink) });
      try {
        const url = await parley.start();
        const key = parley.bootstrapped?.key.secret ?? '';
        const api = new (await import('./helpers/harness.js')).Client(url, key);
        // ~20 MB: more than every buffer between the server and this reader holds
        const long = (i: number) => `${i} ${'the quick brown fox jumps over the lazy dog '.repeat(90)}`;
        // written by the bulk loader (HTTP took half a minute under load)
        await bulkSeed(parley.store, parley.bootstrapped?.workspace.id ?? '', {
          conversations: 50,
          per: 100,
          content: long,
          title: () => null,
        });
        assert.equal((await api.get('/v1/conversations?per_page=1')).body.meta.total, 50);
        const res = await fetch(`${url}/v1/export`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(res.status, 200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        await reader.read();
        // the database goes away under the export
        await parley.store.close();
        let received = '';
        const decoder = new TextDecoder();
        await assert.rejects(async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            received += decoder.decode(value, { stream: true });
          }
        }, 'the reader sees the cut, not a clean end');
        assert.doesNotMatch(received, /"type":"end"/);
        assert.ok(
          lines.some((l) => l.includes('export failed mid-stream')),
          `logged: ${lines.map((l) => JSON.parse(l).msg).join(' | ')}`,
        );
      } finally {
        await parley.close().catch(() => undefined);
        await db.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
