// How a test runs the `parley` CLI in a child process. The test runner (scripts/run-tests.mjs)
// bundles the server once (scripts/bundle.mjs) and names the bundle in PARLEY_TEST_SERVER_BUNDLE:
// children then start in ~1 CPU-second instead of ~2.6 through tsx (the slow suites start a few
// hundred). Without it (a test file run directly), and for the tests that prove the README's
// `npm start`, children run the TypeScript sources through tsx, as users do.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/server. */
export const SERVER_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The node arguments that run the CLI (the command's own arguments follow them). */
export function cliArgv(opts: { source?: boolean } = {}): string[] {
  const bundle = process.env.PARLEY_TEST_SERVER_BUNDLE;
  if (bundle && !opts.source) return [bundle];
  return ['--import', 'tsx', path.join(SERVER_ROOT, 'src/cli/main.ts')];
}
