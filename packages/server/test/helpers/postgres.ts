import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';

/**
 * A fresh, uniquely named database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), so
 * suites can run in parallel. PARLEY_TEST_PG_URL overrides the admin connection. When the server is
 * missing the test fails with a clear message: it never skips.
 */
export const ADMIN_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T>(fn: (c: pg.Client, url: string) => Promise<T>): Promise<T> {
  const candidates = [ADMIN_URL];
  if (!process.env.PARLEY_TEST_PG_URL) candidates.push(`postgres://${os.userInfo().username}@127.0.0.1:5432/postgres`);
  let last: unknown;
  for (const url of candidates) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await c.connect();
    } catch (err) {
      last = err;
      await c.end().catch(() => undefined);
      continue;
    }
    try {
      return await fn(c, url);
    } finally {
      await c.end();
    }
  }
  const e = last as { message?: string; code?: string; errors?: Array<{ message?: string }> };
  const why = e?.message || e?.errors?.[0]?.message || e?.code || String(last);
  throw new Error(
    `PostgreSQL engine requested (PARLEY_TEST_ENGINES) but PostgreSQL is unreachable at ${candidates.join(' or ')}: ${why}. ` +
      'Start it (e.g. pg_ctlcluster 15 main start) or run with PARLEY_TEST_ENGINES=sqlite.',
  );
}

export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `parley_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const base = await admin(async (c, url) => {
    await c.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
    return new URL(url);
  });
  base.pathname = `/${name}`;
  return {
    url: base.toString(),
    drop: async () => {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
