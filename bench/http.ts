/**
 * The HTTP scenarios (get, list): Parley and its peers, each its own process pinned to the
 * server core, loaded over keep-alive connections by bench/load-worker.ts on the other core, on
 * the same data. Every target's answers are checked equal before timing. Primary figure: the
 * peer/Parley ratio of server CPU per request per round (from /proc: much less disturbed by
 * other work on the machine than req/s); throughput ratios beside it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import {
  alternate,
  assertSameAnswers,
  forkTs,
  LOAD_CORE,
  nextMessage,
  pin,
  pinningNote,
  type ReportSink,
  ratio,
  report,
  type Server,
  startServer,
  stop,
  summarise,
  type Verdict,
  verdict,
} from './harness.js';
import { type Dataset, ENGINES, type EngineDef } from './lib/engines.js';
import type { LoadJob, LoadResult, RequestSpec } from './load-worker.js';

export interface HttpScenario {
  name: string;
  description: string;
  /** Requests cycled through by every connection. */
  requests(ds: Dataset): RequestSpec[];
}

/** Deterministic sample of ids so every target sees the same request sequence. */
function sample<T>(items: readonly T[], count: number): T[] {
  const out: T[] = [];
  let x = 12345;
  for (let i = 0; i < Math.min(count, items.length * 4); i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(items[x % items.length] as T);
  }
  return out;
}

export const HTTP_SCENARIOS: HttpScenario[] = [
  {
    name: 'get',
    description: 'GET /v1/conversations/{id}: the conversation and its 200 most recent messages, ids rotating',
    requests: (ds) =>
      sample(ds.conversationIds, 4096).map((id) => ({ method: 'GET', path: `/v1/conversations/${id}` })),
  },
  {
    name: 'list',
    description: 'GET /v1/conversations: first 25-row page by updated_at desc, meta.total from counters',
    requests: () => [{ method: 'GET', path: '/v1/conversations' }],
  },
];

export interface HttpSettings {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  conversations: number;
  /** Only these targets (names), when given. */
  targets?: string[];
  /**
   * Other checkouts of Parley (worktree directories) whose own bench/servers/parley.ts runs as an
   * extra target `parley@<dir name>` on the same data, in the same alternating rounds: before / after
   * a change measured in the same minutes. Informational (CPU ratio against the judged Parley).
   */
  baselines?: string[];
}

export function httpSettings(quick: boolean, o: Partial<Record<keyof HttpSettings, string>>): HttpSettings {
  const list = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : undefined);
  const s = {
    rounds: Number(o.rounds ?? (quick ? 2 : 5)),
    durationS: Number(o.durationS ?? (quick ? 0.5 : 5)),
    // Parley's request path is much more code than the peer's: measured on one server under
    // steady load, its CPU per GET falls from ~490 to ~175-270 us over its first ~8 s at ~2,000
    // requests/s while V8 tiers it up, where the peer's is flat; 2 s left the first rounds judging the JIT
    warmupS: Number(o.warmupS ?? (quick ? 0.3 : 10)),
    connections: Number(o.connections ?? (quick ? 4 : 10)),
    conversations: Number(o.conversations ?? (quick ? 300 : 20_000)),
  };
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k} must be a positive number`);
  }
  const targets = list(o.targets);
  const baselines = list(o.baselines)?.map((d) => path.resolve(d));
  for (const d of baselines ?? []) {
    if (!existsSync(path.join(d, 'bench/servers/parley.ts')))
      throw new Error(`--baseline ${d}: no bench/servers/parley.ts`);
  }
  return { ...s, ...(targets ? { targets } : {}), ...(baselines ? { baselines } : {}) };
}

/** The answer both sides must give alike: the whole JSON, cursors aside (they differ by secret). */
async function answer(s: Server, path: string, apiKey: string): Promise<unknown> {
  const res = await request(s.url + path, { headers: { authorization: `Bearer ${apiKey}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${s.name} answered ${res.statusCode} to ${path}: ${text}`);
  const body = JSON.parse(text) as { meta?: { next_cursor?: unknown } };
  if (body.meta && typeof body.meta.next_cursor === 'string') body.meta.next_cursor = '<cursor>';
  return body;
}

async function runOne(
  engine: EngineDef,
  sc: HttpScenario,
  ds: Dataset,
  servers: Server[],
  loader: ReturnType<typeof forkTs>,
  settings: HttpSettings,
  sink: ReportSink,
): Promise<Verdict[]> {
  const requests = sc.requests(ds);
  for (const spec of requests.slice(0, 8)) {
    const answers = [];
    for (const s of servers) answers.push({ target: s.name, data: await answer(s, spec.path, ds.apiKey) });
    assertSameAnswers(spec.path, answers);
  }
  const load = async (url: string, seconds: number): Promise<LoadResult> => {
    const job: LoadJob = {
      type: 'run',
      url,
      requests,
      headers: { authorization: `Bearer ${ds.apiKey}` },
      connections: settings.connections,
      durationMs: seconds * 1000,
      maxRequests: 0,
    };
    const reply = nextMessage<{ result: LoadResult }>(loader, 'result');
    loader.send(job);
    return (await reply).result;
  };
  for (const s of servers) await load(s.url, settings.warmupS);
  const rows = await alternate(
    servers.map((s) => ({ name: s.name, kind: s.kind, pid: s.child.pid, url: s.url })),
    { rounds: settings.rounds, label: sc.name },
    async (t) => {
      const r = await load(t.url, settings.durationS);
      if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} failed requests (first: ${r.firstError})`);
      return { ops: r.requests, durationMs: r.durationMs, figures: { p50: r.p50, p95: r.p95, p99: r.p99 } };
    },
  );
  const parleys = servers.filter((s) => s.kind === 'parley').map((s) => s.name);
  const peers = servers.filter((s) => s.kind === 'peer').map((s) => s.name);
  const verdicts: Verdict[] = [];
  const judged = parleys[0];
  for (const base of parleys.filter((p) => p.startsWith('parley@'))) {
    if (judged === undefined || judged === base) continue;
    const c = ratio(rows, judged, base, 'cpu');
    verdicts.push(verdict(`${judged} vs ${base}, CPU per request (${base} / ${judged})`, c.median, 'x', null, c));
  }
  parleys.forEach((p, i) => {
    for (const peer of peers) {
      // only the first Parley variant (the production-like one) is judged
      const cpuGoal = i === 0 ? engine.cpuGoals[sc.name]?.[peer] : undefined;
      const tputGoal = i === 0 ? engine.throughputGoals?.[sc.name]?.[peer] : undefined;
      const c = ratio(rows, p, peer, 'cpu');
      const t = ratio(rows, p, peer, 'throughput');
      verdicts.push(
        verdict(
          `${p} vs ${peer}, CPU per request (${peer} / ${p})`,
          c.median,
          'x',
          cpuGoal ? { op: '>=', value: cpuGoal } : null,
          c,
        ),
        verdict(
          `${p} vs ${peer}, throughput (${p} / ${peer})`,
          t.median,
          'x',
          tputGoal ? { op: '>=', value: tputGoal } : null,
          t,
        ),
      );
    }
  });
  const summary = summarise(rows);
  report(sink, {
    key: `${engine.name}:${sc.name}`,
    title: `${engine.name} / ${sc.name}`,
    description: sc.description,
    facts: [
      `Data: ${ds.conversations} conversations, ${ds.messages} messages in one workspace (\`parley seed-data\` generator, seed 42)`,
      `Load: ${settings.connections} keep-alive connections, ${settings.rounds} rounds x ${settings.durationS} s per target after a ${settings.warmupS} s warm-up, order flipping each round; ${pinningNote}`,
      `Answers checked equal (keys sorted, cursors aside) on the first ${Math.min(8, requests.length)} requests before timing`,
    ],
    table: {
      head: ['target', 'median req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'server CPU us/req'],
      rows: summary.map((s) => [
        s.target,
        Math.round(s.perSecond),
        s.figures.p50 ?? Number.NaN,
        s.figures.p95 ?? Number.NaN,
        s.figures.p99 ?? Number.NaN,
        Math.round(s.cpuUsPerOp),
      ]),
    },
    verdicts,
    record: { settings, dataset: { conversations: ds.conversations, messages: ds.messages }, rows },
  });
  return verdicts;
}

/** Runs the chosen HTTP scenarios on the chosen engines; returns every verdict. */
export async function runHttp(
  scenarios: HttpScenario[],
  engineNames: string[],
  settings: HttpSettings,
  sink: ReportSink,
): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const engine of ENGINES.filter((e) => engineNames.includes(e.name))) {
    const ds = await engine.prepare(settings.conversations);
    const servers: Server[] = [];
    const loader = forkTs('load-worker.ts', []);
    try {
      await nextMessage(loader, 'ready');
      pin(loader.pid, LOAD_CORE);
      const defs = engine.targets(ds).filter((t) => !settings.targets || settings.targets.includes(t.name));
      for (const dir of settings.baselines ?? []) {
        // a directory named twice runs twice (two processes of one code: their spread is the noise)
        let name = `parley@${path.basename(dir)}`;
        for (let n = 2; defs.some((d) => d.name === name); n++) name = `parley@${path.basename(dir)}#${n}`;
        const options = { databaseUrl: ds.databaseUrl, log: 'silent' };
        defs.push({
          name,
          kind: 'parley',
          script: path.join(dir, 'bench/servers/parley.ts'),
          options,
        });
      }
      // BENCH_START_ORDER=reverse starts the targets last-first (the report keeps their order): to tell
      // an effect of being the first-started process from one of the code
      const startOrder = process.env.BENCH_START_ORDER === 'reverse' ? [...defs].reverse() : defs;
      const started = new Map<string, Server>();
      for (const d of startOrder) started.set(d.name, await startServer(d.name, d.kind, d.script, d.options));
      for (const d of defs) servers.push(started.get(d.name) as Server);
      for (const sc of scenarios) out.push(...(await runOne(engine, sc, ds, servers, loader, settings, sink)));
    } finally {
      await Promise.all([...servers.map((s) => stop(s.child)), stop(loader)]);
      await ds.drop();
    }
  }
  return out;
}
