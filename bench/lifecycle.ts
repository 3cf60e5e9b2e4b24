/**
 * The data-lifecycle scenarios of issue 13, each against a peer in the same rounds:
 * - bulk-delete: N conversations (10 k, ~100 k messages) deleted through POST
 *   /v1/conversations/bulk-delete, 1,000 ids a call, while a paced load of GETs on other
 *   conversations runs; peer: the same rows deleted by bare SQL (bench/lib/lifecycle-ops.ts) under
 *   the same GET load; and the GET load alone (the baseline). The rows are bulk-loaded, untimed,
 *   before each turn; after it the workspace must hold exactly what it held before (answer check).
 * - export: a one-workspace dataset (1 M messages) as JSONL through GET /v1/export?format=jsonl
 *   against a bare node:http server streaming the same rows; messages/s and the server's RSS
 *   growth (VmRSS from /proc sampled every 20 ms); both streams must carry the same records in the
 *   same order (types and ids hashed, the first messages compared whole).
 * - erase: a user of N conversations (10 k) erased through POST /v1/users/{id}/erase, the job
 *   polled to its end (no peer: the goal is absolute, <= 5 s).
 * - secure-delete (SQLite): DELETE of a 1,000-message conversation by Parley as shipped vs the
 *   same Parley with erasure off (a bench-only server setting, bench/servers/parley.ts), each on
 *   its own copy of the data.
 * - erase: POST /v1/users/{user_id}/erase of a user who owns N conversations (10 k, ~100 k
 *   messages), the job polled to its end (its closing VACUUM on PostgreSQL included); the rows are
 *   bulk-loaded, untimed, before each turn, and afterwards the workspace must hold what it held
 *   before. No peer in the run: the bulk-delete scenario's bare SQL is the floor of the same erase.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool, request } from 'undici';
import { systemClock } from '../packages/server/src/clock.js';
import { KeysService } from '../packages/server/src/services/keys.js';
import { openStore } from '../packages/server/src/store/open.js';
import {
  alternate,
  assertSameAnswers,
  cpuSeconds,
  fmt,
  LOAD_CORE,
  median,
  nextMessage,
  percentile,
  pin,
  pinningNote,
  type ReportSink,
  type RoundRow,
  ratio,
  report,
  SERVER_CORE,
  type Server,
  spread,
  startServer,
  stop,
  summarise,
  type Verdict,
  verdict,
} from './harness.js';
import {
  type BaseDataset,
  copySqlite,
  type EngineName,
  EXPORT_SIZES,
  type ExportSize,
  generateInto,
  holdings,
  insertKey,
  loadConversations,
  prepareBase,
  prepareExport,
} from './lib/lifecycle-data.js';
import { pgBackends, pgCpuSince, pgDatabaseName } from './lib/pg-cpu.js';
import { type Db, openDb } from './lib/scale-ops.js';
import { bigConversation } from './lib/scale-scenarios.js';

/** The request timeout (and socket idle timeout) of the scenarios' Parley servers: a 1,000-id bulk delete can outlast the default 30 s on a loaded machine. */
const LONG_MS = 600_000;

/**
 * Parley as the lifecycle scenarios run it: silent logs, long request and statement timeouts
 * (LONG_MS), and (SQLite) the full-text compaction after every burst of erasures: each turn times
 * the compaction that follows its delete, which the default interval (at most one run per 10
 * minutes after the first) would hold back for up to 10 minutes a round.
 */
const startParley = (databaseUrl: string, extra: { jobPollMs?: number } = {}) =>
  startServer('parley', 'parley', 'servers/parley.ts', {
    databaseUrl,
    log: 'silent',
    requestTimeoutMs: LONG_MS,
    pgStatementTimeoutMs: 60_000,
    ftsCompactionIntervalS: 0,
    ...extra,
  });

export const LIFECYCLE_SCENARIOS = ['bulk-delete', 'export', 'secure-delete', 'erase'] as const;
export type LifecycleScenario = (typeof LIFECYCLE_SCENARIOS)[number];

export interface LifecycleSettings {
  quick: boolean;
  rounds: number;
  /** Conversations deleted per bulk-delete turn (~10 messages each). */
  deleteConversations: number;
  /** GETs per second of the concurrent load, over `getConnections` connections. */
  getRate: number;
  getConnections: number;
  exportSize: ExportSize;
  /** Messages of the conversation the secure-delete scenario deletes, and deletes per turn. */
  bigMessages: number;
  bigPerTurn: number;
}

export function lifecycleSettings(
  quick: boolean,
  o: { size?: string; rounds?: string; conversations?: string },
): LifecycleSettings {
  const rounds = Number(o.rounds ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive whole number');
  const exportSize = (o.size ?? (quick ? 'quick' : '1m')) as ExportSize;
  if (!(exportSize in EXPORT_SIZES))
    throw new Error(`--size for export: one of ${Object.keys(EXPORT_SIZES).join(', ')}`);
  const deleteConversations = Number(o.conversations ?? (quick ? 2000 : 10_000));
  if (!Number.isInteger(deleteConversations) || deleteConversations < 1)
    throw new Error('--conversations must be a positive whole number');
  return {
    quick,
    rounds,
    deleteConversations,
    getRate: 200,
    getConnections: 4,
    exportSize,
    bigMessages: quick ? 200 : 1000,
    bigPerTurn: quick ? 2 : 5,
  };
}

// ---- the paced GET load ----------------------------------------------------------------------

/**
 * GET /v1/conversations/{id} at a fixed rate over a few connections, each request sent at its
 * scheduled time (or at once when late); latency is counted from the scheduled time, so a stalled
 * server shows in the figures instead of slowing the load (no coordinated omission).
 */
function getLoad(url: string, key: string, ids: readonly string[], rate: number, connections: number) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const latencies: number[] = [];
  let failure: string | null = null;
  let running = true;
  const interval = (1000 * connections) / rate;
  const start = performance.now();
  let n = 0;
  const loop = async (c: number) => {
    let due = start + (c * interval) / connections;
    while (running) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!running) break;
      const id = ids[n++ % ids.length] as string;
      const res = await pool
        .request({ method: 'GET', path: `/v1/conversations/${id}`, headers: { authorization: `Bearer ${key}` } })
        .catch((err: Error) => {
          failure ??= `GET ${id}: ${err.message}`;
          return null;
        });
      if (res === null) break;
      await res.body.text();
      latencies.push(performance.now() - due);
      if (res.statusCode !== 200) failure ??= `GET ${id}: ${res.statusCode}`;
      due += interval;
    }
  };
  const loops = Array.from({ length: connections }, (_, c) => loop(c));
  // the latencies since the last cut (a phase of the turn: the delete, then the compaction after it)
  const cut = () => {
    const sorted = Float64Array.from(latencies.splice(0)).sort();
    return {
      count: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    };
  };
  return {
    cut,
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      if (failure) throw new Error(failure);
      return cut();
    },
  };
}

// ---- the full-text compaction after a delete (SQLite) --------------------------------------------

/** Tombstone pages of an FTS5 table sit at rowids >= 2^53 of its `_data` table (store/sqlite/compaction.ts). */
const TOMBSTONES_LEFT = `SELECT EXISTS (SELECT 1 FROM message_idx_data WHERE id >= 9007199254740992)
  OR EXISTS (SELECT 1 FROM title_idx_data WHERE id >= 9007199254740992) AS t`;

async function tombstonesLeft(db: Db): Promise<boolean> {
  return Number((await db.all(TOMBSTONES_LEFT, []))[0]?.t ?? 0) === 1;
}

/** Whether the server runs the background full-text compaction (a Parley without it — main before it — never clears tombstones). */
async function compacts(url: string): Promise<boolean> {
  const res = await request(`${url}/metrics`);
  return (await res.body.text()).includes('parley_fts_compaction_active');
}

/**
 * Waits until Parley's compaction left no tombstone (polling the database; SQLite only), at most
 * `limitMs`: the seconds from the call (the delete's end) to then, or NaN when it has none.
 */
async function awaitCompaction(db: Db, enabled: boolean, limitMs = 600_000): Promise<number> {
  if (db.engine !== 'sqlite' || !enabled) return Number.NaN;
  const t0 = performance.now();
  while (await tombstonesLeft(db)) {
    if (performance.now() - t0 > limitMs) throw new Error(`tombstones still there after ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (performance.now() - t0) / 1000;
}

/** The bench merges tombstones a peer's delete left (untimed), so every turn starts from an index without them. */
async function mergeTombstones(db: Db): Promise<void> {
  if (db.engine !== 'sqlite') return;
  while (await tombstonesLeft(db)) {
    await db.run(`INSERT INTO message_idx (message_idx, rank) VALUES ('merge', -2000)`, []);
    await db.run(`INSERT INTO title_idx (title_idx, rank) VALUES ('merge', -2000)`, []);
  }
}

// ---- bulk-delete -----------------------------------------------------------------------------

async function postJson(url: string, path: string, key: string, body: unknown, status = 200): Promise<unknown> {
  const res = await request(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== status) throw new Error(`${res.statusCode} POST ${path}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function runBulkDelete(engine: EngineName, s: LifecycleSettings, sink: ReportSink): Promise<Verdict[]> {
  const base = await prepareBase(engine, s.quick ? 500 : 2000);
  const db = openDb(base.databaseUrl);
  const pgDb = pgDatabaseName(base.databaseUrl);
  const parley = await startParley(base.databaseUrl);
  const peer = await startServer('bare-sql', 'peer', 'servers/peer-lifecycle.ts', { databaseUrl: base.databaseUrl });
  const baselineMs = s.quick ? 1000 : 3000;
  try {
    const compacting = await compacts(parley.url);
    const before = await holdings(db, base.workspaceId);
    let seed = 1000;
    const loaded: number[] = [];
    const targets = [
      { name: 'parley', kind: 'parley' as const },
      { name: 'bare-sql', kind: 'peer' as const },
      { name: 'no-delete', kind: 'peer' as const },
    ];
    const rows = await alternate(
      targets,
      { rounds: s.rounds, warmups: 1, label: `${engine} bulk-delete` },
      async (t, round) => {
        let ids: string[] = [];
        if (t.name !== 'no-delete') {
          // the warm-up round deletes a tenth: it warms the same code for less of a shared machine's time
          const n = round < 1 ? Math.max(1, Math.ceil(s.deleteConversations / 10)) : s.deleteConversations;
          const convs = generateInto(base.workspaceId, n, n * 10, ++seed);
          loaded.push(convs.reduce((a, c) => a + c.messages.length, 0));
          await loadConversations(base.databaseUrl, convs);
          ids = convs.map((c) => c.id);
          await new Promise((r) => setTimeout(r, 500));
        }
        const parleyCpu0 = cpuSeconds(parley.child.pid);
        const peerCpu0 = cpuSeconds(peer.child.pid);
        const pg0 = pgDb ? pgBackends(pgDb) : null;
        const load = getLoad(parley.url, base.apiKey, base.conversationIds, s.getRate, s.getConnections);
        const t0 = performance.now();
        if (t.name === 'parley') {
          for (let i = 0; i < ids.length; i += 1000) {
            const chunk = ids.slice(i, i + 1000);
            const r = (await postJson(parley.url, '/v1/conversations/bulk-delete', base.writeKey, { ids: chunk })) as {
              meta?: { deleted?: number };
              data?: Array<{ status: string }>;
            };
            const deleted = r.data?.filter((x) => x.status === 'deleted').length ?? 0;
            if (deleted !== chunk.length) throw new Error(`bulk-delete deleted ${deleted} of ${chunk.length}`);
          }
        } else if (t.name === 'bare-sql') {
          const done = nextMessage<{ ms: number }>(peer.child, 'bulk-delete-done');
          peer.child.send({ type: 'bulk-delete', ws: base.workspaceId, ids, chunk: 1000 });
          await done;
        } else {
          await new Promise((r) => setTimeout(r, baselineMs));
        }
        const durationMs = performance.now() - t0;
        const gets = load.cut();
        const parleyCpuS = cpuSeconds(parley.child.pid) - parleyCpu0;
        const peerCpuS = cpuSeconds(peer.child.pid) - peerCpu0;
        // after Parley's delete, its background compaction (the GET load still running); after the
        // bare delete, the bench merges the tombstones itself, untimed
        const compactS = t.name === 'parley' ? await awaitCompaction(db, compacting) : Number.NaN;
        const compactCpuS = cpuSeconds(parley.child.pid) - parleyCpu0 - parleyCpuS;
        const during = await load.stop();
        if (t.name === 'bare-sql' || (t.name === 'parley' && !compacting)) await mergeTombstones(db);
        const pgCpuS = pgDb && pg0 ? pgCpuSince(pgDb, pg0) : Number.NaN;
        if (t.name !== 'no-delete') {
          // the answer check: whichever side deleted, the workspace holds what it held before
          assertSameAnswers(`the workspace after ${t.name}'s delete`, [
            { target: 'before', data: before },
            { target: t.name, data: await holdings(db, base.workspaceId) },
          ]);
        }
        return {
          ops: t.name === 'no-delete' ? gets.count : ids.length,
          durationMs,
          figures: {
            seconds: durationMs / 1000,
            getP50: gets.p50,
            getP99: gets.p99,
            getMax: gets.max,
            gets: gets.count,
            parleyCpuS,
            peerCpuS,
            compactS,
            compactCpuS: Number.isNaN(compactS) ? Number.NaN : compactCpuS,
            compactGetP99: Number.isNaN(compactS) ? Number.NaN : during.p99,
            pgCpuS,
          },
        };
      },
    );
    return reportBulkDelete(engine, s, sink, rows, { before, loaded: Math.max(...loaded) });
  } finally {
    await Promise.all([stop(parley.child), stop(peer.child)]);
    await db.close();
    await base.drop();
  }
}

const fig = (rows: readonly RoundRow[], target: string, k: string) =>
  rows.filter((r) => r.target === target).map((r) => r.figures?.[k] ?? Number.NaN);

/** The compaction after Parley's deletes (SQLite with it; none on PostgreSQL or a Parley without it). */
function compactionVerdicts(rows: readonly RoundRow[], target = 'parley'): Verdict[] {
  const secs = fig(rows, target, 'compactS').filter((x) => !Number.isNaN(x));
  if (secs.length === 0) return [];
  const cpu = spread(fig(rows, target, 'compactCpuS').filter((x) => !Number.isNaN(x)));
  const p99 = spread(fig(rows, target, 'compactGetP99').filter((x) => !Number.isNaN(x)));
  const sec = spread(secs);
  return [
    verdict('full-text compaction after the delete: until no tombstone is left (wall)', sec.median, ' s', null, sec),
    verdict('Parley process CPU during that compaction (its GETs included)', cpu.median, ' s', null, cpu),
    verdict('concurrent GET p99 during the compaction', p99.median, ' ms', null, p99),
  ];
}

function reportBulkDelete(
  engine: EngineName,
  s: LifecycleSettings,
  sink: ReportSink,
  rows: RoundRow[],
  data: { before: Record<string, number>; loaded: number },
): Verdict[] {
  const sec = spread(fig(rows, 'parley', 'seconds'));
  const p99 = spread(fig(rows, 'parley', 'getP99'));
  const base99 = spread(fig(rows, 'no-delete', 'getP99'));
  // per round: the CPU of the process that deleted during the delete turn. Parley's also served
  // that turn's GETs (counted in the table), so its figure is an upper bound; the bare delete runs in
  // the peer's process alone. (PostgreSQL: the database server's own processes are not counted.)
  const rounds = [...new Set(rows.map((r) => r.round))];
  const at = (target: string, round: number) => rows.find((x) => x.target === target && x.round === round);
  const f = (r: RoundRow | undefined, k: string) => r?.figures?.[k] ?? Number.NaN;
  const deleteCpu = rounds.map((round) => ({
    parley: f(at('parley', round), 'parleyCpuS'),
    bare: f(at('bare-sql', round), 'peerCpuS'),
  }));
  const parCpu = spread(deleteCpu.map((d) => d.parley));
  // PostgreSQL: the database server's backends of the bench database, per turn (bench/lib/pg-cpu.ts)
  const pgCpu = rounds.map((round) => ({
    parley: f(at('parley', round), 'pgCpuS'),
    bare: f(at('bare-sql', round), 'pgCpuS'),
  }));
  const pgPer = pgCpu.map((d) => d.parley / d.bare);
  const per = rounds.map((round) => f(at('parley', round), 'seconds') / f(at('bare-sql', round), 'seconds'));
  const cpuPer = deleteCpu.map((d) => d.parley / d.bare);
  const goal = { op: '<=' as const, value: engine === 'sqlite' ? 3 : 1 };
  const verdicts = [
    verdict(
      `Parley: ${s.deleteConversations.toLocaleString('en')} conversations deleted in (wall)`,
      sec.median,
      ' s',
      goal,
      sec,
    ),
    verdict(
      `Parley process CPU during the delete, its GETs included${engine === 'sqlite' ? ' (SQLite runs in it)' : ' (the database server’s not counted)'}`,
      parCpu.median,
      ' s',
      engine === 'sqlite' ? goal : null,
      parCpu,
    ),
    verdict('concurrent GET p99 while Parley deletes', p99.median, ' ms', { op: '<=', value: 200 }, p99),
    verdict('GET p99 with no delete running (baseline)', base99.median, ' ms', null, base99),
    ...compactionVerdicts(rows),
    verdict('Parley wall time / bare SQL wall time', median(per), 'x', null, spread(per)),
    verdict('CPU of the deleting process, Parley / bare SQL', median(cpuPer), 'x', null, spread(cpuPer)),
    ...(engine === 'postgres'
      ? [
          verdict(
            'PostgreSQL server CPU during Parley’s delete (its backends of the bench database, GETs included)',
            spread(pgCpu.map((d) => d.parley)).median,
            ' s',
            null,
            spread(pgCpu.map((d) => d.parley)),
          ),
          verdict(
            'PostgreSQL server CPU during the bare SQL delete',
            spread(pgCpu.map((d) => d.bare)).median,
            ' s',
            null,
            spread(pgCpu.map((d) => d.bare)),
          ),
          verdict('PostgreSQL server CPU, Parley / bare SQL', median(pgPer), 'x', null, spread(pgPer)),
        ]
      : []),
  ];
  const sum = summarise(rows);
  report(sink, {
    key: `${engine}:lifecycle-bulk-delete`,
    title: `${engine} / bulk-delete (lifecycle)`,
    description: `${s.deleteConversations.toLocaleString('en')} conversations deleted while GET /v1/conversations/{id} runs at ${s.getRate}/s over ${s.getConnections} connections: Parley's POST /v1/conversations/bulk-delete (1,000 ids a call, one call after another) vs the same rows deleted by bare SQL (1,000 conversations a transaction, set-based DELETEs, counters, audit row; SQLite with secure_delete on like Parley) vs the GET load alone`,
    facts: [
      `Data: a workspace of ${data.before.conversations} conversations / ${data.before.messages} messages (the GET targets); before each delete turn ${s.deleteConversations.toLocaleString('en')} generated conversations (~${Math.round(data.loaded).toLocaleString('en')} messages, with tool invocations) bulk-loaded untimed into the same workspace; after each turn the workspace must hold exactly what it held before (conversations, messages, tool invocations, counter, full-text rows)`,
      `Parley runs with a ${LONG_MS / 1000} s request timeout and (PostgreSQL) a 60 s statement timeout: on the loaded shared machine the defaults (30 s, 5 s) cut a 1,000-id call before it answers`,
      `GET latency counted from each request's scheduled time (a stall shows as latency, not as fewer requests); the baseline runs the same load for ${s.quick ? 1 : 3} s`,
      ...(engine === 'postgres'
        ? [
            'PG CPU: user + system CPU of the PostgreSQL backends serving the bench database over the turn (/proc; autovacuum left out; bench/lib/pg-cpu.ts): the figure a shared machine disturbs least',
          ]
        : []),
      `${s.rounds} measured rounds after a warm-up round (a tenth of the conversations), order flipping each round; ${pinningNote}; the machine is shared with other sessions (load average below): wall times and latencies carry their load, the CPU rows much less`,
    ],
    table: {
      head: [
        'target',
        'seconds',
        'conv/s',
        'GET p50 ms',
        'GET p99 ms',
        'GET max ms',
        'GETs',
        'Parley CPU s',
        'peer CPU s',
        'compaction s',
        'its CPU s',
        'its GET p99 ms',
        ...(engine === 'postgres' ? ['PG CPU s'] : []),
      ],
      rows: sum.map((x) => [
        x.target,
        x.target === 'no-delete' ? '-' : fmt(x.figures.seconds ?? Number.NaN),
        x.target === 'no-delete' ? '-' : fmt(x.perSecond, 0),
        fmt(x.figures.getP50 ?? Number.NaN),
        fmt(x.figures.getP99 ?? Number.NaN),
        fmt(x.figures.getMax ?? Number.NaN),
        fmt(x.figures.gets ?? Number.NaN, 0),
        fmt(x.figures.parleyCpuS ?? Number.NaN),
        fmt(x.figures.peerCpuS ?? Number.NaN),
        fmt(x.figures.compactS ?? Number.NaN),
        fmt(x.figures.compactCpuS ?? Number.NaN),
        fmt(x.figures.compactGetP99 ?? Number.NaN),
        ...(engine === 'postgres' ? [fmt(x.figures.pgCpuS ?? Number.NaN)] : []),
      ]),
    },
    verdicts,
    record: { settings: s, data, rows },
  });
  return verdicts;
}

// ---- erase a user ----------------------------------------------------------------------------

interface JobView {
  state: string;
  error?: unknown;
  result?: { receipt?: { counts?: { conversations?: number } } };
}

/**
 * Erase a user of N conversations (10 k, ~100 k messages): POST /v1/users/{id}/erase, then the job
 * polled every 20 ms (the runner polls every 50 ms); wall from the POST to the job's end (its
 * reclaim included). The user's conversations are bulk-loaded untimed before each turn into a
 * workspace that holds others; after it the workspace must hold exactly what it held before.
 * SQLite: the full-text compaction after the job is timed apart, as in bulk-delete.
 */
async function runErase(engine: EngineName, s: LifecycleSettings, sink: ReportSink): Promise<Verdict[]> {
  const base = await prepareBase(engine, s.quick ? 500 : 2000);
  const db = openDb(base.databaseUrl);
  const admin = await insertKey(base.databaseUrl, base.workspaceId, 'bench admin', ['admin', 'read:ai', 'write:ai']);
  const parley = await startParley(base.databaseUrl, { jobPollMs: 50 });
  try {
    const compacting = await compacts(parley.url);
    const before = await holdings(db, base.workspaceId);
    let seed = 5000;
    const rows = await alternate(
      [{ name: 'parley', kind: 'parley' as const }],
      { rounds: s.rounds, warmups: 1, label: `${engine} erase` },
      async (_t, round) => {
        const n = round < 1 ? Math.max(1, Math.ceil(s.deleteConversations / 10)) : s.deleteConversations;
        const user = `bench-erased-${++seed}`;
        const convs = generateInto(base.workspaceId, n, n * 10, seed).map((c) => ({ ...c, userId: user }));
        await loadConversations(base.databaseUrl, convs);
        await new Promise((r) => setTimeout(r, 500));
        const cpu0 = cpuSeconds(parley.child.pid);
        const t0 = performance.now();
        const started = (await postJson(parley.url, `/v1/users/${user}/erase`, admin, {}, 202)) as {
          data: { id: string };
        };
        let job: JobView;
        for (;;) {
          const res = await request(`${parley.url}/v1/jobs/${started.data.id}`, {
            headers: { authorization: `Bearer ${admin}` },
          });
          job = ((await res.body.json()) as { data: JobView }).data;
          if (job.state !== 'queued' && job.state !== 'running') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const durationMs = performance.now() - t0;
        const parleyCpuS = cpuSeconds(parley.child.pid) - cpu0;
        if (job.state !== 'succeeded') throw new Error(`erase job ${job.state}: ${JSON.stringify(job.error)}`);
        const erased = job.result?.receipt?.counts?.conversations;
        if (erased !== n) throw new Error(`erase job erased ${erased} of ${n} conversations`);
        const compactS = await awaitCompaction(db, compacting);
        const compactCpuS = cpuSeconds(parley.child.pid) - cpu0 - parleyCpuS;
        if (!compacting) await mergeTombstones(db);
        assertSameAnswers(`the workspace after the erase`, [
          { target: 'before', data: before },
          { target: 'parley', data: await holdings(db, base.workspaceId) },
        ]);
        return {
          ops: n,
          durationMs,
          figures: {
            seconds: durationMs / 1000,
            parleyCpuS,
            compactS,
            compactCpuS: Number.isNaN(compactS) ? Number.NaN : compactCpuS,
          },
        };
      },
    );
    const sec = spread(fig(rows, 'parley', 'seconds'));
    const cpu = spread(fig(rows, 'parley', 'parleyCpuS'));
    const secs = fig(rows, 'parley', 'compactS').filter((x) => !Number.isNaN(x));
    const verdicts = [
      verdict(
        `Parley: a user of ${s.deleteConversations.toLocaleString('en')} conversations erased in (wall, POST to job end)`,
        sec.median,
        ' s',
        { op: '<=', value: 5 },
        sec,
      ),
      verdict('Parley process CPU during the erase', cpu.median, ' s', null, cpu),
      ...(secs.length === 0
        ? []
        : [
            verdict(
              'full-text compaction after the job: until no tombstone is left (wall)',
              median(secs),
              ' s',
              null,
              spread(secs),
            ),
            verdict(
              'Parley process CPU during that compaction',
              median(fig(rows, 'parley', 'compactCpuS')),
              ' s',
              null,
              spread(fig(rows, 'parley', 'compactCpuS')),
            ),
          ]),
    ];
    report(sink, {
      key: `${engine}:lifecycle-erase`,
      title: `${engine} / erase (lifecycle)`,
      description: `A user of ${s.deleteConversations.toLocaleString('en')} conversations (~${(s.deleteConversations * 10).toLocaleString('en')} messages) erased: POST /v1/users/{id}/erase, the job polled every 20 ms until it ends (the runner polls every 50 ms)`,
      facts: [
        `Data: a workspace of ${before.conversations} conversations / ${before.messages} messages of other users; before each turn the user's conversations bulk-loaded untimed; after it the workspace must hold exactly what it held before`,
        `${s.rounds} measured rounds after a warm-up round (a tenth of the conversations); the machine is shared with other sessions (load average below)`,
      ],
      table: {
        head: ['round', 'seconds', 'conv/s', 'Parley CPU s', 'compaction s', 'its CPU s'],
        rows: rows.map((x) => [
          String(x.round),
          fmt(x.figures?.seconds ?? Number.NaN),
          fmt(x.perSecond, 0),
          fmt(x.figures?.parleyCpuS ?? Number.NaN),
          fmt(x.figures?.compactS ?? Number.NaN),
          fmt(x.figures?.compactCpuS ?? Number.NaN),
        ]),
      },
      verdicts,
      record: { settings: s, before, rows },
    });
    return verdicts;
  } finally {
    await stop(parley.child);
    await db.close();
    await base.drop();
  }
}

// ---- export ----------------------------------------------------------------------------------

function rssBytes(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

interface ExportRead {
  messages: number;
  lines: number;
  bytes: number;
  /** SHA-1 over every record's type and id, in order. */
  hash: string;
  firstMessages: unknown[];
  end: unknown;
}

/** Reads an export stream to its end, keeping only counts, a hash of (type, id) and the first messages. */
async function readExport(url: string, key: string): Promise<ExportRead> {
  const res = await request(`${url}/v1/export?format=jsonl`, { headers: { authorization: `Bearer ${key}` } });
  if (res.statusCode !== 200)
    throw new Error(`${res.statusCode} GET /v1/export: ${(await res.body.text()).slice(0, 300)}`);
  const hash = createHash('sha1');
  const head = /^\{"type":"(\w+)"(?:,"id":"([^"]+)")?/;
  const out: ExportRead = { messages: 0, lines: 0, bytes: 0, hash: '', firstMessages: [], end: null };
  let carry: Buffer = Buffer.alloc(0);
  const line = (buf: Buffer, a: number, b: number) => {
    out.lines++;
    const m = head.exec(buf.toString('latin1', a, Math.min(b, a + 120)));
    const type = m?.[1] ?? '?';
    if (type === 'export') return;
    if (type === 'end') {
      out.end = JSON.parse(buf.toString('utf8', a, b));
      return;
    }
    hash.update(`${type}:${m?.[2] ?? ''}\n`);
    if (type === 'message') {
      out.messages++;
      if (out.firstMessages.length < 20) out.firstMessages.push(JSON.parse(buf.toString('utf8', a, b)));
    }
  };
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    out.bytes += chunk.length;
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      line(buf, start, nl);
      start = nl + 1;
    }
    carry = buf.subarray(start);
  }
  if (carry.length) line(carry, 0, carry.length);
  out.hash = hash.digest('hex');
  return out;
}

/**
 * The export's Parley: its threads may use both cores (the export workers run beside the main
 * thread; the driver shares core LOAD_CORE with them); `root` runs another tree's Parley
 * (BENCH_EXPORT_BASELINE). BENCH_PARLEY_EXEC_ARGV (harness.ts) adds node options to every Parley.
 */
const exportParley = (databaseUrl: string, name: string, root?: string) =>
  startServer(
    name,
    'parley',
    root === undefined ? 'servers/parley.ts' : path.join(root, 'bench/servers/parley.ts'),
    { databaseUrl, log: 'silent', requestTimeoutMs: LONG_MS, pgStatementTimeoutMs: 60_000 },
    { cores: [SERVER_CORE, LOAD_CORE] },
  );

async function runExport(engine: EngineName, s: LifecycleSettings, sink: ReportSink): Promise<Verdict[]> {
  const ds = await prepareExport(engine, s.exportSize);
  const ws = ds.workspaces[0] as string;
  const key = ds.keys[ws] as string;
  const parley = await exportParley(ds.databaseUrl, 'parley');
  const peer = await startServer('node-http', 'peer', 'servers/peer-lifecycle.ts', { databaseUrl: ds.databaseUrl });
  // BENCH_EXPORT_BASELINE=<a checkout of another commit, with node_modules>: its Parley as a third target (before → after in the same rounds)
  const baselineRoot = process.env.BENCH_EXPORT_BASELINE;
  const baseline = baselineRoot ? await exportParley(ds.databaseUrl, 'parley-baseline', baselineRoot) : null;
  const growthAll: Record<string, number[]> = { parley: [], 'node-http': [], 'parley-baseline': [] };
  const reads: Record<string, ExportRead> = {};
  try {
    const servers: Record<string, Server> = {
      parley,
      'node-http': peer,
      ...(baseline ? { 'parley-baseline': baseline } : {}),
    };
    const targets = [
      { name: 'parley', kind: 'parley' as const, pid: parley.child.pid },
      { name: 'node-http', kind: 'peer' as const, pid: peer.child.pid },
      ...(baseline ? [{ name: 'parley-baseline', kind: 'parley' as const, pid: baseline.child.pid }] : []),
    ];
    const rows = await alternate(
      targets,
      { rounds: s.rounds, warmups: 0, label: `${engine} export` },
      async (t, round) => {
        const server = servers[t.name] as Server;
        const rss0 = rssBytes(t.pid);
        let peak = rss0;
        const sampler = setInterval(() => {
          peak = Math.max(peak, rssBytes(t.pid));
        }, 20);
        const t0 = performance.now();
        let read: ExportRead;
        try {
          read = await readExport(server.url, key);
        } finally {
          clearInterval(sampler);
        }
        const durationMs = performance.now() - t0;
        peak = Math.max(peak, rssBytes(t.pid));
        const growthMB = (peak - rss0) / 2 ** 20;
        (growthAll[t.name] as number[]).push(growthMB);
        // the answer check, every turn: the same records in the same order, the first messages alike
        reads[t.name] = read;
        const other = reads[t.name === 'parley' ? 'node-http' : 'parley'];
        if (other) {
          assertSameAnswers(`the export (round ${round})`, [
            { target: t.name, data: { messages: read.messages, hash: read.hash, first: read.firstMessages } },
            { target: 'other', data: { messages: other.messages, hash: other.hash, first: other.firstMessages } },
          ]);
        }
        if (read.messages !== ds.opts.messages && read.messages < ds.opts.messages * 0.9)
          throw new Error(`export carried ${read.messages} messages of ~${ds.opts.messages}`);
        return {
          ops: read.messages,
          durationMs,
          figures: {
            rssGrowthMB: growthMB,
            rssPeakMB: peak / 2 ** 20,
            mbPerS: read.bytes / 2 ** 20 / (durationMs / 1000),
            lines: read.lines,
          },
        };
      },
    );
    const sum = summarise(rows);
    const par = sum.find((x) => x.target === 'parley');
    const thr = ratio(rows, 'parley', 'node-http', 'throughput');
    const cpu = ratio(rows, 'parley', 'node-http', 'cpu');
    const worstGrowth = Math.max(...(growthAll.parley ?? []));
    const verdicts = [
      verdict(
        'Parley messages/s',
        par?.perSecond ?? Number.NaN,
        '/s',
        { op: '>=', value: 100_000 },
        spread(rows.filter((r) => r.target === 'parley').map((r) => r.perSecond)),
      ),
      verdict(
        'Parley RSS growth during an export, worst turn',
        worstGrowth,
        ' MB',
        { op: '<=', value: 64 },
        spread(growthAll.parley ?? []),
      ),
      verdict('Parley messages/s / the node:http peer’s', thr.median, 'x', null, thr),
      verdict('server CPU per message, peer / Parley', cpu.median, 'x', null, cpu),
    ];
    if (baseline) {
      const vsBase = ratio(rows, 'parley', 'parley-baseline', 'throughput');
      const cpuBase = ratio(rows, 'parley', 'parley-baseline', 'cpu');
      verdicts.push(
        verdict('Parley messages/s / the baseline’s (BENCH_EXPORT_BASELINE)', vsBase.median, 'x', null, vsBase),
        verdict('server CPU per message, baseline / Parley', cpuBase.median, 'x', null, cpuBase),
        verdict(
          'baseline RSS growth during an export, worst turn',
          Math.max(...(growthAll['parley-baseline'] ?? [])),
          ' MB',
          null,
          spread(growthAll['parley-baseline'] ?? []),
        ),
      );
    }
    report(sink, {
      key: `${engine}:lifecycle-export`,
      title: `${engine} / export (lifecycle)`,
      description: `A whole workspace as JSONL through GET /v1/export?format=jsonl vs a bare node:http server streaming the same rows from the same database (keyset pages of 500 conversations, one query per table per page, JSON.stringify, write with backpressure); RSS = the server's VmRSS sampled every 20 ms, growth = peak minus the value before the request`,
      facts: [
        `Data: one workspace, ${ds.opts.conversations.toLocaleString('en')} conversations, ~${ds.opts.messages.toLocaleString('en')} messages with tool invocations (\`parley seed-data\`'s generator and bulk loader, size ${s.exportSize}, cached in bench/.data or parley_bench_export_${s.exportSize}); the driver reads each stream to its end`,
        'Answer check every round: both streams carry the same records (types and ids, SHA-1 in order) and the same first 20 messages field for field',
        `${s.rounds} rounds, no warm-up (the first Parley turn is the first export into a fresh server: the worst case for RSS growth), order flipping each round; ${pinningNote}, except Parley's export server${baseline ? 's' : ''}, whose threads may use cores ${SERVER_CORE} and ${LOAD_CORE} (export workers beside the main thread)${process.env.PARLEY_EXPORT_WORKERS !== undefined ? `; PARLEY_EXPORT_WORKERS=${process.env.PARLEY_EXPORT_WORKERS}` : ''}${process.env.BENCH_PARLEY_EXEC_ARGV ? `; node options ${process.env.BENCH_PARLEY_EXEC_ARGV}` : ''}${baseline ? `; parley-baseline: the Parley of ${baselineRoot}` : ''}; the machine is shared with other sessions (load average below)`,
      ],
      table: {
        head: ['target', 'messages/s', 'MB/s', 'CPU us/message', 'RSS growth MB (median)', 'RSS peak MB'],
        rows: sum.map((x) => [
          x.target,
          fmt(x.perSecond, 0),
          fmt(x.figures.mbPerS ?? Number.NaN),
          fmt(x.cpuUsPerOp),
          fmt(x.figures.rssGrowthMB ?? Number.NaN),
          fmt(x.figures.rssPeakMB ?? Number.NaN),
        ]),
      },
      verdicts,
      record: { settings: s, dataset: ds.opts, rows, growthAll, end: reads.parley?.end ?? null },
    });
    return verdicts;
  } finally {
    await Promise.all([stop(parley.child), stop(peer.child), ...(baseline ? [stop(baseline.child)] : [])]);
  }
}

// ---- secure-delete ---------------------------------------------------------------------------

async function runSecureDelete(s: LifecycleSettings, sink: ReportSink): Promise<Verdict[]> {
  const base: BaseDataset = await prepareBase('sqlite', s.quick ? 200 : 2000);
  const offUrl = copySqlite(base.databaseUrl, 'erasure-off');
  const on = await startServer('erasure-on', 'parley', 'servers/parley.ts', {
    databaseUrl: base.databaseUrl,
    log: 'silent',
  });
  const off = await startServer('erasure-off', 'parley', 'servers/parley.ts', {
    databaseUrl: offUrl,
    log: 'silent',
    erasure: 'off',
  });
  let salt = 0;
  try {
    const servers: Record<string, { server: Server; url: string }> = {
      'erasure-on': { server: on, url: base.databaseUrl },
      'erasure-off': { server: off, url: offUrl },
    };
    const targets = [
      { name: 'erasure-on', kind: 'parley' as const, pid: on.child.pid },
      { name: 'erasure-off', kind: 'parley' as const, pid: off.child.pid },
    ];
    const rows = await alternate(
      targets,
      { rounds: s.rounds, warmups: 1, label: 'sqlite secure-delete' },
      async (t) => {
        const { server, url } = servers[t.name] as { server: Server; url: string };
        const convs = Array.from({ length: s.bigPerTurn }, () =>
          bigConversation(base.workspaceId, s.bigMessages, 0, 100_000 + ++salt),
        );
        await loadConversations(url, convs);
        await new Promise((r) => setTimeout(r, 200));
        const lat: number[] = [];
        const t0 = performance.now();
        for (const c of convs) {
          const a = performance.now();
          const res = await request(`${server.url}/v1/conversations/${c.id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${base.writeKey}` },
          });
          await res.body.text();
          if (res.statusCode !== 204) throw new Error(`DELETE ${c.id}: ${res.statusCode}`);
          lat.push(performance.now() - a);
        }
        const durationMs = performance.now() - t0;
        const sorted = Float64Array.from(lat).sort();
        return {
          ops: convs.length,
          durationMs,
          figures: { p50: percentile(sorted, 50), max: sorted[sorted.length - 1] ?? Number.NaN },
        };
      },
    );
    const sum = summarise(rows);
    const p50 = ratio(rows, 'erasure-off', 'erasure-on', 'figure:p50');
    const cpu = ratio(rows, 'erasure-off', 'erasure-on', 'cpu');
    const onRow = sum.find((x) => x.target === 'erasure-on');
    const verdicts = [
      verdict(
        `delete of a ${s.bigMessages}-message conversation, erasure on, p50`,
        onRow?.figures.p50 ?? Number.NaN,
        ' ms',
        null,
      ),
      verdict('cost of erasure: p50 on / off', p50.median, 'x', null, p50),
      verdict('cost of erasure: server CPU per delete on / off', cpu.median, 'x', null, cpu),
    ];
    report(sink, {
      key: 'sqlite:lifecycle-secure-delete',
      title: 'sqlite / secure-delete (lifecycle)',
      description: `DELETE /v1/conversations/{id} of a conversation of ${s.bigMessages} messages: Parley as shipped (secure_delete pragma on, FTS5 secure-delete on both full-text tables) vs the same Parley with both off (a bench-only server setting; Parley has no switch for it), each on its own copy of the same data`,
      facts: [
        `Data: a workspace of ${s.quick ? 200 : 2000} generated conversations (~4 messages each); before each turn ${s.bigPerTurn} conversations of ${s.bigMessages} messages bulk-loaded untimed into the target's copy, then deleted one after another`,
        `${s.rounds} measured rounds after a warm-up round, order flipping each round; ${pinningNote}; the machine is shared with other sessions (load average below)`,
      ],
      table: {
        head: ['target', 'p50 ms', 'max ms', 'deletes/s', 'CPU us/delete'],
        rows: sum.map((x) => [
          x.target,
          fmt(x.figures.p50 ?? Number.NaN),
          fmt(x.figures.max ?? Number.NaN),
          fmt(x.perSecond),
          fmt(x.cpuUsPerOp, 0),
        ]),
      },
      verdicts,
      record: { settings: s, rows },
    });
    return verdicts;
  } finally {
    await Promise.all([stop(on.child), stop(off.child)]);
    await base.drop();
  }
}

// ---- erase (a user) --------------------------------------------------------------------------

async function getJson(url: string, path: string, key: string): Promise<unknown> {
  const res = await request(url + path, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} GET ${path}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** An admin key of the base dataset's workspace (erase needs `admin`). */
async function adminKey(databaseUrl: string, workspaceId: string): Promise<string> {
  const store = await openStore({ databaseUrl });
  try {
    const keys = new KeysService({ store, clock: systemClock });
    const k = await store.transact(workspaceId, (w) =>
      keys.insert(w, { name: 'bench admin', scopes: ['admin', 'read:ai', 'write:ai'], rateLimit: 100_000_000 }),
    );
    return k.secret;
  } finally {
    await store.close();
  }
}

async function runEraseUser(engine: EngineName, s: LifecycleSettings, sink: ReportSink): Promise<Verdict[]> {
  const base = await prepareBase(engine, s.quick ? 500 : 2000);
  const db = openDb(base.databaseUrl);
  const admin = await adminKey(base.databaseUrl, base.workspaceId);
  const pgDb = pgDatabaseName(base.databaseUrl);
  const parley = await startParley(base.databaseUrl);
  try {
    const before = await holdings(db, base.workspaceId);
    let seed = 5000;
    const loaded: number[] = [];
    const rows = await alternate(
      [{ name: 'parley', kind: 'parley' as const }],
      { rounds: s.rounds, warmups: 1, label: `${engine} erase` },
      async (_t, round) => {
        const n = round < 1 ? Math.max(1, Math.ceil(s.deleteConversations / 10)) : s.deleteConversations;
        const user = `erase-user-${++seed}`;
        const convs = generateInto(base.workspaceId, n, n * 10, seed).map((c) => ({ ...c, userId: user }));
        loaded.push(convs.reduce((a, c) => a + c.messages.length, 0));
        await loadConversations(base.databaseUrl, convs);
        await new Promise((r) => setTimeout(r, 500));
        const cpu0 = cpuSeconds(parley.child.pid);
        const pg0 = pgDb ? pgBackends(pgDb) : null;
        const t0 = performance.now();
        const res = await request(`${parley.url}/v1/users/${user}/erase`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: '{}',
        });
        const text = await res.body.text();
        if (res.statusCode !== 202) throw new Error(`${res.statusCode} POST erase: ${text.slice(0, 300)}`);
        const jobId = (JSON.parse(text) as { data: { id: string } }).data.id;
        let job: {
          state: string;
          progress: { counts: Record<string, number> };
          error: unknown;
          result: { receipt?: { storage?: { dead_rows_kept?: number } } } | null;
        };
        // the first poll that sees every conversation erased: the rest is the reclaim and the receipt
        let erasedMs = Number.NaN;
        for (;;) {
          job = ((await getJson(parley.url, `/v1/jobs/${jobId}`, admin)) as { data: typeof job }).data;
          if (Number.isNaN(erasedMs) && (job.progress.counts.conversations ?? 0) >= n)
            erasedMs = performance.now() - t0;
          if (job.state !== 'queued' && job.state !== 'running') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const durationMs = performance.now() - t0;
        const cpuS = cpuSeconds(parley.child.pid) - cpu0;
        const pgCpuS = pgDb && pg0 ? pgCpuSince(pgDb, pg0) : Number.NaN;
        if (job.state !== 'succeeded')
          throw new Error(`erase job ${jobId} ended ${job.state}: ${JSON.stringify(job.error)}`);
        if (job.progress.counts.conversations !== n)
          throw new Error(`erase job erased ${job.progress.counts.conversations} of ${n} conversations`);
        // the answer check: the workspace holds what it held before the user's conversations came
        assertSameAnswers(`the workspace after the erase of ${user}`, [
          { target: 'before', data: before },
          { target: 'parley', data: await holdings(db, base.workspaceId) },
        ]);
        return {
          ops: n,
          durationMs,
          figures: {
            seconds: durationMs / 1000,
            erasedS: erasedMs / 1000,
            parleyCpuS: cpuS,
            pgCpuS,
            deadRowsKept: job.result?.receipt?.storage?.dead_rows_kept ?? Number.NaN,
          },
        };
      },
    );
    const sec = spread(fig(rows, 'parley', 'seconds'));
    const cpu = spread(fig(rows, 'parley', 'parleyCpuS'));
    const verdicts = [
      verdict(
        `Parley: a user of ${s.deleteConversations.toLocaleString('en')} conversations erased in (wall, POST to the job's end)`,
        sec.median,
        ' s',
        { op: '<=', value: 5 },
        sec,
      ),
      verdict(
        `Parley process CPU during the erase${engine === 'sqlite' ? ' (SQLite runs in it)' : ' (the database server’s not counted)'}`,
        cpu.median,
        ' s',
        null,
        cpu,
      ),
      ...(engine === 'postgres'
        ? [
            verdict(
              'PostgreSQL server CPU during the erase (its backends of the bench database; the VACUUM included)',
              spread(fig(rows, 'parley', 'pgCpuS')).median,
              ' s',
              null,
              spread(fig(rows, 'parley', 'pgCpuS')),
            ),
          ]
        : []),
    ];
    const sum = summarise(rows);
    report(sink, {
      key: `${engine}:lifecycle-erase`,
      title: `${engine} / erase a user (lifecycle)`,
      description: `POST /v1/users/{user_id}/erase of a user owning ${s.deleteConversations.toLocaleString('en')} conversations, then GET /v1/jobs/{id} every 20 ms until the job ends; wall from the POST to the poll that sees it succeeded (its batches, the closing VACUUM on PostgreSQL and the receipt included)`,
      facts: [
        `Data: a workspace of ${before.conversations} conversations / ${before.messages} messages; before each turn ${s.deleteConversations.toLocaleString('en')} generated conversations of one new user (~${Math.round(Math.max(...loaded)).toLocaleString('en')} messages, with tool invocations) bulk-loaded untimed; after each turn the workspace must hold exactly what it held before`,
        `${s.rounds} measured rounds after a warm-up round (a tenth of the conversations); Parley's job settings are its defaults (PARLEY_JOB_BATCH_SIZE, PARLEY_ERASE_VACUUM); ${pinningNote}; the machine is shared with other sessions (load average below)`,
      ],
      table: {
        head: ['target', 'seconds', 'rows erased at s', 'conv/s', 'Parley CPU s', 'PG CPU s'],
        rows: sum.map((x) => [
          x.target,
          fmt(x.figures.seconds ?? Number.NaN),
          fmt(x.figures.erasedS ?? Number.NaN),
          fmt(x.perSecond, 0),
          fmt(x.figures.parleyCpuS ?? Number.NaN),
          fmt(x.figures.pgCpuS ?? Number.NaN),
        ]),
      },
      verdicts,
      record: { settings: s, before, loaded, rows },
    });
    return verdicts;
  } finally {
    await stop(parley.child);
    await db.close();
    await base.drop();
  }
}

/** Runs the chosen lifecycle scenarios on the chosen engines (secure-delete: SQLite only). */
export async function runLifecycle(
  scenarios: readonly LifecycleScenario[],
  engines: readonly EngineName[],
  s: LifecycleSettings,
  sink: ReportSink,
): Promise<Verdict[]> {
  pin(process.pid, LOAD_CORE);
  const out: Verdict[] = [];
  for (const engine of engines) {
    if (scenarios.includes('bulk-delete')) out.push(...(await runBulkDelete(engine, s, sink)));
    if (scenarios.includes('export')) out.push(...(await runExport(engine, s, sink)));
    if (scenarios.includes('secure-delete') && engine === 'sqlite') out.push(...(await runSecureDelete(s, sink)));
    // SQLite's times the full-text compaction after the job, PostgreSQL's the server's CPU and the VACUUM
    if (scenarios.includes('erase'))
      out.push(...(await (engine === 'sqlite' ? runErase(engine, s, sink) : runEraseUser(engine, s, sink))));
  }
  return out;
}
