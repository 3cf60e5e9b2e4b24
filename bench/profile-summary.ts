/**
 * Summarises a V8 .cpuprofile (from BENCH_CPU_PROF): self time by function and by package,
 * so "where does Parley's time go" has a short answer.
 * Usage: node --import tsx bench/profile-summary.ts FILE [LAST_SECONDS]
 * With LAST_SECONDS only the samples of the profile's last seconds count (the steady load, not the
 * start-up: module loading and schema compilation), and idle time is left out of the percentages.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as {
  nodes: Node[];
  samples?: number[];
  timeDeltas?: number[];
};
const lastS = process.argv[3] ? Number(process.argv[3]) : null;
if (lastS !== null && prof.samples && prof.timeDeltas) {
  // recount hits from the sample stream, keeping the window's samples only and leaving idle out
  const times: number[] = [];
  let t = 0;
  for (const d of prof.timeDeltas) {
    t += d;
    times.push(t);
  }
  const from = t - lastS * 1e6;
  const idle = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const hits = new Map<number, number>();
  prof.samples.forEach((id, i) => {
    if ((times[i] as number) >= from && !idle.has(id)) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  for (const n of prof.nodes) n.hitCount = hits.get(n.id) ?? 0;
}
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
console.log(
  `samples: ${total}\n\nby package / file (self time):\n${top(byPkg, 25)}\n\nby function (self time):\n${top(byFn, 40)}`,
);

// inclusive time of Parley's own functions: which hook / service / repo call costs what
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const inclusive = new Map<number, number>();
const incl = (id: number): number => {
  const cached = inclusive.get(id);
  if (cached !== undefined) return cached;
  const n = byId.get(id) as Node;
  const v = n.hitCount + (n.children ?? []).reduce((a, c) => a + incl(c), 0);
  inclusive.set(id, v);
  return v;
};
const parleyIncl = new Map<string, number>();
const visit = (id: number, seen: Set<string>) => {
  const n = byId.get(id) as Node;
  const url = n.callFrame.url;
  let key: string | null = null;
  if (url.includes('/packages/server/src/') || url.includes('fastify/lib') || url.includes('prom-client')) {
    key = `${n.callFrame.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  }
  // count each function once per stack (recursion must not double count)
  const add = key !== null && !seen.has(key);
  if (add) parleyIncl.set(key as string, (parleyIncl.get(key as string) ?? 0) + n.hitCount);
  const next = add ? new Set(seen).add(key as string) : seen;
  for (const c of n.children ?? []) visit(c, next);
};
const root = prof.nodes[0];
if (root) {
  incl(root.id);
  // attribute every sample to each distinct Parley/Fastify function on its stack
  const walk = (id: number, stack: string[]) => {
    const n = byId.get(id) as Node;
    const url = n.callFrame.url;
    const key =
      url.includes('/packages/server/src/') || url.includes('fastify/lib') || url.includes('prom-client/lib')
        ? `${n.callFrame.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
        : null;
    const s = key && !stack.includes(key) ? [...stack, key] : stack;
    for (const k of s) parleyIncl.set(k, (parleyIncl.get(k) ?? 0) + n.hitCount);
    for (const c of n.children ?? []) walk(c, s);
  };
  parleyIncl.clear();
  walk(root.id, []);
  void visit;
}
console.log(`\ninclusive (Parley, Fastify, prom-client functions):\n${top(parleyIncl, 45)}`);
