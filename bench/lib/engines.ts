/**
 * The HTTP scenarios' engines: each prepares a fresh database filled by `parley seed-data`'s own
 * generator and bulk loader (one workspace, conversations of ~4 messages on average), a read key,
 * and names the servers that run on it: Parley variants and the peers doing the same work more simply.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../packages/server/src/clock.js';
import { SeedGenerator, type SeedOptions } from '../../packages/server/src/seed/generator.js';
import { seedData } from '../../packages/server/src/seed/run.js';
import { KeysService } from '../../packages/server/src/services/keys.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { PG_DEFAULTS } from '../../packages/server/src/store/postgres/index.js';
import { freshDatabase } from './pg-admin.js';

/** Same as Parley's default pool (PARLEY_PG_POOL_SIZE); the PostgreSQL peers use it too. */
export const BENCH_PG_POOL = 10;

export interface Dataset {
  engine: string;
  databaseUrl: string;
  workspaceId: string;
  /** A read:ai key of that workspace (its own rate limit set high, so the limiter runs but never refuses). */
  apiKey: string;
  conversationIds: string[];
  conversations: number;
  messages: number;
  drop(): Promise<void>;
}

export interface TargetDef {
  name: string;
  kind: 'parley' | 'peer';
  /** Script under bench/ forked as the server; it answers the `ready` IPC message with its URL. */
  script: string;
  options: Record<string, unknown>;
}

export interface EngineDef {
  name: 'sqlite' | 'postgres';
  prepare(conversations: number): Promise<Dataset>;
  /** Parley variants and peers on this engine's data; the first Parley one is the one judged. */
  targets(ds: Dataset): TargetDef[];
  /** Per scenario, per peer: the goal for the judged Parley's ratio, by server CPU per request (peer / Parley). */
  cpuGoals: Record<string, Record<string, number>>;
  /** Per scenario, per peer: a goal by throughput (Parley / peer), where there is one. */
  throughputGoals?: Record<string, Record<string, number>>;
}

/** The data every engine holds: the same generator options, so the same rows. */
export function datasetOptions(conversations: number): SeedOptions {
  return { workspaces: 1, conversations, messages: conversations * 4, seed: 42, now: Date.UTC(2026, 10, 1) };
}

async function fill(databaseUrl: string, conversations: number) {
  const opts = datasetOptions(conversations);
  const plan = new SeedGenerator(opts);
  const workspaceId = plan.workspaceIds[0] as string;
  // as for the scale datasets: on a loaded machine a bulk load's transaction can sit idle past the
  // default idle-in-transaction cut-off (twice the statement timeout) while its generator threads wait for a core
  const store = await openStore({ databaseUrl, pg: { ...PG_DEFAULTS, statementTimeoutMs: 120_000 } });
  try {
    const started = Date.now();
    const seeded = await seedData(store, opts);
    const keys = new KeysService({ store, clock: systemClock });
    const key = await store.transact(workspaceId, (w) =>
      keys.insert(w, { name: 'bench reader', scopes: ['read:ai'], rateLimit: 10_000_000 }),
    );
    const conversationIds = [...new SeedGenerator(opts).conversations()].map((c) => c.id);
    process.stderr.write(
      `prepared ${seeded.conversations} conversations, ${seeded.messages} messages (${store.engine}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return { workspaceId, apiKey: key.secret, conversationIds, messages: seeded.messages };
  } finally {
    await store.close();
  }
}

/** Parley as deployed (logs silent), then with info logs into /dev/null (so producing them is measured). */
function parleyTargets(ds: Dataset): TargetDef[] {
  return (['silent', 'info-devnull'] as const).map((log) => ({
    name: log === 'silent' ? 'parley' : 'parley-info',
    kind: 'parley' as const,
    script: 'servers/parley.ts',
    options: { databaseUrl: ds.databaseUrl, log },
  }));
}

export const sqliteEngine: EngineDef = {
  name: 'sqlite',
  async prepare(conversations) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
    const databaseUrl = `sqlite:${path.join(dir, 'parley.db')}`;
    const filled = await fill(databaseUrl, conversations);
    return {
      engine: 'sqlite',
      databaseUrl,
      conversations,
      ...filled,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  targets: (ds) => [
    ...parleyTargets(ds),
    { name: 'node-http', kind: 'peer', script: 'servers/peer-sqlite.ts', options: { databaseUrl: ds.databaseUrl } },
    // informational: the same work on a bare Fastify, the floor of any Fastify app doing it
    {
      name: 'fastify',
      kind: 'peer',
      script: 'servers/peer-sqlite.ts',
      options: { databaseUrl: ds.databaseUrl, framework: 'fastify' },
    },
  ],
  cpuGoals: { get: { 'node-http': 0.85 }, list: { 'node-http': 0.8 } },
};

export const postgresEngine: EngineDef = {
  name: 'postgres',
  async prepare(conversations) {
    const fresh = await freshDatabase();
    try {
      const filled = await fill(fresh.url, conversations);
      return { engine: 'postgres', databaseUrl: fresh.url, conversations, ...filled, drop: fresh.drop };
    } catch (err) {
      await fresh.drop().catch(() => undefined);
      throw err;
    }
  },
  targets: (ds) => [
    ...parleyTargets(ds),
    {
      name: 'node-http',
      kind: 'peer',
      script: 'servers/peer-pg.ts',
      options: { databaseUrl: ds.databaseUrl, framework: 'node-http', poolSize: BENCH_PG_POOL },
    },
    {
      name: 'express',
      kind: 'peer',
      script: 'servers/peer-pg.ts',
      options: { databaseUrl: ds.databaseUrl, framework: 'express', poolSize: BENCH_PG_POOL },
    },
  ],
  cpuGoals: { get: { 'node-http': 0.8 }, list: { 'node-http': 0.75 } },
  // an ordinary Express app is the floor: Parley serves at least 1.5x its throughput
  throughputGoals: { get: { express: 1.5 }, list: { express: 1.5 } },
};

export const ENGINES: EngineDef[] = [sqliteEngine, postgresEngine];
