/**
 * PostgreSQL search A/B through the store (no HTTP): the 40 bench terms, rotating over the
 * workspaces and in the largest, with SearchIndex.windowTotal off (the total counted on its own,
 * then the page) and on (searchPage counts from the ranked rows), alternating, a warm-up round not
 * kept. Per mode and part: wall p50/p95, PostgreSQL backend CPU per search (/proc of this
 * database's backends: run it on the server's machine) and shared blocks hit/read per search
 * (pg_stat_database). Usage: node --import tsx bench/search-ab.ts <postgres-url> [rounds]
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { SEARCH_TOTAL_CAP } from '../packages/server/src/services/conversations.js';
import { openStore } from '../packages/server/src/store/open.js';
import { searchTerms } from './lib/scale-scenarios.js';

const url = process.argv[2] as string;
const rounds = Number(process.argv[3] ?? 3);
const modes = (process.env.MODES ?? 'old,new').split(',');
const dbname = new URL(url).pathname.slice(1);
const store = await openStore({ databaseUrl: url, pg: { statementTimeoutMs: 30_000 } }, { migrate: false });
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const wss: string[] = (
  await admin.query(`SELECT workspace_id w FROM conversations GROUP BY 1 ORDER BY count(*) DESC`)
).rows.map((r) => r.w);
const terms = searchTerms(40).map((t) => t.term);
const tick = Number(process.env.CLK_TCK ?? 100);
async function backendCpu(): Promise<number> {
  const r = await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [
    dbname,
  ]);
  let t = 0;
  for (const { pid } of r.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      t += (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      // a backend that ended between the two reads
    }
  }
  return t;
}
async function blocks(): Promise<[number, number]> {
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const r = await admin.query(`SELECT blks_hit h, blks_read r FROM pg_stat_database WHERE datname = $1`, [dbname]);
  return [Number(r.rows[0].h), Number(r.rows[0].r)];
}
const pct = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const out: Record<
  string,
  Record<string, { p50: number[]; p95: number[]; cpuMs: number[]; hit: number[]; read: number[] }>
> = {};
// warm up the pool (10 backends) and both paths once, not kept
for (let round = 0; round <= rounds; round++) {
  const order = round % 2 === 0 ? modes : [...modes].reverse();
  for (const mode of order) {
    (store as unknown as { searchIndex: { windowTotal: boolean } }).searchIndex.windowTotal = mode === 'new';
    for (const part of ['rot', 'big']) {
      const lat: number[] = [];
      const c0 = await backendCpu();
      const b0 = await blocks();
      for (let i = 0; i < terms.length; i++) {
        const ws = part === 'big' ? wss[0]! : wss[i % wss.length]!;
        const t0 = performance.now();
        await store.read(ws, (r) =>
          r.conversations.searchPage(
            { archived: 'exclude', search: terms[i]!, orderBy: 'relevance', order: 'asc', limit: 21 },
            SEARCH_TOTAL_CAP,
          ),
        );
        lat.push(performance.now() - t0);
      }
      await new Promise((r) => setTimeout(r, 600)); // stats flush
      const c1 = await backendCpu();
      const b1 = await blocks();
      if (round === 0) continue;
      out[mode] ??= {};
      const byPart = out[mode];
      byPart[part] ??= { p50: [], p95: [], cpuMs: [], hit: [], read: [] };
      const o = byPart[part];
      o.p50.push(pct(lat, 50));
      o.p95.push(pct(lat, 95));
      o.cpuMs.push(((c1 - c0) * 1000) / terms.length);
      o.hit.push((b1[0] - b0[0]) / terms.length);
      o.read.push((b1[1] - b0[1]) / terms.length);
      console.log(
        `round ${round} ${mode} ${part}: p50 ${pct(lat, 50).toFixed(1)} p95 ${pct(lat, 95).toFixed(1)} ms; pg cpu ${(((c1 - c0) * 1000) / terms.length).toFixed(1)} ms/search; blocks hit ${((b1[0] - b0[0]) / terms.length).toFixed(0)} read ${((b1[1] - b0[1]) / terms.length).toFixed(0)} per search`,
      );
    }
  }
}
const med = (a: number[]) => pct(a, 50);
for (const [mode, parts] of Object.entries(out))
  for (const [part, o] of Object.entries(parts))
    console.log(
      `MEDIAN ${mode} ${part}: p50 ${med(o.p50).toFixed(1)} p95 ${med(o.p95).toFixed(1)} ms; pg cpu ${med(o.cpuMs).toFixed(1)} ms/search; hit ${med(o.hit).toFixed(0)} read ${med(o.read).toFixed(0)}`,
    );
await admin.end();
await store.close();
