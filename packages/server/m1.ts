import { createSqliteStore } from './src/store/sqlite/index.ts';
import { fts5Query, workspaceTag } from './src/store/sqlite/search.ts';
const store = createSqliteStore('sqlite:/tmp/sx/parley.db');
const wss = store.raw.prepare("SELECT w.rowid r, w.id, (SELECT value FROM counters WHERE workspace_id=w.id AND name='all') n FROM workspaces w ORDER BY n DESC").all() as any[];
const big = wss[0], small = wss[wss.length-1];
console.log('big', big.id, big.n, 'small', small.id, small.n);
const tag = workspaceTag(big.r);
const q = fts5Query(tag, 'rechnung')!;
console.log(store.raw.prepare(`EXPLAIN QUERY PLAN SELECT crow, hit, min(score) FROM (SELECT conv AS crow, rowid AS hit, bm25(message_idx) AS score FROM message_idx WHERE message_idx MATCH ? UNION ALL SELECT rowid, NULL, bm25(title_idx)*2 FROM title_idx WHERE title_idx MATCH ?) GROUP BY crow`).all(q, q).map((r: any) => r.detail).join('\n'));
const vocab = store.raw.prepare(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, message_idx, row)`).run();
const terms = store.raw.prepare(`SELECT term, doc FROM temp.v WHERE term LIKE ? ORDER BY doc DESC`).all(`${tag}\\_%`.replace('\\','')) as any[];
const pick = [0, 1, 3, 10, 30, 100, 300, 1000, 3000].map(i => terms[Math.min(i, terms.length-1)]).map((t: any) => ({ term: t.term.slice(tag.length+1), doc: t.doc }));
for (const ws of [big, small]) {
  for (const t of pick) {
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const rows = await store.searchConversations(ws.id, { archived: 'exclude', orderBy: 'relevance', order: 'desc', limit: 21, search: t.term });
      const tot = await store.totalConversations(ws.id, { archived: 'exclude', search: t.term }, 10000);
      times.push(performance.now() - s); n = tot.total;
    }
    times.sort((a, b) => a - b);
    console.log(ws === big ? 'big  ' : 'small', t.term.padEnd(14), 'docs(big)', String(t.doc).padStart(6), 'total', String(n).padStart(5), 'median ms', times[2]!.toFixed(1));
  }
}
