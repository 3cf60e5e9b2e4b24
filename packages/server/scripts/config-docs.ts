/**
 * Rewrites every configuration table in README.md and docs/ from the spec (src/config/spec.ts).
 * `--check` changes nothing and exits 1 when a table differs from the spec.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configBlockCount, renderConfigBlocks } from '../src/config/table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** README.md and every Markdown page under docs/ that holds a config-table block. */
export function configDocs(): string[] {
  const pages = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return pages(full);
      return e.name.endsWith('.md') ? [full] : [];
    });
  return [path.join(root, 'README.md'), ...pages(path.join(root, 'docs'))].filter(
    (f) => configBlockCount(readFileSync(f, 'utf8')) > 0,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const file of configDocs()) {
    const before = readFileSync(file, 'utf8');
    const after = renderConfigBlocks(before);
    if (after === before) continue;
    stale++;
    if (check) process.stderr.write(`${path.relative(root, file)}: configuration table differs from the spec\n`);
    else {
      writeFileSync(file, after);
      process.stdout.write(`updated ${path.relative(root, file)}\n`);
    }
  }
  if (check && stale > 0) process.exit(1);
}
