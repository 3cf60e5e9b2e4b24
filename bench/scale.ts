/**
 * npm run bench:scale -- [--scenario search,deep-cursor,total,delete-big,append] [--engine sqlite,postgres]
 *                        [--size 1m|quick] [--quick] [--rounds N] [--md FILE] [--out DIR]
 *
 * Latency and throughput at scale (1 M messages). Three targets on the same cached dataset:
 * Parley over HTTP, the node:http peer running the same SQL (bench/lib/scale-ops.ts), and the raw
 * peer (the same ops, no HTTP) — rounds alternate, the order flipping each round; servers pinned
 * to core 0 and this driver to core 1 where taskset exists. Medians over rounds of p50/p95/p99.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { prepareScale, type ScaleDataset, type SizeName } from './lib/scale-datasets.js';
import { type Call, type Part, SCALE_SCENARIOS, type ScaleScenario } from './lib/scale-scenarios.js';
import { median, percentile } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    engine: { type: 'string', default: 'sqlite,postgres' },
    size: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    out: { type: 'string', default: path.join(here, 'results') },
    md: { type: 'string', default: path.join(here, 'RESULTS.md') },
  },
});
const quick = args.quick === true;
const size = (args.size ?? (quick ? 'quick' : '1m')) as SizeName;
const rounds = Number(args.rounds ?? (quick ? 2 : 3));
const scenarios = pick(SCALE_SCENARIOS, args.scenario);
const engines = (args.engine as string).split(',') as Array<'sqlite' | 'postgres'>;

function pick(all: ScaleScenario[], csv: string | undefined): ScaleScenario[] {
  if (!csv || csv === 'all') return all;
  return csv.split(',').map((n) => {
    const s = all.find((x) => x.name === n.trim());
    if (!s) throw new Error(`unknown scenario ${n}; known: ${all.map((x) => x.name).join(', ')}`);
    return s;
  });
}

const pinning = (() => {
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    return os.availableParallelism() >= 2;
  } catch {
    return false;
  }
})();
const pin = (pid: number | undefined, core: number) => {
  if (pinning && pid !== undefined)
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
};

function start(script: string, options: unknown): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(here, script), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { type?: string; url?: string }) => {
      if (m.type === 'ready' && m.url) {
        pin(child.pid, 0);
        resolve({ child, url: m.url });
      } else reject(new Error(`${script}: ${JSON.stringify(m)}`));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send({ type: 'stop' });
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

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
  perTarget: Record<TargetName, { p50: number; p95: number; p99: number; perSecond: number; rounds: number[][] }>;
  ratios: { parleyNodeHttpP50: number; parleyRawP50: number; parleyNodeHttpThroughput: number };
}

async function measurePart(
  part: Part,
  ds: ScaleDataset,
  parleyUrl: string,
  peer: { child: ChildProcess; url: string },
): Promise<PartResult> {
  const stats: Record<TargetName, Array<{ p50: number; p95: number; p99: number; perSecond: number }>> = {
    parley: [],
    'node-http': [],
    raw: [],
  };
  const kept: Record<TargetName, number[][]> = { parley: [], 'node-http': [], raw: [] };
  for (let round = 1; round <= rounds + 1; round++) {
    const order = round % 2 === 1 ? [...TARGETS] : [...TARGETS].reverse();
    for (const t of order) {
      const calls = part.setup ? await part.setup(ds, t, round) : part.calls;
      const s =
        t === 'raw'
          ? await overRaw(peer.child, calls, part.concurrency)
          : await overHttp(t === 'parley' ? parleyUrl : peer.url, calls, part.concurrency);
      if (round === 1) continue; // warm-up round: caches, statement caches, JIT
      const sorted = Float64Array.from(s.latencies).sort();
      stats[t].push({
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        perSecond: (s.latencies.length / s.durationMs) * 1000,
      });
      kept[t].push([...sorted].map((x) => Math.round(x * 1000) / 1000));
      process.stderr.write(
        `  ${part.name} round ${round - 1} ${t.padEnd(9)} p50 ${percentile(sorted, 50).toFixed(2)} ms  p95 ${percentile(sorted, 95).toFixed(2)} ms  ${((s.latencies.length / s.durationMs) * 1000).toFixed(0)}/s\n`,
      );
    }
  }
  const med = (t: TargetName, k: 'p50' | 'p95' | 'p99' | 'perSecond') => median(stats[t].map((x) => x[k]));
  const perRoundRatio = (f: (i: number) => number) => median(stats.parley.map((_, i) => f(i)));
  const perTarget = Object.fromEntries(
    TARGETS.map((t) => [
      t,
      { p50: med(t, 'p50'), p95: med(t, 'p95'), p99: med(t, 'p99'), perSecond: med(t, 'perSecond'), rounds: kept[t] },
    ]),
  ) as PartResult['perTarget'];
  return {
    part: part.name,
    description: part.description,
    concurrency: part.concurrency,
    calls: part.calls.length || (part.setup ? -1 : 0),
    perTarget,
    ratios: {
      parleyNodeHttpP50: perRoundRatio(
        (i) => (stats.parley[i]?.p50 ?? Number.NaN) / (stats['node-http'][i]?.p50 ?? Number.NaN),
      ),
      parleyRawP50: perRoundRatio((i) => (stats.parley[i]?.p50 ?? Number.NaN) / (stats.raw[i]?.p50 ?? Number.NaN)),
      parleyNodeHttpThroughput: perRoundRatio(
        (i) => (stats.parley[i]?.perSecond ?? Number.NaN) / (stats['node-http'][i]?.perSecond ?? Number.NaN),
      ),
    },
  };
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

function markdown(
  engine: string,
  sc: ScaleScenario,
  parts: PartResult[],
  verdicts: string[],
  ds: ScaleDataset,
  date: string,
) {
  const m = `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const lines = [
    `### ${engine} / ${sc.name} (scale)`,
    '',
    `${sc.description}.`,
    '',
    `- Date: ${date}; machine: ${m}; load average after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
    `- Data: \`parley seed-data\` size ${ds.size} (${ds.opts.workspaces} workspaces, ${ds.opts.conversations.toLocaleString('en')} conversations, ~${ds.opts.messages.toLocaleString('en')} messages, seed ${ds.opts.seed}); largest workspace ${ds.conversationsPerWorkspace[0]?.toLocaleString('en')} conversations`,
    `- ${rounds} measured rounds after a warm-up round, target order flipping each round; ${pinning ? 'servers on core 0, driver on core 1 (taskset)' : 'not pinned'}`,
    '',
    '| part | target | p50 ms | p95 ms | p99 ms | per s |',
    '|---|---|---:|---:|---:|---:|',
    ...parts.flatMap((p) =>
      TARGETS.map(
        (t) =>
          `| ${p.part} | ${t} | ${f2(p.perTarget[t].p50)} | ${f2(p.perTarget[t].p95)} | ${f2(p.perTarget[t].p99)} | ${p.perTarget[t].perSecond.toFixed(0)} |`,
      ),
    ),
    '',
    '| part | parley/node-http p50 | parley/raw p50 | parley/node-http throughput |',
    '|---|---:|---:|---:|',
    ...parts.map(
      (p) =>
        `| ${p.part} | ${f2(p.ratios.parleyNodeHttpP50)}x | ${f2(p.ratios.parleyRawP50)}x | ${f2(p.ratios.parleyNodeHttpThroughput)}x |`,
    ),
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
  ];
  return lines.join('\n');
}

function writeSection(file: string, key: string, section: string): void {
  const a0 = `<!-- bench:${key}:start -->`;
  const b0 = `<!-- bench:${key}:end -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Parley benchmark results\n';
  const block = `${a0}\n${section}${b0}\n`;
  const a = text.indexOf(a0);
  const b = text.indexOf(b0);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + b0.length + 1) : `${text.trimEnd()}\n\n${block}`;
  writeFileSync(file, text);
}

async function main(): Promise<void> {
  pin(process.pid, 1);
  const date = new Date().toISOString();
  const missed: string[] = [];
  for (const engine of engines) {
    const ds = await prepareScale(engine, size);
    const parley = await start('servers/parley.ts', { databaseUrl: ds.databaseUrl, log: 'silent' });
    // after Parley: it creates the cursor secret the peer verifies cursors with
    const peer = await start('servers/peer-scale.ts', { databaseUrl: ds.databaseUrl });
    try {
      for (const sc of scenarios) {
        const parts: PartResult[] = [];
        for (const part of await sc.parts(ds, parley.url)) parts.push(await measurePart(part, ds, parley.url, peer));
        const verdicts = sc.judge(engine, parts);
        for (const v of verdicts) if (v.startsWith('NOT MET')) missed.push(`${engine}/${sc.name}: ${v}`);
        console.log(`\n${engine} / ${sc.name}`);
        for (const p of parts) {
          for (const t of TARGETS) {
            const s = p.perTarget[t];
            console.log(
              `  ${p.part.padEnd(22)} ${t.padEnd(9)} p50 ${f2(s.p50)}  p95 ${f2(s.p95)}  p99 ${f2(s.p99)}  ${s.perSecond.toFixed(0)}/s`,
            );
          }
        }
        for (const v of verdicts) console.log(`  ${v}`);
        const record = {
          date,
          engine,
          scenario: sc.name,
          size,
          rounds,
          pinned: pinning,
          machine: { cpus: os.availableParallelism(), loadavg: os.loadavg() },
          dataset: { ...ds.opts, largest: ds.conversationsPerWorkspace[0], seedReport: ds.seedReport },
          parts,
          verdicts,
        };
        mkdirSync(args.out as string, { recursive: true });
        writeFileSync(
          path.join(args.out as string, `${date.slice(0, 10)}-scale-${engine}-${sc.name}.json`),
          `${JSON.stringify(record, null, 1)}\n`,
        );
        writeSection(args.md as string, `${engine}:scale-${sc.name}`, markdown(engine, sc, parts, verdicts, ds, date));
      }
    } finally {
      await Promise.all([stop(parley.child), stop(peer.child)]);
    }
  }
  console.log(missed.length ? `\ntargets not met:\n${missed.join('\n')}` : '\nall judged targets met');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
