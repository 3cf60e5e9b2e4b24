import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { openStore } from '../src/store/open.js';
import { testEngines } from './helpers/harness.js';
import { freshPostgresDatabase } from './helpers/postgres.js';

/**
 * Closing a PostgreSQL store lets go of every connection, whichever way the store was used. Kysely
 * ends the pool only when it took a connection from it itself, so a store used only through the
 * pool (`parley migrate`) kept one idle connection, and the CLI's process with it, for the pool's
 * 30 s idle timeout: every `parley migrate` on PostgreSQL took ~33 s to exit.
 */
if (testEngines().includes('postgres')) {
  describe('closing a PostgreSQL store', () => {
    for (const use of ['migrate only', 'a read', 'a transaction'] as const) {
      test(`after ${use}, no connection of the store is left on the server`, async () => {
        const db = await freshPostgresDatabase();
        const name = `parley-close-${process.pid}-${use.replace(/\W/g, '')}`;
        const url = new URL(db.url);
        url.searchParams.set('application_name', name);
        const probe = new pg.Client({ connectionString: db.url });
        await probe.connect();
        try {
          const open = async () =>
            Number(
              (
                await probe.query<{ n: string }>(
                  'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
                  [name],
                )
              ).rows[0]?.n,
            );
          const store = await openStore({ databaseUrl: url.toString(), pg: { poolSize: 1 } }, { migrate: false });
          await store.migrate();
          if (use === 'a read') assert.equal(await store.instance.countWorkspaces(), 0);
          if (use === 'a transaction') await store.transact('ws_none', async () => undefined);
          assert.equal(await open(), 1, 'the store holds its connection before close');
          await store.close();
          // the backend leaves pg_stat_activity a moment after the client's Terminate: a bounded
          // wait far below the pool's idle timeout, which is what kept it before
          let left = await open();
          for (let i = 0; i < 50 && left > 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
            left = await open();
          }
          assert.equal(left, 0, 'connections left after close()');
        } finally {
          await probe.end();
          await db.drop();
        }
      });
    }
  });
}
