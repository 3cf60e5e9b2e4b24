import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../src/domain/types.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import {
  type Client,
  groupedCommits,
  newWorkspace,
  startServer,
  type TestServer,
  testEngines,
} from './helpers/harness.js';

for (const engine of testEngines()) {
  describe(`group commit [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let workspaceId: string;
    let store: Store;
    const groups: number[] = [];

    before(async () => {
      server = await startServer(engine, { pg: { groupCommit: true } });
      const ws = await newWorkspace(server);
      workspaceId = ws.id;
      api = (await ws.key(['read:ai', 'write:ai'], { rate_limit: 1_000_000 })).client;
      // a second store on the same database, grouping like the server's, for writes the API cannot fail on demand
      store = await openStore({
        databaseUrl: server.parley.config.database.url,
        groupCommit: { maxWrites: 64, windowMs: 1000 },
      });
      store.observeGroups((n) => groups.push(n));
    });
    after(async () => {
      await store?.close();
      await server?.close();
    });

    const events = (conv: string) =>
      store
        .read(workspaceId, (r) => r.events.list(conv, { afterSeq: 0, limit: 1000 }))
        .then((e) => e.map((x) => x.seq));

    test('concurrent appends to one conversation and to many: all there, seq and counters exact, in shared commits', async () => {
      const before = await groupedCommits(server.url);
      const one = (await api.post('/v1/conversations', {})).body.data.id as string;
      const many = await Promise.all(
        Array.from({ length: 8 }, async () => (await api.post('/v1/conversations', {})).body.data.id as string),
      );
      const sends = [
        ...Array.from({ length: 40 }, (_, i) => ({ conv: one, content: `one ${i}` })),
        ...Array.from({ length: 40 }, (_, i) => ({ conv: many[i % many.length] as string, content: `many ${i}` })),
      ];
      const replies = await Promise.all(
        sends.map((s) => api.post(`/v1/conversations/${s.conv}/messages`, { role: 'user', content: s.content })),
      );
      for (const r of replies) assert.equal(r.status, 201, r.text);
      for (const conv of [one, ...many]) {
        const want = sends.filter((s) => s.conv === conv).map((s) => s.content);
        const got = (await api.get(`/v1/conversations/${conv}?limit=1000`)).body.data;
        assert.equal(got.message_count, want.length, `${conv}: message_count`);
        assert.deepEqual(got.messages.map((m: { content: string }) => m.content).sort(), [...want].sort());
        // the create's event, then one per append, numbered 1..n+1 without a gap or a repeat
        assert.deepEqual(
          await events(conv),
          Array.from({ length: want.length + 1 }, (_, i) => i + 1),
        );
      }
      const after = await groupedCommits(server.url);
      assert.ok(after > before, `some commits held several writes (${before} before, ${after} after)`);
    });

    test('a write that fails inside a group fails alone; the others commit', async () => {
      const audit = (id: string): AuditEvent => ({
        id,
        workspaceId,
        actorKeyId: null,
        action: 'test.group',
        targetType: 'test',
        targetId: id,
        counts: {},
        createdAt: 1,
      });
      const tag = `g${Date.now().toString(36)}`;
      await store.transact(workspaceId, (w) => w.audit.insert(audit(`${tag}-taken`)));
      groups.length = 0;
      // started in one turn of the event loop: they share one transaction
      const outcomes = await Promise.allSettled([
        store.transact(workspaceId, (w) => w.audit.insert(audit(`${tag}-a`))),
        store.transact(workspaceId, async (w) => {
          await w.audit.insert(audit(`${tag}-thrown`));
          throw new Error('boom');
        }),
        store.transact(workspaceId, (w) => w.audit.insert(audit(`${tag}-b`))),
        store.transact(workspaceId, async (w) => {
          await w.audit.insert(audit(`${tag}-dup`));
          await w.audit.insert(audit(`${tag}-taken`)); // primary key taken: a constraint error
        }),
        store.transact(workspaceId, async (w) => {
          // appending an event to a conversation that does not exist
          const seq = await w.events.append({
            conversationId: 'conv_missing',
            type: 'message.created',
            payload: '{}',
            createdAt: 1,
          });
          await w.audit.insert(audit(`${tag}-orphan`));
          if (seq === null) throw new Error('no such conversation');
        }),
        store.transact(workspaceId, (w) => w.audit.insert(audit(`${tag}-c`))),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(groups, [6], 'the six writes ran in one transaction');
      const kept = await store.read(workspaceId, (r) =>
        r.audit.list({ action: 'test.group', order: 'asc', limit: 100 }),
      );
      assert.deepEqual(
        kept.map((e) => e.id).filter((id) => id.startsWith(tag)),
        [`${tag}-a`, `${tag}-b`, `${tag}-c`, `${tag}-taken`],
        'the failed writes left nothing, the others are there',
      );
    });

    test('an Idempotency-Key retried within a group lands once', async () => {
      const conv = (await api.post('/v1/conversations', {})).body.data.id as string;
      const key = `gc-${Date.now()}`;
      const send = (content: string, idem?: string) =>
        api.post(
          `/v1/conversations/${conv}/messages`,
          { role: 'user', content },
          idem ? { 'idempotency-key': idem } : undefined,
        );
      // the same keyed request three times among other appends, all at once
      const replies = await Promise.all([
        send('keyed', key),
        send('other 1'),
        send('keyed', key),
        send('other 2'),
        send('keyed', key),
      ]);
      const keyed = [replies[0], replies[2], replies[4]].map((r) => r?.status);
      assert.equal(keyed.filter((s) => s === 201).length >= 1, true, `keyed: ${keyed.join(',')}`);
      for (const s of keyed) assert.ok(s === 201 || s === 409, `keyed: ${keyed.join(',')}`);
      // retried after: the stored answer
      const again = await send('keyed', key);
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      const created = replies.filter((r, i) => i % 2 === 0 && r?.status === 201).map((r) => r?.body.data.id);
      for (const id of created) assert.equal(id, again.body.data.id, 'every 201 is the one stored answer');
      const got = (await api.get(`/v1/conversations/${conv}?limit=100`)).body.data;
      assert.deepEqual(got.messages.map((m: { content: string }) => m.content).sort(), ['keyed', 'other 1', 'other 2']);
      assert.equal(got.message_count, 3);
    });
  });
}
