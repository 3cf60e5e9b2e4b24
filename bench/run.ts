/**
 * npm run bench -- [--scenario get,list] [--engine sqlite] [--rounds N] [--duration S]
 *                  [--connections C] [--conversations N] [--quick] [--out DIR] [--md FILE]
 *
 * Parley over HTTP against a peer doing the same work on the same data, in alternating rounds
 * (the order flips every round, so drift on a shared machine hits both sides alike), servers
 * pinned to one core and the load generator to another where `taskset` exists. The verdict is
 * the median over rounds of the per-round throughput ratio Parley/peer.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { ENGINES } from './lib/engines.js';
import { SCENARIOS } from './lib/scenarios.js';
import { median } from './lib/stats.js';
import type { Dataset, EngineDef, LoadResult, ScenarioDef, TargetDef } from './lib/types.js';
import type { LoadJob } from './load-worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    engine: { type: 'string', default: 'sqlite' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    conversations: { type: 'string' },
    targets: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(here, 'results') },
    md: { type: 'string', default: path.join(here, 'RESULTS.md') },
  },
});

const quick = args.quick === true;
const settings = {
  rounds: Number(args.rounds ?? (quick ? 2 : 5)),
  durationS: Number(args.duration ?? (quick ? 0.5 : 5)),
  warmupS: quick ? 0.3 : 2,
  connections: Number(args.connections ?? (quick ? 4 : 10)),
  conversations: Number(args.conversations ?? (quick ? 300 : 20_000)),
};
for (const [k, v] of Object.entries(settings)) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k} must be a positive number`);
}
const scenarios = pick(SCENARIOS, args.scenario, 'scenario');
const engines = pick(ENGINES, args.engine, 'engine');
const onlyTargets = args.targets?.split(',').filter(Boolean);

function pick<T extends { name: string }>(all: T[], csv: string | undefined, what: string): T[] {
  if (!csv || csv === 'all') return all;
  return csv.split(',').map((n) => {
    const found = all.find((x) => x.name === n.trim());
    if (!found) throw new Error(`unknown ${what} ${n}; known: ${all.map((x) => x.name).join(', ')}`);
    return found;
  });
}

// ---- machine and pinning --------------------------------------------------------------------

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: os.availableParallelism(),
    cpu: model.trim(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const hasTaskset = (() => {
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const pinning = hasTaskset && os.availableParallelism() >= 2;
const SERVER_CORE = 0;
const LOAD_CORE = 1;

/** Pins every thread of a running process to one core (no-op where taskset or a 2nd core is missing). */
function pin(child: ChildProcess, core: number): void {
  if (!pinning || child.pid === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(child.pid)], { stdio: 'ignore' });
}

/** BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every Parley server process there (for diagnosis). */
const cpuProfDir = process.env.BENCH_CPU_PROF;

function forkTs(script: string, argv: string[], profile = false): ChildProcess {
  const prof = profile && cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  return fork(path.join(here, script), argv, {
    execArgv: ['--import', 'tsx', ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type?: string; message?: string }) => {
      if (m.type === type) {
        cleanup();
        resolve(m as T);
      } else if (m.type === 'error') {
        cleanup();
        reject(new Error(m.message));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited with ${code} before '${type}'`));
    };
    const cleanup = () => {
      child.off('message', onMsg);
      child.off('exit', onExit);
    };
    child.on('message', onMsg);
    child.on('exit', onExit);
  });
}

interface Running {
  def: TargetDef;
  child: ChildProcess;
  url: string;
}

async function startTarget(def: TargetDef): Promise<Running> {
  const child = forkTs(def.script, [JSON.stringify(def.options)], def.kind === 'parley');
  const { url } = await nextMessage<{ url: string }>(child, 'ready');
  pin(child, SERVER_CORE);
  return { def, child, url };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---- one scenario --------------------------------------------------------------------------

interface RoundRow extends LoadResult {
  round: number;
  target: string;
  /** Server CPU (user + system) per request, from /proc; NaN where /proc is missing. */
  cpuUsPerReq: number;
}

/** CPU seconds a process has used so far (all threads), or NaN without /proc. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are the 14th and 15th fields
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Both sides must answer the same JSON, or the comparison means nothing. Cursors differ by secret. */
async function sameAnswers(servers: Running[], sc: ScenarioDef, ds: Dataset): Promise<void> {
  const spec = sc.requests(ds)[0];
  if (!spec) throw new Error(`scenario ${sc.name} has no requests`);
  // keys sorted: a schema serializer writes declared properties before free ones, which is not a difference
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  const normalise = (text: string) => {
    const body = JSON.parse(text) as { meta?: { next_cursor?: unknown } };
    if (body.meta && typeof body.meta.next_cursor === 'string') body.meta.next_cursor = '<cursor>';
    return JSON.stringify(canonical(body));
  };
  let first: { name: string; text: string } | null = null;
  for (const s of servers) {
    const res = await request(s.url + spec.path, { headers: { authorization: `Bearer ${ds.apiKey}` } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${s.def.name} answered ${res.statusCode} to ${spec.path}: ${text}`);
    const norm = normalise(text);
    if (first === null) first = { name: s.def.name, text: norm };
    else if (norm !== first.text) {
      throw new Error(
        `${s.def.name} and ${first.name} answer ${spec.path} differently:\n${norm.slice(0, 2000)}\n${first.text.slice(0, 2000)}`,
      );
    }
  }
}

async function runScenario(engine: EngineDef, sc: ScenarioDef, ds: Dataset, servers: Running[], loader: ChildProcess) {
  await sameAnswers(servers, sc, ds);
  const requests = sc.requests(ds);
  const job = (url: string, seconds: number): LoadJob => ({
    type: 'run',
    url,
    requests,
    headers: { authorization: `Bearer ${ds.apiKey}` },
    connections: settings.connections,
    durationMs: seconds * 1000,
    maxRequests: 0,
  });
  const load = async (url: string, seconds: number) => {
    const reply = nextMessage<{ result: LoadResult }>(loader, 'result');
    loader.send(job(url, seconds));
    return (await reply).result;
  };
  for (const s of servers) await load(s.url, settings.warmupS);
  const rows: RoundRow[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const s of order) {
      const cpu0 = cpuSeconds(s.child.pid);
      const r = await load(s.url, settings.durationS);
      const cpuUsPerReq = ((cpuSeconds(s.child.pid) - cpu0) * 1e6) / r.requests;
      if (r.errors > 0) throw new Error(`${s.def.name}: ${r.errors} failed requests (first: ${r.firstError})`);
      rows.push({ round, target: s.def.name, ...r, cpuUsPerReq });
      process.stderr.write(
        `  ${sc.name} round ${round} ${s.def.name.padEnd(12)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  cpu ${cpuUsPerReq.toFixed(0)} us/req\n`,
      );
    }
  }
  const parleys = servers.filter((s) => s.def.kind === 'parley').map((s) => s.def.name);
  const peers = servers.filter((s) => s.def.kind === 'peer').map((s) => s.def.name);
  const per = (target: string) => rows.filter((r) => r.target === target);
  const summary = servers.map((s) => {
    const rs = per(s.def.name);
    return {
      target: s.def.name,
      kind: s.def.kind,
      medianRps: median(rs.map((r) => r.rps)),
      medianP50: median(rs.map((r) => r.p50)),
      medianP95: median(rs.map((r) => r.p95)),
      medianP99: median(rs.map((r) => r.p99)),
      medianCpuUs: median(rs.map((r) => r.cpuUsPerReq)),
    };
  });
  const ratios = parleys.flatMap((p, i) =>
    peers.map((peer) => {
      const perRound = Array.from({ length: settings.rounds }, (_, k) => {
        const a = per(p)[k];
        const b = per(peer)[k];
        return a && b ? a.rps / b.rps : Number.NaN;
      });
      const med = median(perRound);
      // only the first Parley variant (the production-like one) is judged against the target
      const target = i === 0 ? (engine.ratioTargets?.[sc.name]?.[peer] ?? sc.targets[peer] ?? null) : null;
      return { parley: p, peer, perRound, median: med, target, pass: target === null ? null : med >= target };
    }),
  );
  return { rows, summary, ratios };
}

// ---- output --------------------------------------------------------------------------------

type ScenarioResult = Awaited<ReturnType<typeof runScenario>>;

const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

function printTable(engine: string, sc: ScenarioDef, res: ScenarioResult): void {
  console.log(`\n${engine} / ${sc.name}: ${sc.description}`);
  console.log('round  target        req/s     p50 ms   p95 ms   p99 ms  cpu us/req');
  for (const r of res.rows) {
    console.log(
      `${String(r.round).padStart(5)}  ${r.target.padEnd(12)} ${f0(r.rps).padStart(7)}  ${f2(r.p50).padStart(8)} ${f2(r.p95).padStart(8)} ${f2(r.p99).padStart(8)} ${f0(r.cpuUsPerReq).padStart(11)}`,
    );
  }
  for (const s of res.summary) {
    console.log(
      `median ${s.target.padEnd(12)} ${f0(s.medianRps).padStart(7)}  ${f2(s.medianP50).padStart(8)} ${f2(s.medianP95).padStart(8)} ${f2(s.medianP99).padStart(8)} ${f0(s.medianCpuUs).padStart(11)}`,
    );
  }
  for (const r of res.ratios) {
    const verdict = r.target === null ? '(informational)' : `target >= ${r.target}x: ${r.pass ? 'PASS' : 'MISS'}`;
    console.log(`ratio ${r.parley}/${r.peer}: median ${f2(r.median)}x  [${r.perRound.map(f2).join(' ')}]  ${verdict}`);
  }
}

function markdownSection(
  engine: string,
  sc: ScenarioDef,
  res: ScenarioResult,
  meta: { date: string; machine: ReturnType<typeof machine>; loadAfter: number[]; ds: Dataset },
): string {
  const m = meta.machine;
  const lines = [
    `### ${engine} / ${sc.name}`,
    '',
    `${sc.description}.`,
    '',
    `- Date: ${meta.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.memGiB} GiB, ${m.platform}, Node ${m.node}`,
    `- Load average before / after: ${m.loadavg.join(' ')} / ${meta.loadAfter.join(' ')}` +
      (m.loadavg[0] !== undefined && m.loadavg[0] > 0.5 * m.nproc
        ? ' (shared machine, busy with other work: absolute numbers are noisy, the alternating-round ratios are the result)'
        : ''),
    `- Data: ${meta.ds.conversations} conversations, ${meta.ds.messages} messages in one workspace`,
    `- Load: ${settings.connections} keep-alive connections, ${settings.rounds} rounds x ${settings.durationS} s per target after a ${settings.warmupS} s warm-up; ${pinning ? `servers pinned to core ${SERVER_CORE}, load generator to core ${LOAD_CORE} (taskset)` : 'no pinning (taskset or a second core missing)'}`,
    '',
    '| target | median req/s | p50 ms | p95 ms | p99 ms | server CPU us/req |',
    '|---|---:|---:|---:|---:|---:|',
    ...res.summary.map(
      (s) =>
        `| ${s.target} | ${f0(s.medianRps)} | ${f2(s.medianP50)} | ${f2(s.medianP95)} | ${f2(s.medianP99)} | ${f0(s.medianCpuUs)} |`,
    ),
    '',
    '| ratio | median | per round | target |',
    '|---|---:|---|---|',
    ...res.ratios.map(
      (r) =>
        `| ${r.parley} / ${r.peer} | **${f2(r.median)}x** | ${r.perRound.map(f2).join(', ')} | ${r.target === null ? 'informational' : `>= ${r.target}x ${r.pass ? 'PASS' : 'MISS'}`} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

const MD_HEADER = `# Parley benchmark results

Written by \`npm run bench\` (bench/run.ts); each section is refreshed by the next run of its engine and scenario.

## Method

- A dataset is prepared in a fresh database: one workspace, N conversations of 2-6 messages each, columns
  filled as the API fills them (generated titles, context ids, metadata, counters, full-text index rows).
- Targets, each its own process, all on the same data: **parley** (createParley, log level silent),
  **parley-info** (log level info, written to /dev/null, so producing the log lines is measured), and the
  peer **node-http**: bare \`node:http\` + better-sqlite3 running the same SQL as prepared statements and
  answering the same JSON (checked before measuring: equal once keys are sorted, cursors aside), with API-key auth by
  SHA-256 of the bearer token through a prepared statement (revocation, expiry, scope checked).
- PostgreSQL (\`--engine postgres\`): the same data in a fresh database on the machine's server
  (test/helpers/postgres.ts, dropped afterwards); peers **node-http** (bare \`node:http\` + pg) and
  **express** (Express 5 + pg: auth middleware, routes, \`res.json()\`), both sending Parley's SQL text
  verbatim through a pg Pool of Parley's default size (10) with the same int8 parser, auth as above.
  The PostgreSQL server itself is not pinned: it shares the machine with everything else.
- The load generator is a separate process (undici Pool, C keep-alive connections, one request at a time per
  connection, every body read). Where \`taskset\` exists, the servers are pinned to core 0 and the load
  generator to core 1.
- Rounds alternate between targets, the order flipping every round; the reported ratio is the median over
  rounds of the per-round throughput ratio Parley / peer. Latency percentiles are the load generator's.
- Server CPU us/req: the server process's user + system CPU time (/proc) over a round divided by the
  requests it answered; much less disturbed than req/s by other work on a shared machine (informational).

## Results
`;

function writeMarkdown(file: string, key: string, section: string): void {
  const start = `<!-- bench:${key}:start -->`;
  const end = `<!-- bench:${key}:end -->`;
  mkdirSync(path.dirname(file), { recursive: true });
  let text = existsSync(file) ? readFileSync(file, 'utf8') : MD_HEADER;
  const block = `${start}\n${section}${end}\n`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + end.length + 1);
  else text = `${text.trimEnd()}\n\n${block}`;
  writeFileSync(file, text);
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const facts = machine();
  const date = new Date().toISOString();
  const day = date.slice(0, 10);
  console.log(
    `parley bench: ${facts.nproc} cores (${facts.cpu}), Node ${facts.node}, load average ${facts.loadavg.join(' ')}; ` +
      `${pinning ? 'pinned with taskset' : 'not pinned'}`,
  );
  const byScenario = new Map<string, unknown[]>();
  const failures: string[] = [];
  for (const sc of scenarios.filter((s) => s.standalone)) {
    const r = await sc.standalone?.({ quick });
    if (!r) continue;
    if (!r.pass) failures.push(sc.name);
    byScenario.set(sc.name, [{ date, scenario: sc.name, description: sc.description, machine: facts, ...r }]);
    writeMarkdown(args.md as string, r.key, r.markdown);
  }
  for (const engine of scenarios.some((s) => !s.standalone) ? engines : []) {
    const ds = await engine.prepare({ conversations: settings.conversations, quiet: false });
    const servers: Running[] = [];
    const loader = forkTs('load-worker.ts', []);
    try {
      await nextMessage(loader, 'ready');
      pin(loader, LOAD_CORE);
      const defs = engine.targets(ds).filter((t) => !onlyTargets || onlyTargets.includes(t.name));
      for (const def of defs) servers.push(await startTarget(def));
      for (const sc of scenarios.filter((s) => !s.standalone)) {
        const res = await runScenario(engine, sc, ds, servers, loader);
        printTable(engine.name, sc, res);
        for (const r of res.ratios) if (r.pass === false) failures.push(`${engine.name}/${sc.name}`);
        const record = {
          date,
          engine: engine.name,
          scenario: sc.name,
          description: sc.description,
          machine: facts,
          loadAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
          pinned: pinning,
          settings,
          dataset: { conversations: ds.conversations, messages: ds.messages },
          targets: servers.map((s) => ({ name: s.def.name, kind: s.def.kind })),
          ...res,
        };
        byScenario.set(sc.name, [...(byScenario.get(sc.name) ?? []), record]);
        writeMarkdown(
          args.md as string,
          `${engine.name}:${sc.name}`,
          markdownSection(engine.name, sc, res, { date, machine: facts, loadAfter: record.loadAfter, ds }),
        );
      }
    } finally {
      await Promise.all([...servers.map((s) => stop(s.child)), stop(loader)]);
      await ds.drop();
    }
  }
  mkdirSync(args.out as string, { recursive: true });
  for (const [name, records] of byScenario) {
    const file = path.join(args.out as string, `${day}-${name}.json`);
    writeFileSync(file, `${JSON.stringify({ scenario: name, runs: records }, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
  console.log(failures.length ? `targets missed: ${failures.join(', ')}` : 'all judged targets met');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
