/**
 * Datasets for the scale scenarios, built by `parley seed-data`'s own code and cached: SQLite
 * under bench/.data/ keyed by engine+size+seed, PostgreSQL in a dedicated database
 * `parley_bench_<size>` reused when complete. API keys (one per workspace) are kept next to them
 * in bench/.data/<key>.json: a key's secret is shown once, so it is stored with the data it opens.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { startProgress } from '../../packages/server/src/cli/progress.js';
import { systemClock } from '../../packages/server/src/clock.js';
import { SeedGenerator, type SeedOptions } from '../../packages/server/src/seed/generator.js';
import { seedData } from '../../packages/server/src/seed/run.js';
import { KeysService } from '../../packages/server/src/services/keys.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { PG_DEFAULTS } from '../../packages/server/src/store/postgres/index.js';
import { pgAdmin, databaseUrl as pgDatabaseUrl } from './pg-admin.js';

/** Bulk loads on a loaded machine can be starved mid-transaction past the default idle-in-transaction cut-off (10 s). */
const LONG_PG = { ...PG_DEFAULTS, statementTimeoutMs: 120_000 };

const dataDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '.data');

export const SIZES = {
  '1m': { workspaces: 10, conversations: 100_000, messages: 1_000_000 },
  '100k': { workspaces: 10, conversations: 10_000, messages: 100_000 },
  quick: { workspaces: 4, conversations: 1_000, messages: 10_000 },
} as const;
export type SizeName = keyof typeof SIZES;

export interface ScaleDataset {
  engine: 'sqlite' | 'postgres';
  size: SizeName;
  databaseUrl: string;
  opts: SeedOptions;
  /** Workspace ids, largest first (the generator's skew puts the biggest first). */
  workspaces: string[];
  conversationsPerWorkspace: number[];
  keys: Record<string, string>;
  seedReport: unknown;
}

function dbTag(): string {
  const tag = process.env.PARLEY_BENCH_DB_TAG ?? '';
  if (!/^[a-z0-9_]*$/.test(tag)) throw new Error('PARLEY_BENCH_DB_TAG: lower-case letters, digits and _ only');
  return tag === '' ? '' : `_${tag}`;
}

export async function prepareScale(engine: 'sqlite' | 'postgres', size: SizeName, seed = 1): Promise<ScaleDataset> {
  const ds = await prepareCached(engine, size, { ...SIZES[size], seed, now: Date.UTC(2026, 10, 1) });
  return { ...ds, size };
}

/**
 * A generated dataset (`opts`), built once by the bulk loader and cached under `name`: SQLite in
 * bench/.data/<engine>-<name>-seed<seed>.db, PostgreSQL in database parley_bench_<name>[_s<seed>]
 * (`name` must be a valid identifier part). Rebuilt when a load was cut short.
 */
export async function prepareCached(
  engine: 'sqlite' | 'postgres',
  name: string,
  opts: SeedOptions,
): Promise<Omit<ScaleDataset, 'size'>> {
  mkdirSync(dataDir, { recursive: true });
  const seed = opts.seed;
  const key = `${engine}-${name}-seed${seed}`;
  const metaFile = path.join(dataDir, `${key}.json`);
  const plan = new SeedGenerator(opts);
  const expected = plan.plan.reduce((a, b) => a + b, 0);
  let databaseUrl: string;
  if (engine === 'sqlite') databaseUrl = `sqlite:${path.join(dataDir, `${key}.db`)}`;
  // PARLEY_BENCH_DB_TAG keeps several checkouts sharing one PostgreSQL server off each other's data
  else databaseUrl = pgDatabaseUrl(`parley_bench_${name}${seed === 1 ? '' : `_s${seed}`}${dbTag()}`);
  // complete = every generated conversation is there (a load cut short is rebuilt)
  const complete = async (): Promise<boolean> => {
    if (engine === 'sqlite') {
      if (!existsSync(databaseUrl.slice('sqlite:'.length))) return false;
    } else {
      const name = new URL(databaseUrl).pathname.slice(1);
      const exists = await pgAdmin((c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]));
      if (exists.rowCount === 0) return false;
    }
    const store = await openStore({ databaseUrl, pg: LONG_PG });
    try {
      const n = await countConversations(store);
      return n >= expected;
    } finally {
      await store.close();
    }
  };
  let seedReport: unknown = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')).seedReport : null;
  if (!(await complete())) {
    process.stderr.write(`building ${key} (${opts.messages.toLocaleString('en')} messages)…\n`);
    if (engine === 'sqlite') {
      const file = databaseUrl.slice('sqlite:'.length);
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    } else {
      const name = new URL(databaseUrl).pathname.slice(1);
      await pgAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
      });
    }
    rmSync(metaFile, { force: true });
    const store = await openStore({ databaseUrl, pg: LONG_PG });
    try {
      const bar = startProgress({ unit: 'messages', total: opts.messages, enabled: opts.messages >= 100_000 });
      try {
        // the bulk loader refreshes the statistics when it finishes
        seedReport = await seedData(store, opts, { onProgress: (done, total) => bar.update(done, total) });
      } finally {
        bar.stop();
      }
    } finally {
      await store.close();
    }
  }
  if (engine === 'postgres') await vacuumOnce(databaseUrl);
  let keys: Record<string, string> = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')).keys : {};
  if (Object.keys(keys).length !== plan.workspaceIds.length) {
    keys = {};
    const store = await openStore({ databaseUrl, pg: LONG_PG });
    try {
      const svc = new KeysService({ store, clock: systemClock });
      for (const ws of plan.workspaceIds) {
        const k = await store.transact(ws, (w) =>
          svc.insert(w, { name: 'bench', scopes: ['read:ai', 'write:ai'], rateLimit: 100_000_000 }),
        );
        keys[ws] = k.secret;
      }
    } finally {
      await store.close();
    }
    writeFileSync(metaFile, `${JSON.stringify({ key, opts, keys, seedReport }, null, 2)}\n`);
  }
  return {
    engine,
    databaseUrl,
    opts,
    workspaces: plan.workspaceIds,
    conversationsPerWorkspace: plan.plan,
    keys,
    seedReport,
  };
}

/**
 * A set built before seed-data's loader ended with VACUUM (ANALYZE) has no page marked all-visible:
 * where autovacuum is off (as on the shared bench server) every search then re-checks row
 * visibility and dirties pages on first read. Vacuumed once, as a fresh build now is.
 */
async function vacuumOnce(databaseUrl: string): Promise<void> {
  const { default: pgLib } = await import('pg');
  const c = new pgLib.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query<{ v: number }>(`SELECT relallvisible AS v FROM pg_class WHERE relname = 'messages'`);
    if (Number(r.rows[0]?.v ?? 0) > 0) return;
    process.stderr.write('vacuuming the cached set once (built before seed-data vacuumed)…\n');
    const started = Date.now();
    await c.query('VACUUM (ANALYZE)');
    process.stderr.write(`vacuumed in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    await c.end();
  }
}

async function countConversations(store: Awaited<ReturnType<typeof openStore>>): Promise<number> {
  if (store.engine === 'sqlite') {
    const raw = (store as unknown as { raw: import('better-sqlite3').Database }).raw;
    return Number((raw.prepare('SELECT count(*) AS n FROM conversations').get() as { n: number }).n);
  }
  const pool = (store as unknown as { pool: pg.Pool }).pool;
  return Number((await pool.query('SELECT count(*) AS n FROM conversations')).rows[0].n);
}
