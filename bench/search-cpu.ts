/**
 * Server CPU per search of a running Parley (any version): the bench's 40 search terms in one
 * workspace over HTTP, one at a time, a warm-up pass (whose answers are hashed, so two servers on
 * the same data can be shown to answer alike), then ROUNDS passes, each with the server process's
 * user + system CPU from /proc/PID/stat (10 ms ticks) divided by the searches.
 * Usage: node --import tsx bench/search-cpu.ts BASE_URL SERVER_PID API_KEY ROUNDS LABEL
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { searchTerms } from './lib/scale-scenarios.js';

const [url, pid, key, roundsS, label] = process.argv.slice(2);
const terms = searchTerms(40).map((t) => t.term);
/** The server's user and system CPU in ms (fields 14 and 15 of /proc/PID/stat, 10 ms ticks). */
const us = (): { user: number; sys: number } => {
  const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
};
const cpu = () => {
  const { user, sys } = us();
  return user + sys;
};
async function one(term: string) {
  const r = await fetch(`${url}/v1/conversations?search=${encodeURIComponent(term)}&per_page=20`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const j = (await r.json()) as { data: Array<{ id: string }>; meta: { total?: unknown } };
  if (!r.ok) throw new Error(JSON.stringify(j));
  return `${term}:${j.data.map((d) => d.id).join(',')}:${JSON.stringify(j.meta.total ?? null)}`;
}
const sig: string[] = [];
for (const t of terms) sig.push(await one(t)); // warm-up
console.log(label, 'answers sha', createHash('sha256').update(sig.join('\n')).digest('hex').slice(0, 16));
const per: number[] = [];
for (let r = 0; r < Number(roundsS); r++) {
  const c0 = cpu();
  const s0 = us().sys;
  const t0 = performance.now();
  for (const t of terms) await one(t);
  const ms = (cpu() - c0) / terms.length;
  console.log(label, `  of which sys ${((us().sys - s0) / terms.length).toFixed(1)} ms`);
  per.push(ms);
  console.log(
    label,
    `round ${r + 1}: ${ms.toFixed(1)} ms CPU/search, wall ${((performance.now() - t0) / terms.length).toFixed(1)} ms/search`,
  );
}
per.sort((a, b) => a - b);
console.log(label, 'median', per[Math.floor(per.length / 2)]?.toFixed(1), 'ms CPU/search');
