/**
 * node --import tsx bench/delete-trace.ts [N]
 *
 * Traces DELETE /v1/conversations/{id} of 1,000-message + 500-tool conversations on PostgreSQL (the
 * delete-big scenario's rows, in the cached quick dataset; set PARLEY_BENCH_DB_TAG as for the bench):
 * every statement the in-process server sends, in order, with its client-side time (send -> result)
 * and its backend pid, then wall p50 and this process's CPU per delete (server and client).
 *   N             conversations made and deleted (default 5)
 *   LOAD_ONLY=1   only make them and print {db, ws, ids} as JSON; IDS=FILE deletes those instead
 *   WARM=K        the first K deletes are a warm-up: figures, profile and thread CPU count the rest
 *   QUIET=1       no per-statement trace; THREADS=1 CPU ticks per thread; PROF=FILE a V8 CPU profile
 *   SQLW=N        statement text shown (default 110 characters)
 *   GET_PATHS=P   GET P (with {id} replaced) instead of the delete: what a read runs
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import pg from 'pg';
import { loadConfig } from '../packages/server/src/config.js';
import { createLogger } from '../packages/server/src/log.js';
import { createParley } from '../packages/server/src/parley.js';
import { openBulkLoader } from '../packages/server/src/seed/bulk-load.js';
import { openStore } from '../packages/server/src/store/open.js';
import { prepareScale } from './lib/scale-datasets.js';
import { bigConversation } from './lib/scale-scenarios.js';

const n = Number(process.argv[2] ?? 5);
const ds = await prepareScale('postgres', 'quick');
const ws = ds.workspaces[0] as string;
const key = ds.keys[ws] as string;

const trace: Array<{ sql: string; ms: number }> = [];
let tracing = false;
const orig = pg.Client.prototype.query as (...a: unknown[]) => unknown;
pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
  const last = args[args.length - 1];
  if (tracing && typeof last === 'function') {
    // pool.query's callback form (the hot reads' direct path)
    const t0 = performance.now();
    const q = args[0];
    const text0 = typeof q === 'string' ? q : ((q as { text?: string })?.text ?? String(q));
    const text = `[${(this as { processID?: number }).processID}] ${text0}`;
    args[args.length - 1] = (...r: unknown[]) => {
      trace.push({
        sql: text.replace(/\s+/g, ' ').slice(0, Number(process.env.SQLW ?? 110)),
        ms: performance.now() - t0,
      });
      return (last as (...a: unknown[]) => unknown)(...r);
    };
  }
  const res = orig.apply(this, args);
  if (tracing && res && typeof (res as Promise<unknown>).then === 'function') {
    const t0 = performance.now();
    const q = args[0];
    const text0 = typeof q === 'string' ? q : ((q as { text?: string })?.text ?? String(q));
    const text = `[${(this as { processID?: number }).processID}] ${text0}`;
    (res as Promise<unknown>).then(
      () =>
        trace.push({
          sql: text.replace(/\s+/g, ' ').slice(0, Number(process.env.SQLW ?? 110)),
          ms: performance.now() - t0,
        }),
      () => trace.push({ sql: `FAILED ${text.slice(0, 100)}`, ms: performance.now() - t0 }),
    );
  }
  return res;
} as typeof pg.Client.prototype.query;

const config = loadConfig(
  {},
  {
    http: { host: '127.0.0.1', port: 0 },
    database: { dataDir: '/tmp', url: ds.databaseUrl },
    log: { level: 'silent' },
    lifecycle: { bootstrap: false },
  },
);
const parley = await createParley(config, { logger: createLogger({ level: 'silent' }) });
const url = await parley.start();
let convs: Array<{ id: string }>;
if (process.env.IDS) convs = (JSON.parse(readFileSync(process.env.IDS, 'utf8')).ids as string[]).map((id) => ({ id }));
else {
  const store = await openStore({ databaseUrl: ds.databaseUrl });
  const made = Array.from({ length: n }, (_, i) => bigConversation(ws, 1000, 500, (Date.now() % 1_000_000) + i));
  const loader = await openBulkLoader(store, { deferIndexes: false });
  await loader.write(made);
  await loader.finish();
  await store.close();
  convs = made;
}
if (process.env.LOAD_ONLY) {
  console.log(JSON.stringify({ db: ds.databaseUrl, ws, ids: convs.map((c) => c.id) }));
  await parley.close();
  process.exit(0);
}
const quiet = process.env.QUIET === '1';
// PROF=FILE: a V8 CPU profile of the delete loop only (this process: the server and the client)
const session = process.env.PROF ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  if (!process.env.WARM) await session.post('Profiler.start');
}
const threads = (): Map<string, number> => {
  const m = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const name = readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    m.set(`${t} ${name}`, Number(f[11]) + Number(f[12]));
  }
  return m;
};
const th0 = threads();
const cpu0 = process.cpuUsage();
const walls: number[] = [];
const warm = Number(process.env.WARM ?? 0);
let done = 0;
let th1 = th0;
let cpu1 = cpu0;
for (const c of convs) {
  if (done++ === warm && warm > 0) {
    th1 = threads();
    cpu1 = process.cpuUsage();
    walls.length = 0;
    if (session) await session.post('Profiler.start');
  }
  trace.length = 0;
  tracing = true;
  const t0 = performance.now();
  // GET_PATHS=a,b: GET those paths instead (what a read runs), each once per id given
  const res = process.env.GET_PATHS
    ? await fetch(`${url}${process.env.GET_PATHS.replace('{id}', c.id)}`, {
        headers: { authorization: `Bearer ${key}` },
      })
    : await fetch(`${url}/v1/conversations/${c.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
  if (process.env.GET_PATHS) await res.arrayBuffer();
  const wall = performance.now() - t0;
  tracing = false;
  walls.push(wall);
  await new Promise((r) => setTimeout(r, 20));
  if (quiet) continue;
  console.log(`\nDELETE ${res.status} wall ${wall.toFixed(2)} ms, ${trace.length} statements`);
  for (const t of trace) console.log(`  ${t.ms.toFixed(2).padStart(7)}  ${t.sql}`);
}
const cpu = process.cpuUsage(cpu1);
if (process.env.THREADS) {
  for (const [k, v] of threads()) {
    const d = v - (th1.get(k) ?? 0);
    if (d > 0) console.log(`  thread ${k}: ${d} ticks`);
  }
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.env.PROF as string, JSON.stringify(profile));
}
walls.sort((a, b) => a - b);
console.log(
  `${convs.length - warm} deletes (after ${warm} warm-up): wall p50 ${walls[Math.floor(walls.length / 2)]?.toFixed(2)} ms (min ${walls[0]?.toFixed(2)}), process CPU ${((cpu.user + cpu.system) / 1000 / (convs.length - warm)).toFixed(2)} ms per delete (client + server in this process)`,
);
await parley.close();
