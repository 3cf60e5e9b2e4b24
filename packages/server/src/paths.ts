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
export const FROM_SOURCE = HERE.endsWith('.ts');

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
 * A worker's script and the `execArgv` it needs. From source: the TypeScript module, with tsx's
 * loader in `--import` (a worker inherits `--import tsx` from the process's flags, but not a loader
 * that bin/parley.mjs registered from code). In the bundle: the bundled file, the process's flags.
 */
export function workerEntry(name: WorkerName): { url: URL; execArgv: string[] } {
  const argv = process.execArgv;
  if (!FROM_SOURCE) return { url: pathToFileURL(path.join(path.dirname(HERE), WORKERS[name].bundled)), execArgv: argv };
  const execArgv = argv.some((a) => a.includes('tsx')) ? argv : [...argv, '--import', import.meta.resolve('tsx')];
  return { url: pathToFileURL(path.join(SERVER_ROOT, WORKERS[name].source)), execArgv };
}
