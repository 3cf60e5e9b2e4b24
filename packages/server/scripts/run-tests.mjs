// Runs every *.test.ts under test/ with Node's test runner (through tsx), after saying which
// database engines this run covers. PARLEY_TEST_ENGINES=sqlite,postgres selects them; a test
// for an engine whose server is missing fails, it never skips.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const KNOWN = ['sqlite', 'postgres'];
const engines = (process.env.PARLEY_TEST_ENGINES ?? 'sqlite')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = engines.filter((e) => !KNOWN.includes(e));
if (unknown.length > 0) {
  console.error(`PARLEY_TEST_ENGINES: unknown engine(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  process.exit(2);
}
const skipped = KNOWN.filter((e) => !engines.includes(e));
console.log(
  `parley tests: node ${process.version}; engines run: ${engines.join(', ')}${skipped.length ? `; not run: ${skipped.join(', ')}${skipped.includes('postgres') ? ' and the scale-out suites (two instances, PostgreSQL restart, Redis faults)' : ''} (set PARLEY_TEST_ENGINES=${KNOWN.join(',')})` : ''}`,
);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}
// The browser test needs Debian's chromium. CI (PARLEY_TEST_BROWSER=1) always runs it, and it fails
// there when chromium is missing; a developer machine without chromium is told it was not run.
const hasChromium = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v chromium'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const runBrowser = process.env.PARLEY_TEST_BROWSER === '1' || hasChromium;
if (!runBrowser) {
  console.log('parley tests: not run: the browser test (apt-get install -y chromium, or set PARLEY_TEST_BROWSER=1)');
}
// Every app the tests build serves /console from packages/console/dist: build it once here, before
// any test starts (it would otherwise be built by the first server of each test process at once).
// PARLEY_TEST_CONSOLE_BUILT=1 skips it (CI's legs that run at the same time as each other, after a
// leg that built it: two builds at once would rewrite the files one leg's tests are serving).
const consoleBuild =
  process.env.PARLEY_TEST_CONSOLE_BUILT === '1'
    ? { status: 0 }
    : spawnSync(process.execPath, [path.join(root, '..', 'console', 'build.mjs')], { stdio: 'inherit' });
if (consoleBuild.status !== 0) {
  console.error('parley tests: the console build failed (packages/console/build.mjs)');
  process.exit(1);
}
// Spawned servers and CLI runs start from a bundle of the server (scripts/bundle.mjs; ~1 CPU-s a
// start against ~2.6 through tsx), made here once per run into a folder of this run's own (CI's
// legs run at the same time from one checkout) and removed at the end; tests find it in
// PARLEY_TEST_SERVER_BUNDLE (test/helpers/server-command.ts). PARLEY_TEST_SERVER=source runs every
// child from the TypeScript sources instead; the tests of `npm start` always do.
const childEnv = {};
if (process.env.PARLEY_TEST_SERVER !== 'source') {
  const bundleDir = path.join(root, `dist-test-${process.pid}`);
  process.on('exit', () => rmSync(bundleDir, { recursive: true, force: true }));
  try {
    const { bundleServer } = await import('./bundle.mjs');
    childEnv.PARLEY_TEST_SERVER_BUNDLE = await bundleServer(bundleDir);
  } catch (err) {
    console.error(`parley tests: bundling the server failed (scripts/bundle.mjs): ${err?.message ?? err}`);
    process.exit(1);
  }
}
// `--slow` (npm run test:slow) runs the long suites only: test/slow/ and *.slow.test.ts (the kill -9
// rounds, the soak); a plain run leaves them out.
const slow = process.argv.includes('--slow');
// `--runtime-subset` (CI's legs on the other Node majors the README names): the files whose subject
// is the runtime under Parley, on SQLite. The full suite runs on Node 24 (the shipped runtime); on
// 22 and 26 what can differ is Node itself and the native module, so the legs run what exercises
// them: HTTP parsing and raw sockets (battery, strict decoding, slow clients held by timeouts),
// streams and backpressure (export/import, SSE, idle WebSockets and a slow consumer), WebSockets
// (realtime, Lexicon's /ws/chat), fetch (SDK, webhooks), crypto (keys, ids, webhook signatures),
// Intl segmentation (search, the analyzer), worker threads (export workers, seed-data), child
// processes and signals (npm start and the bundle, shutdown), timers (group commit), Redis through
// ioredis, and better-sqlite3 (GC of statements, secure-delete settings, the core API, idempotency).
// Parley's own logic (compat mappings, lifecycle rules, tables of keys and routes, properties of
// the store) is the same on every runtime and runs on Node 24 only.
const runtimeSubset = process.argv.includes('--runtime-subset');
const RUNTIME_SUBSET = new Set([
  'abuse',
  'battery',
  'compat-lexicon-ws',
  'config',
  'conversations',
  'export-import',
  'export-lines',
  'group-commit',
  'idempotency',
  'ids.property',
  'keys',
  'realtime-redis',
  'realtime-sse',
  'realtime-stream',
  'runtime-gc',
  'sdk',
  'search',
  'search-analyzer.property',
  'seed-data',
  'server-bundle',
  'shutdown',
  'sqlite-erasure',
  'strict-decoding',
  'unicode',
  'webhooks',
]);
const inRuntimeSubset = (f) => RUNTIME_SUBSET.has(path.basename(f).replace(/\.test\.ts$/, ''));
const filter = process.argv.slice(2).filter((a) => a !== '--slow' && a !== '--runtime-subset');
const isSlow = (f) => f.includes(`${path.sep}test${path.sep}slow${path.sep}`) || f.endsWith('.slow.test.ts');
let files = collect(path.join(root, 'test'))
  .sort()
  .filter((f) => isSlow(f) === slow)
  .filter((f) => runBrowser || !f.endsWith('.browser.test.ts'))
  .filter((f) => !runtimeSubset || inRuntimeSubset(f));
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Every test (and hook) fails after 120 s, naming itself, instead of hanging the run on a lost
// event; suites known to be slower give their tests a larger `{ timeout }` of their own.
// PARLEY_TEST_TIMEOUT_MS overrides it (e.g. when stepping through a test in a debugger).
// Node 22 also applies --test-timeout to each file as a whole (a file of several long fault tests
// then fails at 120 s though each of its tests is within bounds): there the bound is 10 minutes.
const wholeFileBound = Number(process.versions.node.split('.')[0]) < 24;
const testTimeout = Number(process.env.PARLEY_TEST_TIMEOUT_MS ?? (wholeFileBound ? 600_000 : 120_000));
// Test files run two at a time by default (the machines have 2 cores); much of the suite waits on
// spawned servers, restarts and timers, so CI runs three (PARLEY_TEST_CONCURRENCY).
const concurrency = Number(process.env.PARLEY_TEST_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error('PARLEY_TEST_CONCURRENCY must be a positive whole number');
  process.exit(2);
}
if (runtimeSubset) {
  const missing = [...RUNTIME_SUBSET].filter((name) => !files.some((f) => path.basename(f) === `${name}.test.ts`));
  if (filter.length === 0 && missing.length > 0) {
    console.error(`parley tests: the runtime subset names files that do not exist: ${missing.join(', ')}`);
    process.exit(2);
  }
  console.log(`parley tests: the runtime subset, ${files.length} files`);
}
// PARLEY_TEST_CPU_REPORT=<file>: every test file's process writes its CPU seconds (its own, and its
// waited-for children's: spawned servers, CLI runs, chromium) there at exit (scripts/cpu-report.mjs),
// and the run ends with the files that cost most. Where the suite's time goes, on a machine whose
// wall time says little.
const cpuReport = process.env.PARLEY_TEST_CPU_REPORT ? path.resolve(process.env.PARLEY_TEST_CPU_REPORT) : null;
if (cpuReport) {
  writeFileSync(cpuReport, '');
  childEnv.PARLEY_TEST_CPU_REPORT = cpuReport;
  const hook = `--import=${pathToFileURL(path.join(root, 'scripts', 'cpu-report.mjs')).href}`;
  childEnv.NODE_OPTIONS = [process.env.NODE_OPTIONS, hook].filter(Boolean).join(' ');
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${testTimeout}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, ...childEnv, PARLEY_TEST_ENGINES: engines.join(',') } },
);
if (cpuReport) {
  const rows = readFileSync(cpuReport, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [file, own, children, wall] = l.split('\t');
      return { file, own: Number(own), children: Number(children), wall: Number(wall) };
    })
    .sort((a, b) => b.own + b.children - (a.own + a.children));
  const total = rows.reduce((n, r) => n + r.own + r.children, 0);
  console.log(
    `parley tests: CPU seconds of ${rows.length} test files: ${total.toFixed(1)} (own + waited-for children; ${cpuReport})`,
  );
  for (const r of rows.slice(0, 15)) {
    console.log(
      `  ${(r.own + r.children).toFixed(1).padStart(7)}  (own ${r.own.toFixed(1)}, children ${r.children.toFixed(1)}, wall ${r.wall.toFixed(0)} s)  ${r.file}`,
    );
  }
}
process.exit(result.status ?? 1);
