import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ulidToUuid } from '../src/ids.js';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { type RawInspector, rawInspector } from './helpers/raw-rows.js';

const BOT = { 'x-bot-id': 'bot_x' };
const uuid = (id: string) => ulidToUuid(id.slice('conv_'.length));
const DAY = 86_400_000;

for (const engine of testEngines()) {
  describe(`bulk delete, trash, holds [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    let secret: string;
    let raw: RawInspector;

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      secret = k.secret;
      raw = rawInspector(engine, server);
    });
    after(async () => {
      await raw?.close();
      await server.close();
    });

    async function make(word: string, extra: Record<string, unknown> = {}): Promise<string> {
      const r = await api.post(
        '/v1/conversations',
        {
          bot_id: BOT['x-bot-id'],
          title: `${word} title`,
          messages: [{ role: 'user', content: `${word} body` }],
          ...extra,
        },
        { 'idempotency-key': `make-${word}` },
      );
      assert.equal(r.status, 201, r.text);
      const id = r.body.data.id as string;
      const t = await api.post(`/v1/conversations/${id}/tool-invocations`, { tool_name: 'lookup', input: { q: word } });
      assert.equal(t.status, 201, t.text);
      return id;
    }
    const rowsOf = async (id: string) =>
      Promise.all(
        (['conversations', 'messages', 'tool_invocations', 'conversation_events'] as const).map((t) =>
          raw.conversationRows(t, ws.id, id),
        ),
      );
    const setTrash = async (days: number) => {
      const r = await ws.admin.patch('/v1/workspace', { trash_days: days });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.trash_days, days);
    };
    const hold = async (target_type: string, target_value: string) => {
      const r = await ws.admin.post('/v1/holds', { target_type, target_value, reason: 'litigation' });
      assert.equal(r.status, 201, r.text);
      return r.body.data.id as string;
    };

    test('PATCH /v1/workspace with an Idempotency-Key answers the workspace, and its replay the same', async () => {
      // (the SDK, and so the console, sends a key with every write; the answer stored with it is the workspace)
      const headers = { 'idempotency-key': 'trash-days-3' };
      const first = await ws.admin.request('PATCH', '/v1/workspace', { body: { trash_days: 3 }, headers });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.data.id, ws.id);
      assert.equal(first.body.data.trash_days, 3);
      const replay = await ws.admin.request('PATCH', '/v1/workspace', { body: { trash_days: 3 }, headers });
      assert.equal(replay.status, 200, replay.text);
      assert.deepEqual(replay.body, first.body);
      await setTrash(0);
    });

    test('bulk delete: atomic, foreign and duplicate ids, idempotent, over the limit', async () => {
      const a = await make('alpaca');
      const b = await make('bonobo');
      const other = await newWorkspace(server, 'other');
      const foreign = (
        await other.admin.post('/v1/conversations', { messages: [{ role: 'user', content: 'foreign words' }] })
      ).body.data.id as string;
      const missing = 'conv_01J00000000000000000000000';
      const before = await raw.counters(ws.id);
      const r = await api.post(
        '/v1/conversations/bulk-delete',
        { ids: [a, b, a, foreign, missing, 'garbage'] },
        { 'idempotency-key': 'bulk-1' },
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.data, [
        { id: a, status: 'deleted' },
        { id: b, status: 'deleted' },
        { id: foreign, status: 'not_found' },
        { id: missing, status: 'not_found' },
        { id: 'garbage', status: 'not_found' },
      ]);
      assert.deepEqual(r.body.meta, { deleted: 2, not_found: 3, held: 0, trashed: false });
      for (const id of [a, b]) {
        assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404);
        assert.deepEqual(await rowsOf(id), [0, 0, 0, 0]);
      }
      assert.equal((await other.admin.get(`/v1/conversations/${foreign}`)).status, 200);
      assert.equal((before.all ?? 0) - (raw.counters ? ((await raw.counters(ws.id)).all ?? 0) : 0), 2);
      // the replay is the stored answer; a repeat without the key finds them gone
      const replay = await api.post(
        '/v1/conversations/bulk-delete',
        { ids: [a, b, a, foreign, missing, 'garbage'] },
        { 'idempotency-key': 'bulk-1' },
      );
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(replay.body, r.body);
      const again = await api.post('/v1/conversations/bulk-delete', { ids: [a, b] });
      assert.deepEqual(again.body.meta, { deleted: 0, not_found: 2, held: 0, trashed: false });
      // the create's stored answer went with the conversation: a replay is told so, without content
      const made = await api.post('/v1/conversations', {}, { 'idempotency-key': 'make-alpaca' });
      assert.equal(made.status, 422); // different body
      assert.equal(await raw.storedAnswersMentioning(ws.id, 'alpaca'), 0);
      const audit = await ws.admin.get('/v1/audit-events?action=conversations.bulk_deleted');
      // newest first: the repeat without a key, then the first call
      assert.equal(audit.body.data.length, 2);
      assert.equal(audit.body.data[1].counts.conversations, 2);
      assert.equal(audit.body.data[1].counts.not_found, 3);
      const tooMany = await api.post('/v1/conversations/bulk-delete', {
        ids: Array.from({ length: 1001 }, (_, i) => `conv_${i}`),
      });
      assert.equal(tooMany.status, 400);
      assert.equal((await api.post('/v1/conversations/bulk-delete', { ids: [] })).status, 400);
    });

    test('holds: atomic bulk refuses all, non-atomic skips held; every surface refuses a held delete', async () => {
      const held = await make('caracal', { context: { matter_id: 'M-1' } });
      const free = await make('dugong');
      const h = await hold('matter_id', 'M-1');
      const refused = await api.post('/v1/conversations/bulk-delete', { ids: [free, held] });
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error.code, 'legal_hold');
      assert.deepEqual(refused.body.error.held, [{ id: held, hold_id: h }]);
      assert.equal((await api.get(`/v1/conversations/${free}`)).status, 200);
      const partial = await api.post('/v1/conversations/bulk-delete', { ids: [free, held], atomic: false });
      assert.equal(partial.status, 200);
      assert.deepEqual(partial.body.data, [
        { id: free, status: 'deleted' },
        { id: held, status: 'held', hold_id: h },
      ]);
      // every surface's delete: 409 in its own shape, and the conversation is still there
      const xkey = { 'x-api-key': secret };
      const attempts: Array<[string, () => Promise<{ status: number; text: string }>]> = [
        ['native', () => api.delete(`/v1/conversations/${held}`)],
        ['leadlex', () => api.delete(`/v1/lexi/conversations/${held}`)],
        ['lexicon', () => new Client(server.url).delete(`/api/v1/chats/${uuid(held)}`, xkey)],
        ['fini', () => api.delete(`/v2/hc-interactions/${uuid(held)}/public`)],
        ['fini bulk', () => api.request('DELETE', '/v2/hc-interactions/public', { body: { ids: [uuid(held)] } })],
        ['botpress', () => api.delete(`/v1/chat/conversations/${held}`, BOT)],
        ['openai', () => api.delete(`/openai/v1/conversations/${held}`)],
      ];
      for (const [surface, attempt] of attempts) {
        const r = await attempt();
        assert.equal(r.status, 409, `${surface}: ${r.text}`);
      }
      assert.equal((await api.get(`/v1/conversations/${held}`)).status, 200);
      // held conversations may still be written
      assert.equal(
        (await api.post(`/v1/conversations/${held}/messages`, { role: 'user', content: 'more' })).status,
        201,
      );
      // a user hold covers the user's conversations; a user-bound key may not manage holds
      const bound = await ws.key(['read:ai', 'write:ai', 'admin'], { user_id: 'u-held' });
      assert.equal((await bound.client.post('/v1/holds', { target_type: 'user', target_value: 'u-held' })).status, 403);
      assert.equal((await api.get('/v1/holds')).status, 403);
      const list = await ws.admin.get('/v1/holds');
      assert.deepEqual(
        list.body.data.map((x: { id: string }) => x.id),
        [h],
      );
      const released = await ws.admin.post(`/v1/holds/${h}/release`);
      assert.equal(released.status, 200);
      assert.equal(released.body.data.active, false);
      assert.equal((await ws.admin.get('/v1/holds')).body.data.length, 0);
      assert.equal((await ws.admin.get('/v1/holds?include_released=true')).body.data.length, 1);
      assert.equal((await ws.admin.get(`/v1/holds/${h}`)).body.data.released_by !== null, true);
      assert.equal((await api.delete(`/v1/conversations/${held}`)).status, 204);
      const actions = (await ws.admin.get('/v1/audit-events')).body.data.map((e: { action: string }) => e.action);
      assert.ok(actions.includes('hold.created') && actions.includes('hold.released'));
    });

    test('a large set (more target values than one look-up probe covers): no hold in the workspace deletes all; one hold refuses the set and names it', async () => {
      // a workspace of its own: no hold left by the other tests
      const own = await newWorkspace(server);
      const c = (await own.key(['read:ai', 'write:ai'])).client;
      const ids: string[] = [];
      for (let i = 0; i < 80; i++) {
        // a user each: 40 conversations bring 80 target values with their ids, past the probe's threshold (64)
        const r = await c.post('/v1/conversations', { title: `set ${i}`, user_id: `u-set-${i}` });
        assert.equal(r.status, 201, r.text);
        ids.push(r.body.data.id as string);
      }
      const first = await c.post('/v1/conversations/bulk-delete', { ids: ids.slice(0, 40) });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        first.body.data.map((x: { status: string }) => x.status),
        Array(40).fill('deleted'),
      );
      const h = await own.admin.post('/v1/holds', { target_type: 'user', target_value: 'u-set-63', reason: 'audit' });
      assert.equal(h.status, 201, h.text);
      const refused = await c.post('/v1/conversations/bulk-delete', { ids: ids.slice(40) });
      assert.equal(refused.status, 409, refused.text);
      assert.deepEqual(refused.body.error.held, [{ id: ids[63], hold_id: h.body.data.id }]);
      assert.equal((await c.get('/v1/conversations?per_page=100')).body.data.length, 40);
    });

    test('holds of every target type are checked together; each held conversation is named with its oldest active hold', async () => {
      const byUser = await make('gecko', { user_id: 'u-mix' });
      const byContact = await make('heron', { context: { contact_id: 'C-mix' } });
      // held twice, by its id first: the older hold is the one named
      const twice = await make('ibis', { context: { deal_id: 'D-mix' } });
      const byReleased = await make('jackal', { context: { matter_id: 'M-mix' } });
      const free = await make('kiwi');
      const hTwice = await hold('conversation', twice);
      const hDeal = await hold('deal_id', 'D-mix');
      const hUser = await hold('user', 'u-mix');
      const hContact = await hold('contact_id', 'C-mix');
      const hReleased = await hold('matter_id', 'M-mix');
      assert.equal((await ws.admin.post(`/v1/holds/${hReleased}/release`)).status, 200);
      const ids = [byUser, byContact, twice, byReleased, free];
      const refused = await api.post('/v1/conversations/bulk-delete', { ids });
      assert.equal(refused.status, 409, refused.text);
      assert.deepEqual(refused.body.error.held, [
        { id: byUser, hold_id: hUser },
        { id: byContact, hold_id: hContact },
        { id: twice, hold_id: hTwice },
      ]);
      const single = await api.delete(`/v1/conversations/${twice}`);
      assert.equal(single.status, 409, single.text);
      assert.deepEqual(single.body.error.held, [{ id: twice, hold_id: hTwice }]);
      const partial = await api.post('/v1/conversations/bulk-delete', { ids, atomic: false });
      assert.equal(partial.status, 200, partial.text);
      assert.deepEqual(partial.body.data, [
        { id: byUser, status: 'held', hold_id: hUser },
        { id: byContact, status: 'held', hold_id: hContact },
        { id: twice, status: 'held', hold_id: hTwice },
        { id: byReleased, status: 'deleted' },
        { id: free, status: 'deleted' },
      ]);
      for (const h of [hTwice, hDeal, hUser, hContact]) {
        assert.equal((await ws.admin.post(`/v1/holds/${h}/release`)).status, 200);
      }
      for (const id of [byUser, byContact, twice])
        assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 204);
    });

    test('trash hides from every surface, restores exactly, purges with a moved clock', async () => {
      await setTrash(7);
      try {
        const id = await make('ermine', { user_id: 'u1' });
        const totalBefore = (await api.get('/v1/conversations')).body.meta.total;
        const detailBefore = (await api.get(`/v1/conversations/${id}?include_tool_steps=true`)).body;
        assert.equal((await api.delete(`/v1/lexi/conversations/${id}`)).status, 204);
        const xkey = { 'x-api-key': secret };
        assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404);
        assert.equal((await api.get(`/v1/conversations/${id}/messages`)).status, 404);
        assert.equal((await api.get('/v1/conversations?search=ermine')).body.data.length, 0);
        assert.equal((await api.get('/v1/conversations')).body.meta.total, totalBefore - 1);
        assert.equal((await api.get(`/v1/lexi/conversations/${id}`)).status, 404);
        assert.equal((await new Client(server.url).get(`/api/v1/chats/${uuid(id)}`, xkey)).status, 404);
        assert.equal((await api.get(`/v2/hc-interactions/${uuid(id)}/public`)).status, 404);
        assert.equal((await api.get(`/v1/chat/conversations/${id}`, BOT)).status, 404);
        assert.equal((await api.get(`/openai/v1/conversations/${id}`)).status, 404);
        assert.equal((await api.get(`/v1/conversations/${id}/events`)).status, 404);
        const trash = await api.get('/v1/trash');
        assert.deepEqual(
          trash.body.data.map((t: { conversation: { id: string } }) => t.conversation.id),
          [id],
        );
        // a user-bound key sees only its user's trash
        const other = await ws.key(['read:ai'], { user_id: 'u2' });
        assert.equal((await other.client.get('/v1/trash')).body.data.length, 0);
        const restored = await api.post(`/v1/conversations/${id}/restore`);
        assert.equal(restored.status, 200, restored.text);
        assert.deepEqual((await api.get(`/v1/conversations/${id}?include_tool_steps=true`)).body, detailBefore);
        assert.equal((await api.get('/v1/conversations')).body.meta.total, totalBefore);
        assert.equal((await api.get('/v1/conversations?search=ermine')).body.data.length, 1);
        assert.equal((await api.post(`/v1/conversations/${id}/restore`)).status, 404); // not in the trash

        // trashed through OpenAI; past its window it cannot be restored and the purge erases it
        assert.equal((await api.delete(`/openai/v1/conversations/${id}`)).status, 200);
        const kept = await make('ferret', { context: { deal_id: 'D-9' } });
        const h = await hold('deal_id', 'D-9');
        assert.equal((await api.delete(`/v1/conversations/${kept}`)).status, 409);
        await ws.admin.post(`/v1/holds/${h}/release`);
        assert.equal((await api.delete(`/v1/conversations/${kept}`)).status, 204);
        const h2 = await hold('conversation', kept);
        server.clock.advance(8 * DAY);
        assert.equal((await api.post(`/v1/conversations/${id}/restore`)).status, 404);
        await server.parley.trash.sweep();
        assert.deepEqual(await rowsOf(id), [0, 0, 0, 0]);
        assert.equal(await raw.storedAnswersMentioning(ws.id, 'ermine'), 0);
        const known = (found: Record<string, number>) =>
          Object.fromEntries(Object.entries(found).filter(([t]) => !/^(message|title)_idx_(data|idx)$/.test(t)));
        assert.deepEqual(known(await raw.rowsMentioning('ermine body')), {});
        assert.deepEqual(await raw.searchEntries('ermine'), { messages: 0, titles: 0 });
        // a held one stays in the trash past its window
        assert.equal((await rowsOf(kept))[0], 1);
        await ws.admin.post(`/v1/holds/${h2}/release`);
        const now = await ws.admin.post('/v1/trash/purge', { all: true });
        assert.equal(now.status, 200, now.text);
        assert.equal(now.body.data.purged, 1);
        assert.deepEqual(await rowsOf(kept), [0, 0, 0, 0]);
        const purged = await ws.admin.get('/v1/audit-events?action=conversations.purged');
        assert.ok(purged.body.data.length >= 2);
      } finally {
        await setTrash(0);
      }
    });
  });
}
