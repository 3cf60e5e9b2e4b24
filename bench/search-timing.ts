/**
 * Direct timing of ranked search through the store (no HTTP): top 21 by relevance plus the
 * bounded total, for common and rare terms in the largest and a small workspace of a cached
 * 1 M dataset. Usage: node --import tsx bench/search-timing.ts <database-url> [rounds]
 */
import { openStore } from '../packages/server/src/store/open.js';

const url = process.argv[2] ?? 'sqlite:bench/.data/sqlite-1m-seed1.db';
const rounds = Number(process.argv[3] ?? 5);
const BIG = 'ws_01KP770200M008FYZQ8YEBGVFY';
const SMALL = 'ws_01KP77020998JAF32K3RJ12KDC';
const TERMS = (process.env.TERMS ?? 'for,the,a,about,dashboard,budget offsite,zyzzyva').split(',');

const store = await openStore({ databaseUrl: url, pg: { statementTimeoutMs: 30_000 } }, { migrate: false });
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
for (const ws of [BIG, SMALL]) {
  for (const term of TERMS) {
    const rank: number[] = [];
    const tot: number[] = [];
    let n = 0;
    let total = 0;
    for (let i = 0; i < rounds; i++) {
      let t = process.hrtime.bigint();
      const rows = await store.read(ws, (r) =>
        r.conversations.search({ archived: 'exclude', search: term, orderBy: 'relevance', order: 'asc', limit: 21 }),
      );
      rank.push(ms(t));
      n = rows.length;
      t = process.hrtime.bigint();
      total = (await store.read(ws, (r) => r.conversations.total({ archived: 'exclude', search: term }, 10_000))).total;
      tot.push(ms(t));
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]?.toFixed(1);
    console.log(
      `${ws === BIG ? 'big  ' : 'small'} ${term.padEnd(16)} rows=${n} total=${total} rank_med=${med(rank)}ms total_med=${med(tot)}ms`,
    );
  }
}
await store.close();
