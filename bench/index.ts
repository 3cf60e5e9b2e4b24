/**
 * npm run bench -- [options]   (the options and the environment it reads: USAGE below, or --help)
 *
 * The one entry for every benchmark, all on one harness (bench/harness.ts): the HTTP scenarios
 * (get, list: bench/http.ts), fan-out over Redis (bench/lib/fanout.ts), the bulk load (seed:
 * bench/seed.ts, SQLite), the scale scenarios on the 1 M-message dataset (bench/scale.ts) and the
 * data-lifecycle ones (bulk-delete, export, secure-delete, erase: bench/lifecycle.ts; --size names the
 * export's dataset, --conversations the bulk delete's and the erase's count).
 * Without --scenario every one runs, on both engines. Each prints its table and a verdict per
 * row against its goal, refreshes its section of bench/RESULTS.md and writes its JSON to
 * bench/out/ (ignored by git). The exit code is 0 when every run completed, whatever the verdicts.
 */
import { parseArgs } from 'node:util';
import { defaultMarkdown, defaultOutDir, type ReportSink, type Verdict, verdictText } from './harness.js';
import { HTTP_SCENARIOS, httpSettings, runHttp } from './http.js';
import { runFanoutScenario } from './lib/fanout.js';
import { SCALE_SCENARIOS } from './lib/scale-scenarios.js';
import { runSeed, seedSettings } from './seed.js';

const USAGE = `npm run bench -- [options]

  --scenario LIST     get,list,fanout,seed,search,deep-cursor,total,delete-big,append,
                      bulk-delete,export,secure-delete,erase (default: every one)
  --engine LIST       sqlite,postgres (default: both)
  --quick             small sizes and short rounds (a smoke run)
  --rounds N          measured rounds (each scenario has its own default)
  --size S            1m | 100k | quick: the scale and export datasets
  --duration S, --warmup S, --connections C, --conversations N, --targets a,b
                      get/list load shape (warm-up: 10 s per server before the rounds);
                      --conversations also sizes bulk-delete and erase
  --baseline DIR,DIR  get/list: other checkouts' Parley as extra targets in the same rounds
  --out DIR           JSON results (default bench/out, ignored by git)
  --md FILE|none      the Markdown file whose sections are refreshed (default bench/RESULTS.md)
  -h, --help          this text

Environment:
  PARLEY_BENCH_DB_TAG=NAME   datasets of your own (cached under bench/.data and in PostgreSQL
                             databases named with NAME), so parallel runs do not share one
  PARLEY_BENCH_PG_URL=URL    PostgreSQL admin connection (default postgres://postgres@127.0.0.1:5432/postgres)
  BENCH_CPU_PROF=DIR         --cpu-prof of each Parley server into DIR (BENCH_CPU_PROF_PEERS=1: peers too)
  BENCH_PARLEY_EXEC_ARGV="…" extra node flags for Parley's servers
  BENCH_START_ORDER=reverse  get/list: start the targets last-first
  BENCH_DELETES_PER_ROUND=N  delete-big: deletes per target and round (default 10)
  BENCH_APPEND_WRITERS=N     append: concurrent writers (default 50, issue 15's figure)
  BENCH_APPEND_COUNT=N       append: appends per target and round (default 2,000; 200 on --size quick)

Each scenario prints its table and a verdict per row; the exit code is 0 when every run completed,
whatever the verdicts.`;

function parseOptions() {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const OPTIONS = {
  scenario: { type: 'string' },
  engine: { type: 'string', default: 'sqlite,postgres' },
  quick: { type: 'boolean', default: false },
  rounds: { type: 'string' },
  out: { type: 'string', default: defaultOutDir },
  md: { type: 'string', default: defaultMarkdown },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  conversations: { type: 'string' },
  targets: { type: 'string' },
  baseline: { type: 'string' },
  size: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
const { values } = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const HTTP = HTTP_SCENARIOS.map((s) => s.name);
const SCALE = SCALE_SCENARIOS.map((s) => s.name);
const LIFECYCLE: readonly string[] = ['bulk-delete', 'export', 'secure-delete', 'erase'];
const KNOWN = [...HTTP, 'fanout', 'seed', ...SCALE, ...LIFECYCLE];
const wanted = values.scenario ? values.scenario.split(',').map((s) => s.trim()) : KNOWN;
const unknown = wanted.filter((s) => !KNOWN.includes(s));
if (unknown.length > 0) {
  console.error(`unknown scenario(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  process.exit(2);
}
const engines = (values.engine as string).split(',').map((e) => e.trim());
const badEngine = engines.filter((e) => e !== 'sqlite' && e !== 'postgres');
if (badEngine.length > 0) {
  console.error(`unknown engine(s) ${badEngine.join(', ')}; known: sqlite, postgres`);
  process.exit(2);
}
const quick = values.quick === true;
const sink: ReportSink = {
  outDir: values.out as string,
  markdown: values.md === 'none' ? null : (values.md as string),
  date: new Date().toISOString(),
};

async function main(): Promise<void> {
  const verdicts: Verdict[] = [];
  const http = HTTP_SCENARIOS.filter((s) => wanted.includes(s.name));
  if (http.length > 0) {
    const settings = httpSettings(quick, {
      rounds: values.rounds,
      durationS: values.duration,
      warmupS: values.warmup,
      connections: values.connections,
      conversations: values.conversations,
      targets: values.targets,
      baselines: values.baseline,
    });
    verdicts.push(...(await runHttp(http, engines, settings, sink)));
  }
  if (wanted.includes('fanout')) verdicts.push(...(await runFanoutScenario(quick, sink)));
  if (wanted.includes('seed') && engines.includes('sqlite')) {
    verdicts.push(...(await runSeed(seedSettings(quick, { size: values.size, rounds: values.rounds }), sink)));
  }
  const scale = SCALE_SCENARIOS.filter((s) => wanted.includes(s.name));
  if (scale.length > 0) {
    // loaded only when asked for: the 1 M dataset's code (and the CLI's progress bar it uses)
    const { runScale, scaleSettings } = await import('./scale.js');
    const settings = scaleSettings(quick, { size: values.size, rounds: values.rounds });
    verdicts.push(...(await runScale(scale, engines as Array<'sqlite' | 'postgres'>, settings, sink)));
  }
  const lifecycle = LIFECYCLE.filter((s) => wanted.includes(s));
  if (lifecycle.length > 0) {
    const { runLifecycle, lifecycleSettings } = await import('./lifecycle.js');
    const settings = lifecycleSettings(quick, {
      size: values.size,
      rounds: values.rounds,
      conversations: values.conversations,
    });
    verdicts.push(
      ...(await runLifecycle(
        lifecycle as Parameters<typeof runLifecycle>[0],
        engines as Array<'sqlite' | 'postgres'>,
        settings,
        sink,
      )),
    );
  }
  console.log('\nverdicts:');
  for (const v of verdicts) console.log(`  ${verdictText(v)}`);
  const missed = verdicts.filter((v) => v.pass === false).length;
  console.log(missed === 0 ? 'every judged goal met' : `${missed} judged goal(s) not met`);
  console.log(`per-run JSON in ${sink.outDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
