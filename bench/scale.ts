/**
 * The scale scenarios (search, deep-cursor, total, delete-big, append) on the 1 M-message dataset
 * (bench/lib/scale-datasets.ts, built by `parley seed-data`'s own code and cached). Three targets
 * on the same data: Parley over HTTP, the node:http peer running the same SQL
 * (bench/lib/scale-ops.ts), and the raw peer (the same ops, no HTTP, in the peer's process). The
 * harness alternates rounds after a warm-up round; medians of p50/p95/p99 over rounds; the first
 * read of each part is checked to give the same rows on Parley and the node:http peer.
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Pool, request } from 'undici';
import {
  alternate,
  assertSameAnswers,
  fmt,
  LOAD_CORE,
  median,
  percentile,
  pin,
  pinningNote,
  type ReportSink,
  type RoundRow,
  report,
  type Server,
  startServer,
  stop,
  type Verdict,
} from './harness.js';
import { prepareScale, type ScaleDataset, type SizeName } from './lib/scale-datasets.js';
import type { Call, Part, ScaleScenario } from './lib/scale-scenarios.js';

interface Sample {
  latencies: number[];
  durationMs: number;
}

async function overHttp(url: string, calls: Call[], concurrency: number): Promise<Sample> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = new Array(calls.length);
  let next = 0;
  let failure: string | null = null;
  const started = performance.now();
  const loop = async () => {
    while (next < calls.length) {
      const i = next++;
      const c = calls[i] as Call;
      const headers: Record<string, string> = { authorization: `Bearer ${c.key}`, ...(c.http.headers ?? {}) };
      if (c.http.body !== undefined) headers['content-type'] = 'application/json';
      if (c.http.idempotent) headers['idempotency-key'] = `b${process.pid}-${i}-${Math.random().toString(36).slice(2)}`;
      const t0 = performance.now();
      const res = await pool.request({
        method: c.http.method,
        path: c.http.path,
        headers,
        body: c.http.body === undefined ? undefined : JSON.stringify(c.http.body),
      });
      const text = await res.body.text();
      latencies[i] = performance.now() - t0;
      if (res.statusCode >= 300) failure ??= `${res.statusCode} ${c.http.method} ${c.http.path}: ${text.slice(0, 300)}`;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const durationMs = performance.now() - started;
  await pool.close();
  if (failure) throw new Error(failure);
  return { latencies, durationMs };
}

function overRaw(peer: ChildProcess, calls: Call[], concurrency: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const on = (m: { type?: string; message?: string } & Sample) => {
      if (m.type === 'raw-result') {
        peer.off('message', on);
        resolve(m);
      } else if (m.type === 'error') {
        peer.off('message', on);
        reject(new Error(m.message));
      }
    };
    peer.on('message', on);
    peer.send({ type: 'raw', calls: calls.map((c) => ({ op: c.op, args: c.args })), concurrency });
  });
}

const TARGETS = ['parley', 'node-http', 'raw'] as const;
type TargetName = (typeof TARGETS)[number];

interface PartResult {
  part: string;
  description: string;
  concurrency: number;
  calls: number;
  perTarget: Record<
    TargetName,
    { p50: number; p95: number; p99: number; perSecond: number; cpuUsPerOp: number; rounds: number[][] }
  >;
  ratios: { parleyNodeHttpP50: number; parleyRawP50: number; parleyNodeHttpThroughput: number };
}

/** The rows a list/search answer holds, in order, and its total: what both HTTP sides must agree on. */
async function listAnswer(url: string, call: Call): Promise<unknown> {
  const res = await request(url + call.http.path, { headers: { authorization: `Bearer ${call.key}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${call.http.path}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { data: Array<{ id: string }>; meta?: { total?: unknown } };
  return { ids: body.data.map((d) => d.id), total: body.meta?.total ?? null };
}

async function measurePart(
  part: Part,
  ds: ScaleDataset,
  parley: Server,
  peer: Server,
  rounds: number,
): Promise<PartResult> {
  const first = part.calls.find((c) => c.http.method === 'GET');
  if (first) {
    assertSameAnswers(first.http.path, [
      { target: 'parley', data: await listAnswer(parley.url, first) },
      { target: 'node-http', data: await listAnswer(peer.url, first) },
    ]);
  }
  const targets = [
    { name: 'parley' as const, kind: 'parley' as const, pid: parley.child.pid },
    { name: 'node-http' as const, kind: 'peer' as const, pid: peer.child.pid },
    { name: 'raw' as const, kind: 'peer' as const, pid: peer.child.pid },
  ];
  const kept: Record<TargetName, number[][]> = { parley: [], 'node-http': [], raw: [] };
  // the first round warms caches, statement caches and the JIT, and is not kept
  const rows = await alternate(targets, { rounds, warmups: 1, label: part.name }, async (t, round) => {
    const calls = part.setup ? await part.setup(ds, t.name, round) : part.calls;
    const s =
      t.name === 'raw'
        ? await overRaw(peer.child, calls, part.concurrency)
        : await overHttp(t.name === 'parley' ? parley.url : peer.url, calls, part.concurrency);
    const sorted = Float64Array.from(s.latencies).sort();
    if (round >= 1) kept[t.name].push([...sorted].map((x) => Math.round(x * 1000) / 1000));
    return {
      ops: s.latencies.length,
      durationMs: s.durationMs,
      figures: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    };
  });
  const of = (t: TargetName) => rows.filter((r) => r.target === t);
  const med = (t: TargetName, k: 'p50' | 'p95' | 'p99') => median(of(t).map((r) => r.figures?.[k] ?? Number.NaN));
  const perRound = (f: (a: RoundRow, b: RoundRow) => number, other: TargetName) =>
    median(of('parley').map((a, i) => (of(other)[i] ? f(a, of(other)[i] as RoundRow) : Number.NaN)));
  const perTarget = Object.fromEntries(
    TARGETS.map((t) => [
      t,
      {
        p50: med(t, 'p50'),
        p95: med(t, 'p95'),
        p99: med(t, 'p99'),
        perSecond: median(of(t).map((r) => r.perSecond)),
        cpuUsPerOp: median(of(t).map((r) => r.cpuUsPerOp)),
        rounds: kept[t],
      },
    ]),
  ) as PartResult['perTarget'];
  const p50 = (r: RoundRow) => r.figures?.p50 ?? Number.NaN;
  return {
    part: part.name,
    description: part.description,
    concurrency: part.concurrency,
    calls: part.calls.length || (part.setup ? -1 : 0),
    perTarget,
    ratios: {
      parleyNodeHttpP50: perRound((a, b) => p50(a) / p50(b), 'node-http'),
      parleyRawP50: perRound((a, b) => p50(a) / p50(b), 'raw'),
      parleyNodeHttpThroughput: perRound((a, b) => a.perSecond / b.perSecond, 'node-http'),
    },
  };
}

export interface ScaleSettings {
  size: SizeName;
  rounds: number;
}

export function scaleSettings(quick: boolean, o: { size?: string; rounds?: string }): ScaleSettings {
  const size = (o.size ?? (quick ? 'quick' : '1m')) as SizeName;
  const rounds = Number(o.rounds ?? (quick ? 2 : 3));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive whole number');
  return { size, rounds };
}

/** Runs the chosen scale scenarios on the chosen engines; returns every verdict. */
export async function runScale(
  scenarios: ScaleScenario[],
  engines: Array<'sqlite' | 'postgres'>,
  settings: ScaleSettings,
  sink: ReportSink,
): Promise<Verdict[]> {
  pin(process.pid, LOAD_CORE);
  const out: Verdict[] = [];
  /** Each scenario's parts per engine, for the goals that compare engines in one run. */
  const across = new Map<ScaleScenario, Record<string, PartResult[]>>();
  for (const engine of engines) {
    const ds = await prepareScale(engine, settings.size);
    const parley = await startServer('parley', 'parley', 'servers/parley.ts', {
      databaseUrl: ds.databaseUrl,
      log: 'silent',
    });
    // after Parley: it creates the cursor secret the peer verifies cursors with
    const peer = await startServer('node-http', 'peer', 'servers/peer-scale.ts', { databaseUrl: ds.databaseUrl });
    try {
      for (const sc of scenarios) {
        const parts: PartResult[] = [];
        for (const part of await sc.parts(ds, parley.url))
          parts.push(await measurePart(part, ds, parley, peer, settings.rounds));
        const verdicts = sc.judge(engine, parts);
        out.push(...verdicts);
        across.set(sc, { ...across.get(sc), [engine]: parts });
        report(sink, {
          key: `${engine}:scale-${sc.name}`,
          title: `${engine} / ${sc.name} (scale)`,
          description: sc.description,
          facts: [
            `Data: \`parley seed-data\` size ${ds.size} (${ds.opts.workspaces} workspaces, ${ds.opts.conversations.toLocaleString('en')} conversations, ~${ds.opts.messages.toLocaleString('en')} messages, seed ${ds.opts.seed}); largest workspace ${ds.conversationsPerWorkspace[0]?.toLocaleString('en')} conversations`,
            `${settings.rounds} measured rounds after a warm-up round, target order flipping each round; ${pinningNote}`,
          ],
          table: {
            head: ['part', 'target', 'p50 ms', 'p95 ms', 'p99 ms', 'per s', 'CPU us/op'],
            rows: parts.flatMap((p) =>
              TARGETS.map((t) => [
                p.part,
                t,
                fmt(p.perTarget[t].p50),
                fmt(p.perTarget[t].p95),
                fmt(p.perTarget[t].p99),
                fmt(p.perTarget[t].perSecond, 0),
                fmt(p.perTarget[t].cpuUsPerOp, 0),
              ]),
            ),
          },
          verdicts,
          record: {
            settings,
            dataset: { ...ds.opts, largest: ds.conversationsPerWorkspace[0], seedReport: ds.seedReport },
            parts,
          },
        });
      }
    } finally {
      await Promise.all([stop(parley.child), stop(peer.child)]);
    }
  }
  for (const [sc, byEngine] of across) {
    const verdicts = sc.judgeAcross?.(byEngine) ?? [];
    if (verdicts.length === 0) continue;
    out.push(...verdicts);
    const names = Object.keys(byEngine);
    report(sink, {
      key: `across:scale-${sc.name}`,
      title: `${names.join(' vs ')} / ${sc.name} (scale)`,
      description: `Goals comparing the engines measured in this run (${sc.name})`,
      facts: [`Figures from the ${names.join(' and ')} sections of this run (same settings, minutes apart)`],
      table: {
        head: ['part', 'engine', 'Parley p50 ms', 'Parley p95 ms'],
        rows: Object.entries(byEngine).flatMap(([engine, parts]) =>
          parts.map((p) => [p.part, engine, fmt(p.perTarget.parley.p50), fmt(p.perTarget.parley.p95)]),
        ),
      },
      verdicts,
      record: { settings, byEngine },
    });
  }
  return out;
}
