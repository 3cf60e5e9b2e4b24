/**
 * npm run bench -- [--scenario get,list,fanout,search,deep-cursor,total,delete-big,append] [--engine sqlite,postgres]
 *                  [--quick] [--rounds N] [--out DIR] [--md FILE] [run.ts or scale.ts options]
 *
 * One entry for every benchmark: the HTTP peer scenarios (get, list, fanout) run in bench/run.ts,
 * the scale scenarios (search, deep-cursor, total, delete-big, append, on the 1 M-message dataset)
 * in bench/scale.ts. Without --scenario both run, all scenarios, on both engines.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const HTTP = ['get', 'list', 'fanout'];
const SCALE = ['search', 'deep-cursor', 'total', 'delete-big', 'append'];
const COMMON = ['engine', 'quick', 'rounds', 'out', 'md'];
const HTTP_ONLY = ['duration', 'connections', 'conversations', 'targets'];
const SCALE_ONLY = ['size'];

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    engine: { type: 'string', default: 'sqlite,postgres' },
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    md: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    conversations: { type: 'string' },
    targets: { type: 'string' },
    size: { type: 'string' },
  },
});

const wanted = values.scenario ? values.scenario.split(',').map((s) => s.trim()) : [...HTTP, ...SCALE];
const unknown = wanted.filter((s) => !HTTP.includes(s) && !SCALE.includes(s));
if (unknown.length > 0) {
  console.error(`unknown scenario(s) ${unknown.join(', ')}; known: ${[...HTTP, ...SCALE].join(', ')}`);
  process.exit(2);
}

function forward(names: string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    const v = (values as Record<string, string | boolean | undefined>)[name];
    if (v === true) out.push(`--${name}`);
    else if (typeof v === 'string') out.push(`--${name}`, v);
  }
  return out;
}

function run(script: string, scenarios: string[], own: string[]): number {
  if (scenarios.length === 0) return 0;
  const args = [
    '--import',
    'tsx',
    path.join(here, script),
    '--scenario',
    scenarios.join(','),
    ...forward([...COMMON, ...own]),
  ];
  return spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
}

const http = run(
  'run.ts',
  wanted.filter((s) => HTTP.includes(s)),
  HTTP_ONLY,
);
const scale = run(
  'scale.ts',
  wanted.filter((s) => SCALE.includes(s)),
  SCALE_ONLY,
);
// a missed target is reported in the output and RESULTS.md; the exit code says whether every run completed and met its targets
process.exit(http || scale);
