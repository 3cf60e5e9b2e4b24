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
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';

/** More than one erase transaction's worth (EraseBatch starts at 16), so batches follow each other. */
const DOOMED = 40;
const MESSAGES = 3;

const TABLES = ['conversations', 'messages', 'tool_invocations', 'conversation_events'] as const;

for (const engine of testEngines()) {
  describe(`set-based erase (deleteMany) [${engine}]`, () => {
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

    /**
     * Conversations holding `word` everywhere a conversation leaves rows: title and messages (search
     * entries), a tool invocation, the event log, and stored answers of keyed writes; every third
     * archived, users and bots spread so several counters move. Returns the ids and the keys used.
     */
    async function doomed(word: string, n: number) {
      const ids: string[] = [];
      const keys: string[] = [];
      for (let i = 0; i < n; i++) {
        const key = `${word}-create-${i}`;
        const c = await api.post(
          '/v1/conversations',
          {
            title: `${word} title ${i}`,
            user_id: `u${i % 3}`,
            bot_id: `bot${i % 2}`,
            messages: Array.from({ length: MESSAGES - 1 }, (_, m) => ({ role: 'user', content: `${word} says ${m}` })),
          },
          { 'idempotency-key': key },
        );
        assert.equal(c.status, 201, c.text);
        const id = c.body.data.id as string;
        keys.push(key);
        const m = await api.post(
          `/v1/conversations/${id}/messages`,
          { role: 'assistant', content: `${word} answers` },
          { 'idempotency-key': `${word}-append-${i}` },
        );
        assert.equal(m.status, 201, m.text);
        const t = await api.post(
          `/v1/conversations/${id}/tool-invocations`,
          { tool_name: 'lookup', input: { q: word }, output: { a: word }, message_id: m.body.data.id },
          { 'idempotency-key': `${word}-tool-${i}` },
        );
        assert.equal(t.status, 201, t.text);
        if (i % 3 === 0) assert.equal((await api.patch(`/v1/conversations/${id}`, { archived: true })).status, 200);
        ids.push(id);
      }
      return { ids, keys };
    }

    /** What exists of these conversations, table by table, summed. */
    async function rowsOf(ids: readonly string[]) {
      const out: Record<string, number> = {};
      for (const t of TABLES) {
        let n = 0;
        for (const id of ids) n += await raw.conversationRows(t, ws.id, id);
        out[t] = n;
      }
      return out;
    }

    /** Totals as the API reports them: all, archived, per user, per bot. */
    async function totals() {
      const total = async (q: string) => (await api.get(`/v1/conversations?limit=1${q}`)).body.meta.total as number;
      return {
        all: await total(''),
        archived: await total('&archived=true'),
        u0: await total('&user_id=u0'),
        u1: await total('&user_id=u1'),
        bot0: await total('&bot_id=bot0'),
      };
    }

    test('bulk delete erases every row, index entry and stored answer of the set; counters and totals return', async () => {
      const word = 'quokkaset';
      const kept = await doomed('wombatkept', 4);
      const countersBefore = await raw.counters(ws.id);
      const totalsBefore = await totals();
      const { ids, keys } = await doomed(word, DOOMED);

      // before: every place holds the set's rows, so the checks after can fail
      const present = await rowsOf(ids);
      const events = present.conversation_events ?? 0;
      assert.deepEqual(present, {
        conversations: DOOMED,
        messages: DOOMED * MESSAGES,
        tool_invocations: DOOMED,
        conversation_events: events,
      });
      assert.ok(events >= DOOMED * MESSAGES, `events: ${events}`);
      assert.deepEqual(await raw.searchEntries(word), { messages: DOOMED * MESSAGES, titles: DOOMED });
      assert.equal(await raw.storedAnswersMentioning(ws.id, word), DOOMED * 3);
      assert.notDeepEqual(await raw.counters(ws.id), countersBefore);
      // (the default list leaves archived ones out: every third of the set is archived)
      assert.equal((await totals()).all, totalsBefore.all + DOOMED - Math.ceil(DOOMED / 3));
      assert.equal((await totals()).archived, totalsBefore.archived + DOOMED); // archived=true includes them

      const r = await api.post('/v1/conversations/bulk-delete', { ids }, { 'idempotency-key': `${word}-bulk` });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.meta, { deleted: DOOMED, not_found: 0, held: 0, trashed: false });

      assert.deepEqual(await rowsOf(ids), {
        conversations: 0,
        messages: 0,
        tool_invocations: 0,
        conversation_events: 0,
      });
      assert.deepEqual(await raw.searchEntries(word), { messages: 0, titles: 0 });
      assert.equal(await raw.storedAnswersMentioning(ws.id, word), 0);
      assert.deepEqual(await raw.counters(ws.id), countersBefore);
      assert.deepEqual(await totals(), totalsBefore);
      // a stored answer became a tombstone: its replay is told the conversation is gone
      const replay = await api.post(
        '/v1/conversations',
        {
          title: `${word} title 0`,
          user_id: 'u0',
          bot_id: 'bot0',
          messages: Array.from({ length: MESSAGES - 1 }, (_, m) => ({ role: 'user', content: `${word} says ${m}` })),
        },
        { 'idempotency-key': keys[0] as string },
      );
      assert.equal(replay.status, 410, replay.text);
      assert.equal(replay.body.error.code, 'conversation_deleted');
      // what was not in the set is whole
      assert.deepEqual(await rowsOf(kept.ids), {
        conversations: 4,
        messages: 4 * MESSAGES,
        tool_invocations: 4,
        conversation_events: (await rowsOf(kept.ids)).conversation_events,
      });
      assert.deepEqual(await raw.searchEntries('wombatkept'), { messages: 4 * MESSAGES, titles: 4 });
      for (const id of kept.ids) assert.equal((await api.get(`/v1/conversations/${id}`)).status, 200);
    });

    test('the purge erases a trashed set the same way and reports its counts', async () => {
      const word = 'numbatset';
      const countersBefore = await raw.counters(ws.id);
      const totalsBefore = await totals();
      assert.equal((await ws.admin.patch('/v1/workspace', { trash_days: 3 })).status, 200);
      try {
        const { ids } = await doomed(word, DOOMED);
        const r = await api.post('/v1/conversations/bulk-delete', { ids });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.meta.trashed, true);
        // in the trash: out of every total at once, rows still there
        assert.deepEqual(await totals(), totalsBefore);
        assert.deepEqual(await raw.counters(ws.id), countersBefore);
        assert.equal((await rowsOf(ids)).messages, DOOMED * MESSAGES);

        const purge = await ws.admin.post('/v1/trash/purge', { all: true });
        assert.equal(purge.status, 200, purge.text);
        assert.equal(purge.body.data.purged, DOOMED);
        assert.deepEqual(await rowsOf(ids), {
          conversations: 0,
          messages: 0,
          tool_invocations: 0,
          conversation_events: 0,
        });
        assert.deepEqual(await raw.searchEntries(word), { messages: 0, titles: 0 });
        assert.equal(await raw.storedAnswersMentioning(ws.id, word), 0);
        // the counters moved when they left view, not again when erased
        assert.deepEqual(await raw.counters(ws.id), countersBefore);
        assert.deepEqual(await totals(), totalsBefore);
        // the audit rows of the purge's transactions add up to the set
        const audit = await ws.admin.get('/v1/audit-events?action=conversations.purged&limit=100');
        const sum = (k: string) =>
          audit.body.data.reduce((a: number, e: { counts: Record<string, number> }) => a + (e.counts[k] ?? 0), 0);
        assert.equal(sum('conversations'), DOOMED);
        assert.equal(sum('messages'), DOOMED * MESSAGES);
        assert.equal(sum('tool_invocations'), DOOMED);
        assert.equal(sum('search_entries'), DOOMED * (MESSAGES + 1));
      } finally {
        await ws.admin.patch('/v1/workspace', { trash_days: 0 });
      }
    });
  });
}
