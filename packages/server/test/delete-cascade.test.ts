import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';

const MESSAGES = 300;
const TOOLS = 6;

for (const engine of testEngines()) {
  describe(`delete cascade [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    let raw: RawInspector;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      api = (await ws.key(['read:ai', 'write:ai'])).client;
      raw = rawInspector(engine, server);
    });
    after(async () => {
      await raw?.close();
      await server.close();
    });

    /** A conversation with MESSAGES messages holding `word`, TOOLS tool invocations, a title, archived. */
    async function bigConversation(word: string, owner: string) {
      const texts = Array.from({ length: MESSAGES }, (_, i) => `${word} message number ${i} about ${owner}`);
      const created = await api.post('/v1/conversations', {
        user_id: owner,
        bot_id: `bot-${owner}`,
        context: { contact_id: `contact-${owner}` },
        messages: texts.slice(0, 200).map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })),
      });
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id as string;
      const messageIds: string[] = [];
      for (const content of texts.slice(200)) {
        // with Idempotency-Key: the stored answers hold the content too
        const m = await api.post(
          `/v1/conversations/${id}/messages`,
          { role: 'user', content },
          // keys that name neither the content nor the conversation: the scans below look for both
          { 'idempotency-key': `append-${randomUUID()}` },
        );
        assert.equal(m.status, 201);
        messageIds.push(m.body.data.id);
      }
      for (let i = 0; i < TOOLS; i++) {
        const t = await api.post(
          `/v1/conversations/${id}/tool-invocations`,
          {
            tool_name: 'lookup',
            input: { q: `${word} tool input ${i}` },
            output: { a: `${word} tool output ${i}` },
            status: 'succeeded',
            // half of them tied to a message
            ...(i % 2 === 0 ? { message_id: messageIds[i] } : {}),
          },
          { 'idempotency-key': `tool-${randomUUID()}` },
        );
        assert.equal(t.status, 201, t.text);
      }
      const title = `${word} secret title for ${owner}`;
      const p = await api.patch(`/v1/conversations/${id}`, { title, archived: true });
      assert.equal(p.status, 200);
      return { id, texts, title };
    }

    test('DELETE removes every row and index entry in one go; counters return; audit has counts, no content', async () => {
      const doomedWord = 'zebracascade';
      const kept = await bigConversation('okapisurvivor', 'bob');
      const countersBefore = await raw.counters(ws.id);
      const doomed = await bigConversation(doomedWord, 'alice');
      const keptBefore = (await api.get(`/v1/conversations/${kept.id}?include_tool_steps=true&limit=1000`)).body.data;

      // what exists before: the assertions below must be able to fail
      assert.equal(await raw.conversationRows('conversations', ws.id, doomed.id), 1);
      assert.equal(await raw.conversationRows('messages', ws.id, doomed.id), MESSAGES);
      assert.equal(await raw.conversationRows('tool_invocations', ws.id, doomed.id), TOOLS);
      assert.ok((await raw.conversationRows('conversation_events', ws.id, doomed.id)) > MESSAGES - 200);
      // where the content is stored, found by its bytes: the scan after the delete sees each place
      const storedBefore = await raw.rowsMentioning(doomedWord);
      for (const table of ['conversations', 'messages', 'tool_invocations', 'conversation_events']) {
        assert.ok(
          (storedBefore[table] ?? 0) > 0,
          `the scan finds the content in ${table}: ${JSON.stringify(storedBefore)}`,
        );
      }
      assert.ok((storedBefore.idempotency_records ?? 0) > 0, 'the stored idempotent answers hold the content');
      if (engine === 'sqlite') {
        assert.ok((storedBefore.message_idx_data ?? 0) > 0, 'the FTS5 segments hold the message tokens');
        assert.ok((storedBefore.title_idx_data ?? 0) > 0, 'the FTS5 segments hold the title tokens');
      }
      const searchBefore = await raw.searchEntries(doomedWord);
      assert.deepEqual(searchBefore, { messages: MESSAGES, titles: 1 });
      assert.notDeepEqual(await raw.counters(ws.id), countersBefore);

      const del = await api.delete(`/v1/conversations/${doomed.id}`);
      assert.equal(del.status, 204);
      assert.equal(del.text, '');

      for (const table of ['conversations', 'messages', 'tool_invocations', 'conversation_events'] as const) {
        assert.equal(await raw.conversationRows(table, ws.id, doomed.id), 0, `${table} rows left`);
      }
      // nowhere else either, by bytes, in any table: the content, the context, and the id (which the
      // audit row keeps as its target); on SQLite the full-text term dictionary may keep bare terms
      // (README, Durability; bounded by sqlite-erasure.test.ts)
      const known = (found: Record<string, number>) =>
        Object.fromEntries(Object.entries(found).filter(([t]) => !/^(message|title)_idx_(data|idx)$/.test(t)));
      assert.deepEqual(known(await raw.rowsMentioning(doomedWord)), {}, 'rows still holding the content');
      assert.deepEqual(known(await raw.rowsMentioning('contact-alice')), {}, 'rows still holding the context');
      // the audit rows keep the id (delete, and the rename and archive bigConversation made), never content
      assert.deepEqual(known(await raw.rowsMentioning(doomed.id)), { audit_events: 3 }, 'rows still naming the id');
      assert.deepEqual(await raw.searchEntries(doomedWord), { messages: 0, titles: 0 }, 'index entries left');
      assert.equal((await api.get(`/v1/conversations?search=${doomedWord}&archived=true`)).body.data.length, 0);

      assert.deepEqual(await raw.counters(ws.id), countersBefore, 'counters back to their previous values');
      const listed = await api.get('/v1/conversations?archived=true');
      assert.equal(listed.body.meta.total, 1);

      // the audit event: who, what, counts equal to what existed, and no content anywhere in the row
      const audit = await ws.admin.get('/v1/audit-events?limit=100');
      const ev = audit.body.data.find(
        (e: { action: string; target_id: string }) => e.action === 'conversation.deleted' && e.target_id === doomed.id,
      );
      assert.ok(ev, 'audit event written');
      assert.equal(ev.target_type, 'conversation');
      assert.match(ev.actor_key_id, /^key_/);
      assert.deepEqual(ev.counts, {
        conversations: 1,
        messages: MESSAGES,
        tool_invocations: TOOLS,
        search_entries: searchBefore.messages + searchBefore.titles,
      });
      const rows = await raw.auditRows(ws.id);
      const row = rows.find((r) => r.target_id === doomed.id);
      assert.ok(row, 'audit row stored');
      const stored = JSON.stringify(row) + JSON.stringify(ev);
      assert.ok(!stored.includes(doomedWord), 'no content in the audit row');
      assert.ok(!stored.includes(doomed.title));
      for (const t of doomed.texts) assert.ok(!stored.includes(t));

      // the other conversation is untouched
      const keptAfter = (await api.get(`/v1/conversations/${kept.id}?include_tool_steps=true&limit=1000`)).body.data;
      assert.deepEqual(keptAfter, keptBefore);
      assert.equal(keptAfter.message_count, MESSAGES);
      assert.equal(keptAfter.tool_invocations.length, TOOLS);
      assert.deepEqual(await raw.searchEntries('okapisurvivor'), { messages: MESSAGES, titles: 1 });
    });

    // Stored idempotent answers are erased with the conversation (kept as content-free tombstones:
    // a replay is told 410 conversation_deleted). What SQLite may keep is the full-text term
    // dictionary's bare terms (README, Durability), which sqlite-erasure.test.ts bounds on its own.
    test('DELETE leaves no byte of the content anywhere: stored idempotent answers included', async () => {
      const word = 'quaggacascade';
      const doomed = await bigConversation(word, 'erin');
      assert.ok((await raw.storedAnswersMentioning(ws.id, doomed.id)) > 0);
      assert.equal((await api.delete(`/v1/conversations/${doomed.id}`)).status, 204);
      assert.equal(await raw.storedAnswersMentioning(ws.id, doomed.id), 0, 'stored answers naming the conversation');
      const termDictionary = (found: Record<string, number>) =>
        Object.fromEntries(Object.entries(found).filter(([t]) => !/^(message|title)_idx_(data|idx)$/.test(t)));
      assert.deepEqual(termDictionary(await raw.rowsMentioning(word)), {}, 'rows still holding the content');
      assert.deepEqual(await raw.rowsMentioning(doomed.id), { audit_events: 3 }, 'rows still naming the id');
    });

    test('another conversation in the same workspace is untouched by a delete', async () => {
      const doomed = await bigConversation('gnucascade', 'carol');
      const kept = await bigConversation('ibexsurvivor', 'dave');
      const before = (await api.get(`/v1/conversations/${kept.id}?include_tool_steps=true&limit=1000`)).body.data;
      const keptSearch = await raw.searchEntries('ibexsurvivor');
      assert.equal((await api.delete(`/v1/conversations/${doomed.id}`)).status, 204);
      const afterDelete = (await api.get(`/v1/conversations/${kept.id}?include_tool_steps=true&limit=1000`)).body.data;
      assert.deepEqual(afterDelete, before);
      assert.deepEqual(await raw.searchEntries('ibexsurvivor'), keptSearch);
      assert.deepEqual(keptSearch, { messages: MESSAGES, titles: 1 });
      assert.equal(await raw.conversationRows('messages', ws.id, kept.id), MESSAGES);
      assert.equal(await raw.conversationRows('tool_invocations', ws.id, kept.id), TOOLS);
      const found = await api.get('/v1/conversations?search=ibexsurvivor&archived=true');
      assert.deepEqual(
        found.body.data.map((c: { id: string }) => c.id),
        [kept.id],
      );
      const list = await api.get('/v1/conversations?archived=only&user_id=dave');
      assert.equal(list.body.meta.total, 1);
      assert.equal((await api.get(`/v1/conversations/${doomed.id}`)).status, 404);
    });
  });
}
