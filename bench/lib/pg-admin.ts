import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL, as an administrator (PARLEY_BENCH_PG_URL overrides). */
export const PG_ADMIN_URL = process.env.PARLEY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => undefined);
    throw new Error(`the PostgreSQL benchmarks need a server at ${PG_ADMIN_URL}: ${(err as Error).message}`);
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The URL of database `name` on the admin connection's server. */
export function databaseUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, uniquely named database for one run, and how to drop it. */
export async function freshDatabase(prefix = 'parley_bench'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`));
  return {
    url: databaseUrl(name),
    drop: async () => {
      await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
