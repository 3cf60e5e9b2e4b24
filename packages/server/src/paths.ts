/**
 * Where the server's files are, whether it runs from its TypeScript sources (through tsx: `npm
 * start`, bin/parley.mjs, the tests' in-process apps) or from the bundle that scripts/bundle.mjs
 * writes into dist/ (the test runner's spawned servers). This file (src/paths.ts) and the bundle's
 * files (dist/parley.mjs and the chunk this module lands in) all sit one folder below the package's
 * root, so one rule finds the root from either; the worker threads' entries differ (a TypeScript
 * module loaded through tsx, or a bundled twin beside the bundle).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/** True when this code runs from the TypeScript sources, false in the bundle. */
const FROM_SOURCE = HERE.endsWith('.ts');

/** packages/server. */
export const SERVER_ROOT = path.resolve(path.dirname(HERE), '..');

/**
 * The worker threads the server starts, by entry: the source module (from the package's root) and
 * the bundle's file (beside the bundle, which is this module's file then).
 */
const WORKERS = {
  export: { source: 'src/http/export-worker.ts', bundled: 'export-worker.mjs' },
  seed: { source: 'src/seed/gen-worker.ts', bundled: 'gen-worker.mjs' },
} as const;

export type WorkerName = keyof typeof WORKERS;

/**
 * A worker's script and the `execArgv` it needs (undefined: the worker inherits the process's
 * options, as Node does by default). An explicit list is checked option by option and refused
 * whole when it holds a per-process one — and a process's own `process.execArgv` can hold many (the
 * test runner hands its children every option it was given, `--stack-trace-limit=…`,
 * `--secure-heap=…`…) — so it is passed only where the worker needs something the process does
 * not have: from source, tsx's loader when bin/parley.mjs registered it from code rather than
 * through `--import`. The bundle needs nothing.
 */
export function workerEntry(name: WorkerName): { url: URL; execArgv: string[] | undefined } {
  if (!FROM_SOURCE)
    return { url: pathToFileURL(path.join(path.dirname(HERE), WORKERS[name].bundled)), execArgv: undefined };
  const url = pathToFileURL(path.join(SERVER_ROOT, WORKERS[name].source));
  if (process.execArgv.some((a) => a.includes('tsx'))) return { url, execArgv: undefined };
  return { url, execArgv: ['--import', import.meta.resolve('tsx')] };
}
