import type { Config } from '../config.js';
import { createPostgresStore, migratePostgres } from '../store/postgres/index.js';
import { migrateSqlite, openSqlite, sqlitePath } from '../store/sqlite/index.js';

/** `parley migrate`: applies the database's pending migrations and says which version it is at. */
export async function migrate(config: Config): Promise<void> {
  if (!config.databaseUrl.startsWith('sqlite:')) {
    const store = await createPostgresStore(config.databaseUrl, {
      migrate: false,
      settings: { poolSize: 1, connectTimeoutMs: config.pgConnectTimeoutMs, statementTimeoutMs: 600_000 },
    });
    try {
      const report = await migratePostgres(store.pool);
      for (const m of report.applied) process.stdout.write(`applied ${m.version}: ${m.name}\n`);
      process.stdout.write(`schema at version ${report.current}\n`);
    } finally {
      await store.close();
    }
    return;
  }
  const raw = openSqlite(sqlitePath(config.databaseUrl));
  try {
    const report = migrateSqlite(raw);
    for (const m of report.applied) process.stdout.write(`applied ${m.version}: ${m.name}\n`);
    process.stdout.write(`schema at version ${report.current}\n`);
  } finally {
    raw.close();
  }
}
