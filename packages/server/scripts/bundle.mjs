// Bundles the server into dist/ with esbuild: the CLI (dist/parley.mjs) and the worker threads'
// entries (dist/export-worker.mjs, dist/gen-worker.mjs), with our code and @parley/sdk's in chunks
// beside them (a command's modules load only when it runs, as from source), every npm dependency
// left as an import of node_modules. The same sources `npm start` runs through tsx,
// without the per-start cost of transpiling ~200 TypeScript modules (a start: ~2.6 CPU-s from
// source, ~1 from the bundle): the test runner bundles once and spawns its servers and CLI runs from
// it (PARLEY_TEST_SERVER_BUNDLE). src/paths.ts finds assets, the console and the workers from either.
//
//   node packages/server/scripts/bundle.mjs [outdir]     (default packages/server/dist)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Every dependency stays external except the workspace's SDK (TypeScript sources, no build). */
export function externals() {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => n !== '@parley/sdk');
  return names.flatMap((n) => [n, `${n}/*`]);
}

/** Writes the bundle; answers the path of dist/parley.mjs. The folder must sit one level below the package. */
export async function bundleServer(outdir = path.join(root, 'dist')) {
  if (path.dirname(path.resolve(outdir)) !== root) {
    throw new Error(`the bundle's folder must be a direct child of ${root} (src/paths.ts finds the root from it)`);
  }
  await build({
    entryPoints: {
      parley: path.join(root, 'src/cli/main.ts'),
      'export-worker': path.join(root, 'src/http/export-worker.ts'),
      'gen-worker': path.join(root, 'src/seed/gen-worker.ts'),
    },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // dynamic imports stay lazy (main.ts loads a command's modules, and their dependencies, only
    // when that command runs): shared code and each lazily imported part go into chunks
    splitting: true,
    // beside the entries: src/paths.ts, wherever it lands, must sit one folder below the package
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: externals(),
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return path.join(outdir, 'parley.mjs');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleServer(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`bundled: ${path.relative(process.cwd(), out)}`);
}
