import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

for (const engine of testEngines()) {
  describe(`bounded totals [${engine}]`, () => {
    let server: TestServer;
    let wsId: string;

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      wsId = ws.id;
      for (let i = 0; i < 3; i++) {
        const r = await ws.admin.post('/v1/conversations', {
          context: { contact_id: 'c1' },
          messages: [{ role: 'user', content: `walrus report ${i}` }],
        });
        assert.equal(r.status, 201);
      }
    });
    after(async () => server.close());

    test('a total past its cap stops there and says it is not exact (search and context filters)', async () => {
      for (const filter of [{ search: 'walrus' }, { contactId: 'c1' }]) {
        const total = (cap: number) =>
          server.parley.store.read(wsId, (r) => r.conversations.total({ archived: 'exclude', ...filter }, cap));
        const capped = await total(2);
        assert.deepEqual(capped, { total: 2, exact: false }, JSON.stringify(filter));
        const whole = await total(3);
        assert.deepEqual(whole, { total: 3, exact: true }, JSON.stringify(filter));
      }
    });
  });
}
