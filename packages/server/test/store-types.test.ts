import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Conversation } from '../src/domain/types.js';
import type { InstanceReader, Store, WorkspaceReader, WorkspaceWriter } from '../src/store/types.js';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

// Writes exist only on a writer handed out by store.transact: `npm run typecheck` compiles this
// file, and each @ts-expect-error fails the typecheck the day the line below it compiles.

export function writesDoNotCompileOutsideATransaction(
  store: Store,
  r: WorkspaceReader,
  i: InstanceReader,
  c: Conversation,
): void {
  // @ts-expect-error the root store has no writes
  void store.insertConversation(c);
  // @ts-expect-error nor the old transaction entry point
  void store.transaction(async () => undefined);
  // @ts-expect-error a reader's conversations have no insert
  void r.conversations.insert(c);
  // @ts-expect-error nor update
  void r.conversations.update(c.id, { updatedAt: 0 });
  // @ts-expect-error a reader's messages cannot be deleted
  void r.messages.delete(c.id, 'msg', 0);
  const record = {
    key: 'k',
    fingerprint: 'f',
    state: 'running' as const,
    statusCode: null,
    responseBody: null,
    createdAt: 0,
    lockedUntil: 0,
  };
  // @ts-expect-error a reader cannot claim an idempotency key
  void r.idempotency.claim(record);
  const event = { conversationId: c.id, type: 'message.created', payload: '{}', createdAt: 0 };
  // @ts-expect-error a reader cannot append to the event log
  void r.events.append(event);
  // @ts-expect-error the instance reader creates no workspace
  void i.insertWorkspace({ id: 'w', name: 'n', createdAt: 0 });
  // @ts-expect-error a read handle is not a writer
  const w: WorkspaceWriter = r;
  void w;
  // @ts-expect-error reads and writes take no workspace id: it is bound when the handle is made
  void store.read(c.workspaceId, (reader) => reader.conversations.get(c.workspaceId, c.id));
}

/** A writer is usable where a reader is expected: the writer type extends the reader. */
export function aWriterReads(w: WorkspaceWriter): WorkspaceReader {
  return w;
}

for (const engine of testEngines()) {
  describe(`store handles [${engine}]`, () => {
    let server: TestServer;
    let workspaceId: string;
    before(async () => {
      server = await startServer(engine);
      workspaceId = (await newWorkspace(server, 'handles')).id;
    });
    after(async () => server.close());

    test('a reader has no write methods at run time either, and is bound to its workspace', async () => {
      await server.parley.store.read(workspaceId, async (r) => {
        assert.equal(r.workspaceId, workspaceId);
        const conversations = r.conversations as unknown as Record<string, unknown>;
        for (const write of ['insert', 'update', 'delete', 'touch']) {
          assert.equal(typeof conversations[write], 'undefined', `reader.conversations.${write}`);
        }
        assert.equal(typeof (r.messages as unknown as Record<string, unknown>).insert, 'undefined');
        assert.equal(typeof (r.events as unknown as Record<string, unknown>).append, 'undefined');
      });
      const writes = await server.parley.store.transact(workspaceId, async (w) => typeof w.conversations.insert);
      assert.equal(writes, 'function');
    });

    test('a writer refuses an object of another workspace', async () => {
      const now = server.clock.now();
      const foreign: Conversation = {
        id: 'c_foreign',
        workspaceId: server.defaultWorkspaceId,
        userId: null,
        botId: null,
        title: null,
        titleSource: null,
        context: {},
        metadata: {},
        archived: false,
        messageCount: 0,
        toolInvocationCount: 0,
        lastMessageAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await assert.rejects(
        server.parley.store.transact(workspaceId, (w) => w.conversations.insert(foreign)),
        /given to a writer of/,
      );
    });
  });
}
