/**
 * Summarises a V8 .cpuprofile (from BENCH_CPU_PROF): self time by function and by package,
 * so "where does Parley's time go" has a short answer. Usage: node --import tsx bench/profile-summary.ts FILE
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as { nodes: Node[] };
const total = prof.nodes.reduce((a, n) => a + n.hitCount, 0);
const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
for (const n of prof.nodes) {
  const url = n.callFrame.url;
  const pkg = url.includes('node_modules/')
    ? (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules')
    : url.includes('/packages/server/src/')
      ? `parley:${url.split('/packages/server/src/')[1]}`
      : url.startsWith('node:')
        ? url
        : url === ''
          ? `(${n.callFrame.functionName || 'native'})`
          : url;
  const fn = `${n.callFrame.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + n.hitCount);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + n.hitCount);
}
const top = (m: Map<string, number>, k: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
console.log(`samples: ${total}\n\nby package / file (self time):\n${top(byPkg, 25)}\n\nby function (self time):\n${top(byFn, 40)}`);
