import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '@parley/sdk';
import { Client, testEngines } from './helpers/harness.js';
import { freshPostgresDatabase } from './helpers/postgres.js';
import { bootstrapKey, type ParleyProcess, spawnParley } from './helpers/processes.js';
import { Receiver, until } from './helpers/receiver.js';

/**
 * `parley serve` killed (SIGKILL) while its deliveries are in flight, then started again on the
 * same database: every committed event still reaches the receiver (at least once).
 */
for (const engine of testEngines()) {
  describe(`webhook delivery across a crash (${engine})`, () => {
    let dir: string;
    let db: { url: string; drop: () => Promise<void> };
    let rx: Receiver;
    const procs: ParleyProcess[] = [];

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'parley-hooks-'));
      db =
        engine === 'postgres'
          ? await freshPostgresDatabase()
          : { url: `sqlite:${path.join(dir, 'parley.db')}`, drop: async () => {} };
      rx = await new Receiver().start();
    });
    after(async () => {
      for (const p of procs) await p.stop();
      await rx?.close();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('kill -9 mid-delivery, restart: every event delivered at least once, each signature valid', async () => {
      const env = {
        PARLEY_DATABASE_URL: db.url,
        PARLEY_WEBHOOKS_ALLOW_PRIVATE: 'true',
        PARLEY_WEBHOOKS_TIMEOUT_MS: '2000',
        PARLEY_WEBHOOKS_POLL_MS: '100',
      };
      const first = await spawnParley(env);
      procs.push(first);
      // the first-start banner is printed once the listener is up: wait for it
      await until(() => /^ {4}\S+$/m.test(first.output()), 'the first-start banner');
      const instance = new Client(first.url, bootstrapKey(first.output()));
      const ws = await instance.post('/v1/workspaces', { name: 'crash' });
      assert.equal(ws.status, 201, ws.text);
      const secretKey = ws.body.data.secret as string;
      const admin = new Client(first.url, secretKey);
      const hook = await admin.post('/v1/webhooks', { url: rx.url, events: ['conversation.created'] });
      assert.equal(hook.status, 201, hook.text);
      const signing = hook.body.data.secret as string;

      // the receiver holds every request open: the deliveries are in flight when the server dies
      rx.respond = () => 'hang';
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const c = await admin.post('/v1/conversations', { title: `c${i}` });
        assert.equal(c.status, 201, c.text);
        created.push(c.body.data.id);
      }
      await until(() => rx.got.length >= 1, 'a delivery in flight');
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));

      rx.respond = () => 200;
      const second = await spawnParley({ ...env, PARLEY_BOOTSTRAP: 'false' });
      procs.push(second);
      const seen = () =>
        new Set(
          rx.got.map((g) => JSON.parse(g.body).data.conversation.id as string).filter((id) => created.includes(id)),
        );
      await until(() => seen().size === created.length, 'every event after the restart', 60_000);
      for (const g of rx.got) await verifyWebhook(signing, g.headers as never, g.body);
      const log = await new Client(second.url, secretKey).get(`/v1/webhooks/${hook.body.data.webhook.id}/deliveries`);
      assert.equal(log.status, 200);
      await until(
        async () =>
          (
            await new Client(second.url, secretKey).get(`/v1/webhooks/${hook.body.data.webhook.id}/deliveries`)
          ).body.data.every((d: { state: string }) => d.state === 'delivered'),
        'every delivery recorded as delivered',
        30_000,
      );
    });
  });
}
