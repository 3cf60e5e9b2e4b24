/**
 * node --import tsx bench/erase-profile.ts make DIR          (once: DIR/template.db)
 * node --import tsx bench/erase-profile.ts run DIR [B|adaptive]
 *
 * Where a SQLite bulk erase's CPU goes, in-process, without HTTP: `make` builds the bulk-delete
 * scenario's data (bench/lifecycle.ts: a 2,000-conversation base, then 10,000 generated
 * conversations, ~100 k messages, bulk-loaded into the same workspace) into DIR/template.db;
 * `run` copies it and erases the 10,000 through the store's own path (hide them as the bulk
 * delete does, 1,000 per transaction, then `eraseConversations`-sized transactions of `deleteMany`:
 * B conversations each, or EraseBatch's adaptive size), timing every statement (better-sqlite3's
 * run/all wrapped) and the process CPU of the erase.
 *   PGSZ=N        set FTS5 pgsz on both tables of the copy before the run (segments keep theirs
 *                 until rewritten: REBUILD=1 rebuilds both indexes first, untimed)
 *   SECDEL=0      PRAGMA secure_delete = OFF for the run
 *   AUTOCKPT=N    PRAGMA wal_autocheckpoint = N for the run (0: none; the store's 30 s timer still truncates)
 *   KEEP=1        keep the copy and its WAL (exit without closing), to read the WAL's frames
 *   SORT=id       erase in id order (ULIDs: creation order) instead of the generator's (= rowid order)
 *   CACHE=N       PRAGMA cache_size = N for the run
 *   WALL=1        adaptive: size by wall time (EraseBatch before this branch) instead of thread CPU
 *   COMPACT=cpu|wall  then run the full-text compaction to its end (wall: slices sized by wall time)
 *   TOP=N         statements listed (default 14)
 *   CALLGRIND=1   print nothing but the totals (for valgrind runs)
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { EraseBatch } from '../packages/server/src/services/erase.js';
import { openStore } from '../packages/server/src/store/open.js';
import type { SqliteStore } from '../packages/server/src/store/sqlite/index.js';
import { rebuildSqliteSearch } from '../packages/server/src/store/sqlite/search.js';
import { generateInto, loadConversations, prepareBase } from './lib/lifecycle-data.js';

const [mode, dir, arg] = process.argv.slice(2);
if (!dir || (mode !== 'make' && mode !== 'run')) {
  console.error('usage: erase-profile.ts make|run DIR [B|adaptive]');
  process.exit(2);
}
const template = path.join(dir, 'template.db');

if (mode === 'make') {
  mkdirSync(dir, { recursive: true });
  const base = await prepareBase('sqlite', 2000);
  const convs = generateInto(base.workspaceId, 10_000, 100_000, 1);
  await loadConversations(base.databaseUrl, convs);
  const file = base.databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  const raw = new BetterSqlite3(file);
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
  copyFileSync(file, template);
  const ids = convs.map((c) => c.id);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(dir, 'ids.json'), JSON.stringify({ ws: base.workspaceId, ids }));
  console.log(`template ${template}: ${ids.length} conversations to erase`);
  process.exit(0);
}

const { readFileSync } = await import('node:fs');
const { ws, ids: given } = JSON.parse(readFileSync(path.join(dir, 'ids.json'), 'utf8')) as {
  ws: string;
  ids: string[];
};
const ids = process.env.SORT === 'id' ? [...given].sort() : given;
const WALL = process.env.WALL === '1';
const file = path.join(dir, `run-${process.pid}.db`);
copyFileSync(template, file);
if (process.env.PGSZ || process.env.REBUILD) {
  const raw = new BetterSqlite3(file);
  for (const t of ['message_idx', 'title_idx']) {
    if (process.env.PGSZ) raw.exec(`INSERT INTO ${t} (${t}, rank) VALUES ('pgsz', ${Number(process.env.PGSZ)})`);
  }
  if (process.env.REBUILD) rebuildSqliteSearch(raw);
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}

// every statement's time, by its text
const byText = new Map<string, { ms: number; cpu: number; n: number }>();
const proto = BetterSqlite3.prototype as unknown as { prepare: (s: string) => BetterSqlite3.Statement };
const prepare0 = proto.prepare;
let timing = false;
proto.prepare = function (this: BetterSqlite3.Database, text: string) {
  const stmt = prepare0.call(this, text);
  const key = text
    .replace(/\s+/g, ' ')
    .replace(/\?(, \?)+/g, '?…')
    .slice(0, 120);
  for (const m of ['run', 'all', 'get'] as const) {
    const f = (stmt as unknown as Record<string, (...a: unknown[]) => unknown>)[m] as (...a: unknown[]) => unknown;
    (stmt as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      if (!timing) return f.apply(stmt, a);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        return f.apply(stmt, a);
      } finally {
        const c = process.cpuUsage(c0);
        const e = byText.get(key) ?? { ms: 0, cpu: 0, n: 0 };
        e.cpu += (c.user + c.system) / 1000;
        e.ms += performance.now() - t0;
        e.n++;
        byText.set(key, e);
      }
    };
  }
  return stmt;
};

const store = (await openStore({ databaseUrl: `sqlite:${file}` })) as SqliteStore;
if (process.env.SECDEL === '0') store.raw.pragma('secure_delete = OFF');
if (process.env.CACHE) store.raw.pragma(`cache_size = ${Number(process.env.CACHE)}`);
if (process.env.AUTOCKPT) store.raw.pragma(`wal_autocheckpoint = ${Number(process.env.AUTOCKPT)}`);
const now = Date.now();
for (let i = 0; i < ids.length; i += 1000) {
  await store.transact(ws, (w) => w.conversations.hide(ids.slice(i, i + 1000), 'erasing', now, now));
}
store.checkpoint();

const fixed = arg && arg !== 'adaptive' ? Number(arg) : null;
const batch = EraseBatch.for({ store });
const holds: number[] = [];
/** Each transaction's CPU on this thread, ms. */
const cpus: number[] = [];
timing = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let next = 0; next < ids.length; ) {
  const part = ids.slice(next, next + (fixed ?? batch.size));
  let began = 0;
  const tc0 = process.threadCpuUsage();
  await store.transact(ws, (w) => {
    began = performance.now();
    batch.begin();
    return w.conversations.deleteMany(part);
  });
  let held: number;
  if (WALL) {
    held = performance.now() - began;
    batch.took(held, part.length);
  } else held = batch.end(part.length);
  holds.push(held);
  const tc = process.threadCpuUsage(tc0);
  cpus.push((tc.user + tc.system) / 1000);
  next += part.length;
}
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
timing = false;
holds.sort((a, b) => a - b);
cpus.sort((a, b) => a - b);
const qc = (p: number) => cpus[Math.min(cpus.length - 1, Math.floor(p * cpus.length))]?.toFixed(1);
const q = (p: number) => holds[Math.min(holds.length - 1, Math.floor(p * holds.length))]?.toFixed(1);
console.log(
  `erase of ${ids.length}: ${holds.length} transactions (${fixed ?? 'adaptive'}), wall ${(wall / 1000).toFixed(2)} s, ` +
    `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, sys ${(cpu.system / 1e6).toFixed(2)}), ` +
    `hold p50 ${q(0.5)} / p99 ${q(0.99)} / max ${holds[holds.length - 1]?.toFixed(1)} ms, ` +
    `CPU per transaction p50 ${qc(0.5)} / p99 ${qc(0.99)} / max ${cpus[cpus.length - 1]?.toFixed(1)} ms`,
);
if (!process.env.CALLGRIND) {
  const rows = [...byText.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 14));
  console.log('   wall ms   CPU ms   runs  statement');
  for (const [k, v] of rows)
    console.log(`${v.ms.toFixed(0).padStart(9)} ${v.cpu.toFixed(0).padStart(8)} ${String(v.n).padStart(6)}  ${k}`);
  const { statSync } = await import('node:fs');
  if (existsSync(`${file}-wal`)) console.log(`WAL at the end: ${(statSync(`${file}-wal`).size / 1e6).toFixed(1)} MB`);
}
if (process.env.COMPACT) {
  // the background compaction's whole run after the erase; COMPACT=wall sizes its slices by wall
  // time as before this branch (the thread's CPU clock replaced by the wall clock)
  if (process.env.COMPACT === 'wall') {
    const t = () => performance.now() * 1000;
    process.threadCpuUsage = (() => ({ user: t(), system: 0 })) as typeof process.threadCpuUsage;
  }
  let slices = 0;
  let maxHeld = 0;
  store.compaction.observe((e) => {
    if (e.kind === 'slice') {
      slices++;
      maxHeld = Math.max(maxHeld, e.ms);
    }
  });
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await store.compaction.runNow();
  const c = process.cpuUsage(c0);
  console.log(
    `compaction (${process.env.COMPACT}): wall ${((performance.now() - w0) / 1000).toFixed(2)} s, ` +
      `CPU ${((c.user + c.system) / 1e6).toFixed(2)} s, ${slices} slices, longest ${maxHeld.toFixed(0)} ms`,
  );
}
if (process.env.KEEP) {
  console.log(`kept ${file} (WAL not checkpointed)`);
  process.exit(0);
}
await store.close();
for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) rmSync(f);
