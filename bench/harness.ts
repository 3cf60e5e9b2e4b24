/**
 * The one benchmark harness every scenario runs on: processes forked and pinned to cores
 * (taskset, where present), alternating rounds (the order of targets flips every round, so drift
 * on a shared machine hits both sides alike), server CPU per request from /proc, an answer check
 * (Parley and its peer must return the same data, or the comparison means nothing), spreads
 * (min / median / max over rounds), and one report: a table per scenario, a verdict per row
 * against its goal, a RESULTS.md section, and the per-run JSON in an ignored folder (bench/out/).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
/** Per-run JSON goes here (ignored by git); RESULTS.md holds the summaries. */
export const defaultOutDir = path.join(benchDir, 'out');
export const defaultMarkdown = path.join(benchDir, 'RESULTS.md');

// ---- statistics ------------------------------------------------------------------------------

/** Percentile of an ascending-sorted array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
  values: number[];
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    min: finite.length ? Math.min(...finite) : Number.NaN,
    median: median(finite),
    max: finite.length ? Math.max(...finite) : Number.NaN,
    values: [...values],
  };
}

// ---- machine, processes, pinning, CPU --------------------------------------------------------

export function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: os.availableParallelism(),
    cpu: model.trim(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: loadavg(),
  };
}

export const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

const hasTaskset = (() => {
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** Whether processes are pinned: taskset is there and so is a second core. */
export const pinning = hasTaskset && os.availableParallelism() >= 2;
/** Servers under test run here... */
export const SERVER_CORE = 0;
/** ...and the load generator (or the driver) here. */
export const LOAD_CORE = 1;
export const pinningNote = pinning
  ? `servers pinned to core ${SERVER_CORE}, load generator / driver to core ${LOAD_CORE} (taskset)`
  : 'not pinned (taskset or a second core missing)';

/** Pins every thread of a running process to one core, or to a list of cores (no-op where taskset or a 2nd core is missing). */
export function pin(pid: number | undefined, core: number | readonly number[]): void {
  if (!pinning || pid === undefined) return;
  const cores = typeof core === 'number' ? String(core) : core.join(',');
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far, or NaN without /proc. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are the 14th and 15th fields
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every process forked with `profile` there. */
const cpuProfDir = process.env.BENCH_CPU_PROF;

/** Forks a TypeScript script of bench/ (or an absolute path) with tsx; IPC for control messages. */
export function forkTs(script: string, argv: string[], opts: { profile?: boolean; execArgv?: string[] } = {}) {
  const prof =
    opts.profile && cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, '--cpu-prof-interval=200'] : [];
  return fork(path.resolve(benchDir, script), argv, {
    execArgv: ['--import', 'tsx', ...prof, ...(opts.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The child's next IPC message of `type`; rejects on an `error` message or an early exit. */
export function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
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

/** A server under test, running in its own process. */
export interface Server {
  name: string;
  kind: 'parley' | 'peer';
  child: ChildProcess;
  url: string;
}

/**
 * Forks a server script (it answers IPC `ready` with its URL) and pins it to the server core, or to
 * `extra.cores` (a server whose threads may use both cores: the export scenario's Parley).
 */
export async function startServer(
  name: string,
  kind: 'parley' | 'peer',
  script: string,
  options: unknown,
  extra: { execArgv?: string[]; cores?: readonly number[] } = {},
): Promise<Server> {
  // peers too with BENCH_CPU_PROF_PEERS=1: where the bare side's time goes, for comparison
  const profile = kind === 'parley' || process.env.BENCH_CPU_PROF_PEERS === '1';
  // BENCH_PARLEY_EXEC_ARGV: node options for every Parley server (e.g. --max-semi-space-size=16)
  const parleyArgv = kind === 'parley' ? (process.env.BENCH_PARLEY_EXEC_ARGV ?? '').split(' ').filter(Boolean) : [];
  const child = forkTs(script, [JSON.stringify(options)], {
    profile,
    execArgv: [...parleyArgv, ...(extra.execArgv ?? [])],
  });
  const { url } = await nextMessage<{ url: string }>(child, 'ready');
  pin(child.pid, extra.cores ?? SERVER_CORE);
  return { name, kind, child, url };
}

/** Asks a child to stop (IPC `stop`), SIGKILL after 5 s. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---- alternating rounds ----------------------------------------------------------------------

/** What one turn of one target yields: operations done, time taken, and any figures of its own. */
export interface Sample {
  ops: number;
  durationMs: number;
  /** Scenario figures (p50, p95, …) kept per round and summarised by median. */
  figures?: Record<string, number>;
}

export interface RoundRow extends Sample {
  round: number;
  target: string;
  perSecond: number;
  /** The target process's CPU (user + system) per operation, µs; NaN when it has no process or /proc is missing. */
  cpuUsPerOp: number;
}

export interface RoundTarget {
  name: string;
  kind: 'parley' | 'peer';
  /** The process whose CPU is charged to this target (none: CPU is not measured). */
  pid?: number;
}

/**
 * Runs `measure` for every target, `rounds` times, the order flipping each round, after
 * `warmups` rounds that are run the same way and not kept.
 */
export async function alternate<T extends RoundTarget>(
  targets: readonly T[],
  opts: { rounds: number; warmups?: number; label?: string },
  measure: (target: T, round: number) => Promise<Sample>,
): Promise<RoundRow[]> {
  const rows: RoundRow[] = [];
  const warmups = opts.warmups ?? 0;
  for (let round = 1 - warmups; round <= opts.rounds; round++) {
    const order = (round + warmups) % 2 === 1 ? [...targets] : [...targets].reverse();
    for (const t of order) {
      const cpu0 = cpuSeconds(t.pid);
      const s = await measure(t, round);
      const cpuUsPerOp = t.pid === undefined ? Number.NaN : ((cpuSeconds(t.pid) - cpu0) * 1e6) / s.ops;
      if (round < 1) continue;
      const row: RoundRow = { ...s, round, target: t.name, perSecond: (s.ops / s.durationMs) * 1000, cpuUsPerOp };
      rows.push(row);
      const figs = Object.entries(s.figures ?? {})
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join('  ');
      process.stderr.write(
        `  ${opts.label ?? ''} round ${round} ${t.name.padEnd(12)} ${fmt(row.perSecond, 0).padStart(8)}/s  ${figs}${Number.isFinite(cpuUsPerOp) ? `  cpu ${fmt(cpuUsPerOp, 0)} us/op` : ''}\n`,
      );
    }
  }
  return rows;
}

export type RatioMetric = 'cpu' | 'throughput' | `figure:${string}`;

/**
 * Per-round ratio of `a` to `b`, oriented so that higher is better for `a`: throughput a/b,
 * CPU per op b/a (less CPU is better), a figure (a latency) b/a.
 */
export function ratio(rows: readonly RoundRow[], a: string, b: string, metric: RatioMetric): Spread {
  const byRound = new Map<number, { a?: RoundRow; b?: RoundRow }>();
  for (const r of rows) {
    const e = byRound.get(r.round) ?? {};
    if (r.target === a) e.a = r;
    if (r.target === b) e.b = r;
    byRound.set(r.round, e);
  }
  const value = (r: RoundRow | undefined) =>
    r === undefined
      ? Number.NaN
      : metric === 'cpu'
        ? r.cpuUsPerOp
        : metric === 'throughput'
          ? r.perSecond
          : (r.figures?.[metric.slice('figure:'.length)] ?? Number.NaN);
  const per = [...byRound.keys()]
    .sort((x, y) => x - y)
    .map((k) => {
      const e = byRound.get(k) ?? {};
      return metric === 'throughput' ? value(e.a) / value(e.b) : value(e.b) / value(e.a);
    });
  return spread(per);
}

/** Per target: median per-second rate, CPU per op and each figure over the kept rounds. */
export function summarise(rows: readonly RoundRow[]) {
  const names = [...new Set(rows.map((r) => r.target))];
  return names.map((target) => {
    const rs = rows.filter((r) => r.target === target);
    const figures: Record<string, number> = {};
    for (const k of new Set(rs.flatMap((r) => Object.keys(r.figures ?? {})))) {
      figures[k] = median(rs.map((r) => r.figures?.[k] ?? Number.NaN));
    }
    return {
      target,
      perSecond: median(rs.map((r) => r.perSecond)),
      cpuUsPerOp: median(rs.map((r) => r.cpuUsPerOp)),
      figures,
    };
  });
}

// ---- the answer check ------------------------------------------------------------------------

/** Keys sorted, recursively: a schema serializer writes declared properties before free ones, which is not a difference. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Throws unless every answer is the same once projected (`what` names the request). */
export function assertSameAnswers(what: string, answers: ReadonlyArray<{ target: string; data: unknown }>): void {
  const [first, ...rest] = answers;
  if (!first) return;
  const a = JSON.stringify(canonical(first.data));
  for (const other of rest) {
    const b = JSON.stringify(canonical(other.data));
    if (a !== b) {
      throw new Error(
        `answer check: ${other.target} and ${first.target} answer ${what} differently:\n${b.slice(0, 1500)}\n---\n${a.slice(0, 1500)}`,
      );
    }
  }
}

// ---- verdicts and the report -----------------------------------------------------------------

/** One judged row: a figure against its goal. */
export interface Verdict {
  /** The scenario it belongs to (`sqlite / get`), set by report(). */
  scope?: string;
  label: string;
  /** The figure, in `unit`. */
  value: number;
  /** For a ratio: the spread over rounds (min / median / max). */
  spread?: Spread;
  unit: string;
  goal: { op: '>=' | '<='; value: number } | null;
  pass: boolean | null;
}

export function verdict(label: string, value: number, unit: string, goal: Verdict['goal'], s?: Spread): Verdict {
  const pass =
    goal === null || !Number.isFinite(value) ? null : goal.op === '>=' ? value >= goal.value : value <= goal.value;
  return { label, value, unit, goal, pass, ...(s ? { spread: s } : {}) };
}

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function describeValue(v: Verdict): string {
  const main = `${fmt(v.value)}${v.unit}`;
  return v.spread ? `${main} (min ${fmt(v.spread.min)}, max ${fmt(v.spread.max)})` : main;
}

export function verdictText(v: Verdict): string {
  const goal = v.goal === null ? 'informational' : `goal ${v.goal.op} ${v.goal.value}${v.unit}`;
  const state = v.pass === null ? '' : v.pass ? ' MET' : ' NOT MET';
  return `${v.scope ? `${v.scope}: ` : ''}${v.label}: ${describeValue(v)}; ${goal}${state}`;
}

/** What a scenario hands the report: its table, its verdicts, and the record kept as JSON. */
export interface ScenarioReport {
  /** `<engine>:<scenario>`: the RESULTS.md section key and the JSON file name. */
  key: string;
  title: string;
  description: string;
  /** Facts printed above the table (data, load, rounds). */
  facts: string[];
  table: { head: string[]; rows: Array<Array<string | number>> };
  verdicts: Verdict[];
  record: unknown;
}

export interface ReportSink {
  outDir: string;
  markdown: string | null;
  date: string;
}

/** Prints the scenario's table and verdicts, writes its RESULTS.md section and its JSON. */
export function report(sink: ReportSink, r: ScenarioReport): void {
  for (const v of r.verdicts) v.scope = r.title;
  const cell = (x: string | number) => (typeof x === 'number' ? fmt(x, Math.abs(x) >= 100 ? 0 : 2) : x);
  const widths = r.table.head.map((h, i) =>
    Math.max(h.length, ...r.table.rows.map((row) => cell(row[i] ?? '').length)),
  );
  const line = (cells: Array<string | number>) =>
    cells.map((c, i) => (i === 0 ? cell(c).padEnd(widths[i] ?? 0) : cell(c).padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${r.title}: ${r.description}`);
  console.log(line(r.table.head));
  for (const row of r.table.rows) console.log(line(row));
  for (const v of r.verdicts) console.log(`  ${verdictText({ ...v, scope: undefined })}`);

  if (sink.markdown) {
    const m = machine();
    const section = [
      `### ${r.title}`,
      '',
      `${r.description}.`,
      '',
      `- Date: ${sink.date}; machine: ${m.nproc} cores (${m.cpu}), ${m.memGiB} GiB, Node ${m.node}; load average after: ${m.loadavg.join(' ')}`,
      ...r.facts.map((f) => `- ${f}`),
      '',
      `| ${r.table.head.join(' | ')} |`,
      `|${r.table.head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
      ...r.table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
      '',
      '| verdict | value (min / max over rounds) | goal | |',
      '|---|---|---|---|',
      ...r.verdicts.map(
        (v) =>
          `| ${v.label} | **${describeValue(v)}** | ${v.goal === null ? 'informational' : `${v.goal.op} ${v.goal.value}${v.unit}`} | ${v.pass === null ? '' : v.pass ? 'MET' : 'NOT MET'} |`,
      ),
      '',
    ].join('\n');
    writeSection(sink.markdown, r.key, section);
  }
  mkdirSync(sink.outDir, { recursive: true });
  const file = path.join(sink.outDir, `${sink.date.slice(0, 10)}-${r.key.replace(/:/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ key: r.key, date: sink.date, machine: machine(), verdicts: r.verdicts, record: r.record }, null, 1)}\n`,
  );
}

/** Replaces (or appends) the section between `<!-- bench:KEY:start -->` and `<!-- bench:KEY:end -->`. */
export function writeSection(file: string, key: string, section: string): void {
  const start = `<!-- bench:${key}:start -->`;
  const end = `<!-- bench:${key}:end -->`;
  mkdirSync(path.dirname(file), { recursive: true });
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Parley benchmark results\n';
  const block = `${start}\n${section}${end}\n`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + end.length + 1);
  else text = `${text.trimEnd()}\n\n${block}`;
  writeFileSync(file, text);
}
