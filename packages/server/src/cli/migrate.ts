import type { Config } from '../config.js';
import { openStore } from '../store/open.js';

/** `parley migrate`: applies the database's pending migrations and says which version it is at. */
export async function migrate(config: Config): Promise<void> {
  // one connection, and a statement timeout no long migration hits
  const store = await openStore(
    {
      databaseUrl: config.database.url,
      pg: { poolSize: 1, connectTimeoutMs: config.pg.connectTimeoutMs, statementTimeoutMs: 600_000 },
    },
    { migrate: false },
  );
  try {
    const report = await store.migrate();
    for (const m of report.applied) process.stdout.write(`applied ${m.version}: ${m.name}\n`);
    process.stdout.write(`schema at version ${report.current}\n`);
  } finally {
    await store.close();
  }
}
