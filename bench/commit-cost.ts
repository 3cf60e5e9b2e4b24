/**
 * The SQLite side of an append, without HTTP: what one commit per write costs against one commit
 * per group, and what the FTS5 options do to it. Runs on a copy of the cached 1 M dataset
 * (bench/.data/sqlite-1m-seed1.db, built by `npm run bench -- --scenario append --engine sqlite`).
 *
 *   node --import tsx bench/commit-cost.ts COPY.db [ops] [reps]
 *
 * Each op is the append peer's SQL (bench/lib/scale-ops.ts appendOp): an idempotency claim, then
 * the write (conversation row, message, its full-text row, counters and event seq, event,
 * idempotency answer). Modes: `single` (claim and write each their own transaction, as Parley
 * runs without group commit), `group8` (8 claims in one transaction, then their 8 writes in
 * the next, each in a SAVEPOINT: what group commit does with 8 concurrent requests), `group8-nosp`
 * (the same without savepoints). FTS5 variants: defaults, `automerge`, `crisismerge`. Then the
 * prefix index (`prefix=`) on a 100 k-message sample: insert cost and last-word prefix queries.
 * Figures: CPU µs per append (process user + system), median over reps, alternating.
 */
import Database from 'better-sqlite3';
import { openSqlite } from '../packages/server/src/store/sqlite/index.js';
import { taggedBody, workspaceTag } from '../packages/server/src/store/sqlite/search.js';

const file = process.argv[2] as string;
const ops = Number(process.argv[3] ?? 2000);
const reps = Number(process.argv[4] ?? 3);
// SYNC=FULL: fsync at every commit (Parley runs NORMAL: under WAL a commit is durable across a
// process crash without an fsync; FULL shows what grouping saves where every commit is fsynced)
const sync = process.env.SYNC === 'FULL' ? 'FULL' : 'NORMAL';
const db = openSqlite(file, sync);
const only = process.env.VARIANTS?.split(',');
const ws = db.prepare('SELECT rowid AS r, id FROM workspaces ORDER BY rowid LIMIT 1').get() as {
  r: number;
  id: string;
};
const tag = workspaceTag(ws.r);
const convs = db
  .prepare('SELECT rowid AS r, id FROM conversations WHERE workspace_id = ? ORDER BY updated_at DESC LIMIT 50')
  .all(ws.id) as Array<{ r: number; id: string }>;
const content = 'Appended during the benchmark: please confirm the renewal invoice for the quarter.';
const body = taggedBody(tag, content);

const claim = db.prepare(
  `INSERT INTO idempotency_records (workspace_id, idem_key, fingerprint, state, status_code, response_body,
     created_at, locked_until) VALUES (?, ?, 'fp', 'running', NULL, NULL, ?, ?) ON CONFLICT DO NOTHING`,
);
const loadConv = db.prepare('SELECT rowid AS r, message_count FROM conversations WHERE workspace_id = ? AND id = ?');
const insMsg = db.prepare(
  `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
   VALUES (?, ?, ?, 'assistant', ?, '{}', ?) RETURNING rowid AS r`,
);
const insIdx = db.prepare('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)');
const bump = db.prepare(
  `UPDATE conversations SET message_count = message_count + 1, updated_at = ?, last_message_at = ?,
     event_seq = event_seq + 1 WHERE workspace_id = ? AND id = ? RETURNING event_seq`,
);
const insEvent = db.prepare(
  `INSERT INTO conversation_events (workspace_id, conversation_id, seq, type, payload, created_at)
   VALUES (?, ?, ?, 'message.created', ?, ?)`,
);
const done = db.prepare(
  `UPDATE idempotency_records SET state = 'done', status_code = 201, response_body = ? WHERE workspace_id = ? AND idem_key = ?`,
);

let counter = 0;
const nextKey = () => `cc${process.pid}-${++counter}`;
function claimOne(key: string): void {
  const now = Date.now();
  claim.run(ws.id, key, now, now + 60_000);
}
function writeOne(key: string, i: number): void {
  const c = convs[i % convs.length] as { r: number; id: string };
  const now = Date.now();
  loadConv.get(ws.id, c.id);
  const id = `msg_cc${process.pid}_${counter}_${i}`;
  const m = insMsg.get(ws.id, c.id, id, content, now) as { r: number };
  insIdx.run(m.r, c.r, body);
  const seq = (bump.get(now, now, ws.id, c.id) as { event_seq: number }).event_seq;
  const payload = JSON.stringify({ id, conversation_id: c.id, role: 'assistant', content });
  insEvent.run(ws.id, c.id, seq, payload, now);
  done.run(JSON.stringify({ data: payload }), ws.id, key);
}

type Mode = 'single' | 'group8' | 'group8-nosp';
function runMode(mode: Mode, n: number): void {
  if (mode === 'single') {
    for (let i = 0; i < n; i++) {
      const key = nextKey();
      claimOne(key);
      db.exec('BEGIN IMMEDIATE');
      writeOne(key, i);
      db.exec('COMMIT');
    }
    return;
  }
  const sp = mode === 'group8';
  for (let i = 0; i < n; i += 8) {
    const keys = Array.from({ length: 8 }, nextKey);
    db.exec('BEGIN IMMEDIATE');
    for (const k of keys) {
      if (sp) db.exec('SAVEPOINT w');
      claimOne(k);
      if (sp) db.exec('RELEASE w');
    }
    db.exec('COMMIT');
    db.exec('BEGIN IMMEDIATE');
    keys.forEach((k, j) => {
      if (sp) db.exec('SAVEPOINT w');
      writeOne(k, i + j);
      if (sp) db.exec('RELEASE w');
    });
    db.exec('COMMIT');
  }
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const segments = () => (db.prepare('SELECT count(*) AS n FROM message_idx_data').get() as { n: number }).n;

const variants: Array<{ name: string; set: () => void }> = [
  { name: 'fts5 defaults', set: () => {} },
  { name: 'automerge=8', set: () => db.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('automerge', 8)`) },
  {
    name: 'automerge=16',
    set: () => db.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('automerge', 16)`),
  },
  {
    name: 'crisismerge=64',
    set: () => db.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('crisismerge', 64)`),
  },
];
if (only) variants.splice(0, variants.length, ...variants.filter((v) => only.includes(v.name)));
const reset = () => {
  db.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('automerge', 4)`);
  db.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('crisismerge', 16)`);
};
const modes: Mode[] = ['single', 'group8', 'group8-nosp'];
const results: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
runMode('single', 200); // warm the caches
for (let r = 0; r < reps; r++) {
  const order = r % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      reset();
      v.set();
      const key = `${v.name} / ${mode}`;
      const c0 = cpuUs();
      const t0 = performance.now();
      runMode(mode, ops);
      const cpu = (cpuUs() - c0) / ops;
      const ms = performance.now() - t0;
      results[key] = [...(results[key] ?? []), cpu];
      wall[key] = [...(wall[key] ?? []), (ops / ms) * 1000];
    }
  }
}
reset();
console.log(`synchronous=${sync}, ${ops} appends per mode and round`);
console.log(`| variant / mode | CPU µs per append (median of ${reps}) | per round | appends/s (median) |`);
console.log('|---|---:|---|---:|');
for (const [k, xs] of Object.entries(results)) {
  console.log(
    `| ${k} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} | ${median(wall[k] as number[]).toFixed(0)} |`,
  );
}
console.log(`message_idx_data rows after: ${segments()}`);

if (process.env.SKIP_PREFIX) process.exit(0);
// ---- prefix index: a sample of messages into two fresh tables, with and without prefix= ----
const sample = db
  .prepare('SELECT content FROM messages WHERE workspace_id = ? LIMIT 100000')
  .all(ws.id)
  .map((r) => taggedBody(tag, (r as { content: string }).content));
const mem = new Database(':memory:');
const opts = `content = '', contentless_delete = 1, tokenize = "ascii tokenchars '_'"`;
mem.exec(`CREATE VIRTUAL TABLE plain USING fts5(body, ${opts})`);
mem.exec(`CREATE VIRTUAL TABLE pre USING fts5(body, ${opts}, prefix = '3 4 5')`);
const load = (t: string) => {
  const ins = mem.prepare(`INSERT INTO ${t} (rowid, body) VALUES (?, ?)`);
  const c0 = cpuUs();
  mem.transaction(() => {
    for (let i = 0; i < sample.length; i++) ins.run(i + 1, sample[i] as string);
  })();
  const c1 = cpuUs();
  // one row at a time, each its own transaction: the append path
  const c2 = cpuUs();
  for (let i = 0; i < 2000; i++) {
    mem.exec('BEGIN');
    ins.run(sample.length + i + 1, sample[i] as string);
    mem.exec('COMMIT');
  }
  return { bulkUsPerRow: (c1 - c0) / sample.length, appendUs: (cpuUs() - c2) / 2000 };
};
const lp = load('plain');
const lpre = load('pre');
console.log(
  `prefix index, ${sample.length} messages: bulk insert µs/row plain ${lp.bulkUsPerRow.toFixed(1)}, prefix='3 4 5' ${lpre.bulkUsPerRow.toFixed(1)};`,
);
console.log(`  one-row transactions µs/row plain ${lp.appendUs.toFixed(0)}, prefix ${lpre.appendUs.toFixed(0)}`);
for (const p of ['c', 'co', 'con', 'pl', 'inv', 're']) {
  const q = `"${tag}_${p}"*`;
  const time = (t: string) => {
    const stmt = mem.prepare(`SELECT rowid FROM ${t} WHERE ${t} MATCH ? ORDER BY bm25(${t}) LIMIT 50`);
    stmt.all(q);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) stmt.all(q);
    return (performance.now() - t0) / 5;
  };
  console.log(`  prefix "${p}": plain ${time('plain').toFixed(2)} ms, with prefix index ${time('pre').toFixed(2)} ms`);
}
// detail=column / none cannot answer phrase queries (quoted phrases, CJK runs): fts5Query builds them
mem.exec(`CREATE VIRTUAL TABLE col USING fts5(body, ${opts}, detail = column)`);
mem.prepare('INSERT INTO col (rowid, body) VALUES (1, ?)').run(`${tag}_new ${tag}_york`);
try {
  mem.prepare('SELECT rowid FROM col WHERE col MATCH ?').all(`"${tag}_new ${tag}_york"`);
  console.log('detail=column: phrase query answered');
} catch (err) {
  console.log(`detail=column: phrase query refused: ${(err as Error).message}`);
}
db.close();
