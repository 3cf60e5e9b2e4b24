/**
 * Where a search's time goes, part by part, in-process on the cached 1 M set: the bench's 40 search
 * terms in rotating workspaces (as the `search` scenario asks them), each through the store as the
 * service calls it — the ranked page alone (`search`), the bounded total alone (`total`), both
 * (`searchPage`) — and on SQLite the FTS5 parts under them: the candidate window (the newest 2,000
 * matching messages) with and without bm25, the same window for the exact word (no prefix
 * expansion), and a count of every matching message.
 *
 * Usage: node --import tsx bench/search-split.ts [sqlite|postgres] [PASSES]
 *
 * Wall time per call (performance.now): on a quiet machine SQLite's is its CPU (one thread, the
 * pages in the OS cache); PostgreSQL's is mostly its backend's work. Each part is run right after
 * the one before it for the same term, so the later parts find SQLite's page cache warm (the HTTP
 * scenario, one term per round, finds it colder). Reports the median over the passes (the first
 * is a warm-up) per term, then the median, mean and max over the 40 terms.
 */
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../packages/server/src/store/open.js';
import { fts5Query, workspaceTag } from '../packages/server/src/store/sqlite/search.js';
import { median } from './harness.js';
import { prepareScale } from './lib/scale-datasets.js';
import { searchTerms } from './lib/scale-scenarios.js';

const engine = process.argv[2] ?? 'sqlite';
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('engine: sqlite or postgres');
const passes = Number(process.argv[3] ?? 3);
const ds = await prepareScale(engine, '1m');
const store = await openStore({ databaseUrl: ds.databaseUrl });
const raw = engine === 'sqlite' ? new BetterSqlite3(ds.databaseUrl.slice('sqlite:'.length), { readonly: true }) : null;
const terms = searchTerms(40);
const now = () => performance.now();

const tagOf = new Map<string, string>();
const tagQuery = raw?.prepare('SELECT rowid AS r FROM workspaces WHERE id = ?');
for (const ws of ds.workspaces) if (tagQuery) tagOf.set(ws, workspaceTag((tagQuery.get(ws) as { r: number }).r));
const windowOf = (rank: boolean) =>
  raw?.prepare(
    `SELECT conv${rank ? ', bm25(message_idx)' : ''} FROM message_idx WHERE message_idx MATCH ? ORDER BY rowid DESC LIMIT 2000`,
  );
const ranked = windowOf(true);
const unranked = windowOf(false);
const countAll = raw?.prepare('SELECT count(*) AS n FROM message_idx WHERE message_idx MATCH ?');

const PARTS = ['page', 'total', 'searchPage', 'ftsWindowBm25', 'ftsWindowNoRank', 'ftsWindowExactWord', 'ftsAllHits'];
const kept = new Map<string, number[][]>(PARTS.map((p) => [p, []]));
const hits: number[] = [];
const timed = async <T>(row: Map<string, number[]>, part: string, fn: () => T | Promise<T>): Promise<T> => {
  const t = now();
  const out = await fn();
  row.get(part)?.push(now() - t);
  return out;
};

for (let pass = 0; pass <= passes; pass++) {
  const row = new Map<string, number[]>(PARTS.map((p) => [p, []]));
  for (let i = 0; i < terms.length; i++) {
    const ws = ds.workspaces[i % ds.workspaces.length] as string;
    const term = (terms[i] as { term: string }).term;
    const q = { archived: 'exclude' as const, search: term, orderBy: 'relevance' as const, order: 'asc' as const };
    await timed(row, 'page', () => store.read(ws, (r) => r.conversations.search({ ...q, limit: 21 })));
    await timed(row, 'total', () => store.read(ws, (r) => r.conversations.total(q, 1000)));
    await timed(row, 'searchPage', () => store.read(ws, (r) => r.conversations.searchPage({ ...q, limit: 21 }, 1000)));
    if (!ranked || !unranked || !countAll) continue;
    const match = fts5Query(tagOf.get(ws) as string, term) as string;
    await timed(row, 'ftsWindowBm25', () => ranked.all(match));
    await timed(row, 'ftsWindowNoRank', () => unranked.all(match));
    await timed(row, 'ftsWindowExactWord', () => ranked.all(match.replace(/\*$/, '')));
    const all = await timed(row, 'ftsAllHits', () => countAll.get(match) as { n: number });
    if (pass === 0) hits.push(all.n);
  }
  if (pass > 0) for (const [part, xs] of row) kept.get(part)?.push(xs);
}

console.log(`${engine}: per term the median over ${passes} passes (ms, wall); then over the 40 terms`);
for (const [part, rows] of kept) {
  if (rows.length === 0 || (rows[0] as number[]).length === 0) continue;
  const perTerm = terms.map((_, i) => median(rows.map((r) => r[i] as number)));
  const mean = perTerm.reduce((a, b) => a + b, 0) / perTerm.length;
  console.log(
    `${part.padEnd(20)} median ${median(perTerm).toFixed(2)}  mean ${mean.toFixed(2)}  max ${Math.max(...perTerm).toFixed(2)}`,
  );
}
if (hits.length > 0)
  console.log(`matching messages per term (prefix): median ${median(hits)}, max ${Math.max(...hits)}`);
await store.close();
raw?.close();
process.exit(0);
