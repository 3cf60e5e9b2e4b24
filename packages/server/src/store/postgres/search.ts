import { type Kysely, type RawBuilder, sql } from 'kysely';
import type pg from 'pg';
import { num } from '../kysely/rows.js';
import type { RankedHit, SearchIndex } from '../kysely/search-index.js';
import type { Database } from '../schema.js';
import { indexTokens, literalTerms, type SearchTerm } from '../search-terms.js';

/**
 * PostgreSQL full text (migration 4): a `search_tsv tsvector` column on messages (content) and on
 * conversations (title), written in the same INSERT/UPDATE as the text, with GIN indexes on
 * (workspace_id, search_tsv) (btree_gin), so a term's lookup is confined to one workspace.
 *
 * The tsvector is built from the shared analyzer's tokens (search-terms.ts) as a tsvector literal
 * (no PostgreSQL parser or dictionary involved), and queries are tsquery literals of the same
 * tokens: both engines tokenize identically, whatever the database's locale.
 */

/** PostgreSQL keeps positions up to 16383 and at most 256 per lexeme. */
const MAX_POSITION = 16_383;
const MAX_POSITIONS_PER_LEXEME = 256;
/** A title hit counts this many times a message hit of the same rank (as on SQLite). */
export const TITLE_WEIGHT = 2;

const lexeme = (t: string) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** The tsvector literal of a text (its tokens with positions). */
export function tsvLiteral(text: string): string {
  return tsvFromTokens(indexTokens(text));
}

/** The tsvector literal of already analyzed tokens (bulk loaders analyze on other threads). */
export function tsvFromTokens(tokens: readonly string[]): string {
  const positions = new Map<string, number[]>();
  tokens.forEach((t, i) => {
    const p = Math.min(i + 1, MAX_POSITION);
    let list = positions.get(t);
    if (list === undefined) {
      list = [];
      positions.set(t, list);
    }
    if (list.length < MAX_POSITIONS_PER_LEXEME && list[list.length - 1] !== p) list.push(p);
  });
  const parts: string[] = [];
  for (const [t, ps] of positions) parts.push(`${lexeme(t)}:${ps.join(',')}`);
  return parts.join(' ');
}

/** The tsquery literal for what a person typed: each term a phrase (<->), the last maybe a prefix (:*), ANDed. */
export function tsqueryLiteral(text: string): string | null {
  const terms = literalTerms(text);
  if (terms.length === 0) return null;
  return terms
    .map((t) => {
      const words = t.words.map((w, i) => (t.prefix && i === t.words.length - 1 ? `${lexeme(w)}:*` : lexeme(w)));
      return `(${words.join(' <-> ')})`;
    })
    .join(' & ');
}

/** Fills search_tsv for rows written before migration 4, in batches by primary key. */
export async function backfillPgSearch(client: pg.PoolClient | pg.Client): Promise<void> {
  for (const table of ['messages', 'conversations'] as const) {
    const col = table === 'messages' ? 'content' : 'title';
    let after: [string, string] = ['', ''];
    for (;;) {
      const r = await client.query<{ w: string; i: string; t: string | null }>(
        `SELECT workspace_id AS w, id AS i, ${col} AS t FROM ${table}
         WHERE (workspace_id, id) > ($1, $2) ORDER BY workspace_id, id LIMIT 2000`,
        after,
      );
      const last = r.rows[r.rows.length - 1];
      if (!last) break;
      after = [last.w, last.i];
      const rows = r.rows.filter((x) => x.t !== null);
      if (rows.length === 0) continue;
      await client.query(
        `UPDATE ${table} SET search_tsv = v.t::tsvector
         FROM unnest($1::text[], $2::text[], $3::text[]) AS v(w, i, t)
         WHERE ${table}.workspace_id = v.w AND ${table}.id = v.i`,
        [rows.map((x) => x.w), rows.map((x) => x.i), rows.map((x) => tsvLiteral(x.t as string))],
      );
    }
  }
}

export const pgSearch: SearchIndex = {
  // ts_rank_cd reads only the row's own tsvector
  stableScores: true,
  // a page's ranked rows often hold more than the total's cap of conversations: then the total
  // needs no count of its own (searchPage)
  windowTotal: true,
  messageValues: (content) => ({ search_tsv: sql`${tsvLiteral(content)}::tsvector` }),
  messageInsert: {
    shape: 'tsv',
    params: (content) => ({ tsv: tsvLiteral(content) }),
    values: (p) => ({ search_tsv: sql`${p.tsv}::tsvector` }),
  },
  titleValues: (title) => ({ search_tsv: title === null ? null : sql`${tsvLiteral(title)}::tsvector` }),
  async prepare() {},
  async indexMessage() {},
  async indexTitle() {},

  async reindexMessage() {
    // the UPDATE wrote search_tsv through messageValues
  },

  async removeMessage(db, workspaceId, messageId) {
    // the tsvector is in the row and goes with it; counted as SQLite counts its entry
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM messages
      WHERE workspace_id = ${workspaceId} AND id = ${messageId}`.execute(db);
    return Number(r.rows[0]?.n ?? 0);
  },

  async removeConversations(db, workspaceId, conversationIds) {
    if (conversationIds.length === 0) return 0;
    // The index entries go with their rows; count them the way the SQLite index does (one per
    // message, one per title) so the audit event reads the same on both engines.
    const r = await sql<{ n: number }>`
      SELECT (SELECT count(*) FROM messages
              WHERE workspace_id = ${workspaceId} AND conversation_id = ANY(${conversationIds}::text[]))
           + (SELECT count(*) FROM conversations
              WHERE workspace_id = ${workspaceId} AND id = ANY(${conversationIds}::text[]) AND title IS NOT NULL) AS n`.execute(
      db,
    );
    return Number(r.rows[0]?.n ?? 0);
  },

  matchCondition(_eb, workspaceId, text) {
    const q = tsqueryLiteral(text);
    if (q === null) return null;
    // One IN over a UNION ALL (a semi-join): `IN (titles) OR IN (messages)` made PostgreSQL test
    // each conversation against an unhashed list of a common word's matching messages (> 30 s at
    // 1 M messages)
    return sql<boolean>`c.id IN (SELECT t.id FROM conversations t
        WHERE t.workspace_id = ${workspaceId} AND t.search_tsv @@ ${q}::tsquery
      UNION ALL
      SELECT m.conversation_id FROM messages m
        WHERE m.workspace_id = ${workspaceId} AND m.search_tsv @@ ${q}::tsquery)`;
  },

  ranked(workspaceId, text, candidates) {
    const q = tsqueryLiteral(text);
    if (q === null) return null;
    // The candidates are the newest matches (ids are ULIDs: id order is creation order), cut
    // before any ts_rank_cd runs. The planner picks by the term's frequency: a rare word through
    // the (workspace_id, search_tsv) GIN index and a top-N sort on id; a very common one by
    // walking the primary key backwards and testing @@ until it has the candidates.
    const messages = sql`SELECT x.conversation_id AS cid, x.id AS hit, x.search_tsv AS tsv FROM messages x
      WHERE x.workspace_id = ${workspaceId} AND x.search_tsv @@ ${q}::tsquery`;
    const titles = sql`SELECT x.id AS cid, x.search_tsv AS tsv FROM conversations x
      WHERE x.workspace_id = ${workspaceId} AND x.search_tsv @@ ${q}::tsquery`;
    // ts_rank_cd with normalization 1 (divided by 1 + log length); negated so that, as with
    // SQLite's bm25, lower is better; float8 so the value round-trips exactly through a cursor
    const best = (m: RawBuilder<unknown>, t: RawBuilder<unknown>, cut: RawBuilder<unknown>) =>
      sql`SELECT DISTINCT ON (cid) cid, hit, score, ${cut} AS cut FROM (
          SELECT m.cid, m.hit, -(ts_rank_cd(m.tsv, ${q}::tsquery, 1)::float8) AS score FROM ${m} m
          UNION ALL
          SELECT t.cid, NULL, -(ts_rank_cd(t.tsv, ${q}::tsquery, 1)::float8) * ${TITLE_WEIGHT} FROM ${t} t
        ) h ORDER BY cid, score, hit NULLS FIRST`;
    if (candidates === null) {
      return {
        source: sql<RankedHit>`(${best(sql`(${messages})`, sql`(${titles})`, sql`false`)})`,
        on: sql<boolean>`best.cid = c.id`,
      };
    }
    // Each window kept once (MATERIALIZED), so that every row can also say whether a window was
    // cut at its limit: when neither was, the ranked rows are every match (searchPage's total).
    return {
      source: sql<RankedHit>`(WITH mw AS MATERIALIZED (${messages} ORDER BY x.id DESC LIMIT ${candidates}),
          tw AS MATERIALIZED (${titles} ORDER BY x.id DESC LIMIT ${candidates})
        ${best(sql`mw`, sql`tw`, sql`((SELECT count(*) FROM mw) >= ${candidates} OR (SELECT count(*) FROM tw) >= ${candidates})`)})`,
      on: sql<boolean>`best.cid = c.id`,
    };
  },

  async hitMessages(db, workspaceId, hits) {
    const keys = hits.filter((h): h is number | string => h !== null).map(String);
    const out = new Map<string, { id: string; content: string }>();
    if (keys.length === 0) return out;
    const rows = await sql<{ id: string; content: string }>`SELECT id, content FROM messages
      WHERE workspace_id = ${workspaceId} AND id IN (${sql.join(keys)})`.execute(db);
    for (const r of rows.rows) out.set(r.id, { id: r.id, content: r.content });
    return out;
  },
};

/**
 * How the bounded total of a search is counted (countMatches): `index` takes every match from the
 * GIN index, `scan` walks the newest conversations first; `auto` picks by the text's share of
 * messages in the planner statistics. The result is the same either way; tests force each.
 */
export type TotalPlan = 'auto' | 'index' | 'scan';

/**
 * A text whose every term is in at least this share of messages counts through the scan. Below it
 * the index plan reads fewer pages (a 6 %-word: 7 k buffers against 39 k; a 17 %-word: 6 k against
 * 22 k); above it the index plan's bitmap over a very common prefix can go lossy and re-test whole
 * pages (`with:*`, 45 %: 63 k buffers against 12 k), or the planner seq-scans the whole table for
 * it, while the scan stays at 6-12 k (EXPLAIN ANALYZE at 1 M messages, bench/RESULTS.md).
 */
export const COMMON_SHARE = 0.25;
/** The scan tests at most this many conversations per cap + 1 it needs before it falls back to the index. */
const SCAN_PER_HIT = 4;
/** Planner statistics are re-read at most this often. */
const STATS_TTL_MS = 60_000;

/** Lexeme frequencies of messages.search_tsv from pg_stats (ANALYZE's most common elements). */
interface LexemeStats {
  at: number;
  share: Map<string, number>;
  /** Sorted, for prefix sums. */
  sorted: string[];
}

async function readLexemeStats(db: Kysely<Database>): Promise<LexemeStats> {
  const r = await sql<{ elems: string[] | null; freqs: number[] | null }>`
    SELECT array_to_json(s.most_common_elems::text::text[]) AS elems,
           array_to_json(s.most_common_elem_freqs) AS freqs
    FROM pg_stats s
    WHERE s.schemaname = current_schema() AND s.tablename = 'messages' AND s.attname = 'search_tsv'`.execute(db);
  const row = r.rows[0];
  const share = new Map<string, number>();
  const elems = row?.elems ?? [];
  const freqs = row?.freqs ?? [];
  elems.forEach((e, i) => {
    share.set(e, Number(freqs[i] ?? 0));
  });
  return { at: Date.now(), share, sorted: [...share.keys()].sort() };
}

/** The share of messages holding a word (a prefix: any word it starts), 0 when below the statistics' floor. */
function wordShare(stats: LexemeStats, word: string, prefix: boolean): number {
  if (!prefix) return stats.share.get(word) ?? 0;
  let lo = 0;
  let hi = stats.sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((stats.sorted[mid] as string) < word) lo = mid + 1;
    else hi = mid;
  }
  let sum = 0;
  for (let i = lo; i < stats.sorted.length && (stats.sorted[i] as string).startsWith(word); i++) {
    sum += stats.share.get(stats.sorted[i] as string) ?? 0;
  }
  return Math.min(1, sum);
}

/** An upper bound of the share of messages matching every term (each term's rarest word). */
export function textShare(stats: LexemeStats, terms: readonly SearchTerm[]): number {
  let share = 1;
  for (const t of terms) {
    t.words.forEach((w, i) => {
      share = Math.min(share, wordShare(stats, w, t.prefix && i === t.words.length - 1));
    });
  }
  return terms.length === 0 ? 0 : share;
}

export interface PgSearch extends SearchIndex {
  /** Forces the total's plan (tests); `auto` by default. */
  totalPlan: TotalPlan;
}

/** One per store: it caches the planner statistics of its database. */
export function createPgSearch(): PgSearch {
  let stats: LexemeStats | null = null;
  let loading: Promise<LexemeStats> | null = null;
  const statsOf = async (db: Kysely<Database>): Promise<LexemeStats> => {
    if (stats !== null && Date.now() - stats.at < STATS_TTL_MS) return stats;
    loading ??= readLexemeStats(db).finally(() => {
      loading = null;
    });
    stats = await loading;
    return stats;
  };
  return {
    ...pgSearch,
    totalPlan: 'auto',

    async countMatches(db, workspaceId, text, filtered, cap) {
      const q = tsqueryLiteral(text);
      if (q === null) return 0;
      const tsq = sql`${q}::tsquery`;
      // Every match (titles and messages) from the GIN indexes, each conversation once as it streams
      // (a recursive CTE's UNION drops repeats without waiting for the end of its input), so the
      // join stops at cap + 1 conversations: a common word fetches the rows of about cap + 1
      // conversations' matches instead of every match (a GROUP BY or IN would read them all).
      const hits = sql<{ cid: string }>`(WITH RECURSIVE hit(cid) AS (
        (SELECT t.id FROM conversations t WHERE t.workspace_id = ${workspaceId} AND t.search_tsv @@ ${tsq}
         UNION ALL
         SELECT m.conversation_id FROM messages m WHERE m.workspace_id = ${workspaceId} AND m.search_tsv @@ ${tsq})
        UNION SELECT cid FROM hit WHERE false)
      SELECT cid FROM hit)`;
      const every = filtered
        .innerJoin(hits.as('h'), (j) => j.onRef('h.cid', '=', 'c.id'))
        .select('c.id')
        .limit(cap + 1);
      let plan = this.totalPlan;
      if (plan === 'auto') plan = textShare(await statsOf(db), literalTerms(text)) >= COMMON_SHARE ? 'scan' : 'index';
      if (plan === 'index') {
        const r = await db
          .selectFrom(every.as('e'))
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow();
        return num(r.n);
      }
      // A common word: the newest conversations first, each tested by its title, then its messages
      // until the first match (a scalar subquery with LIMIT 1 stays a per-row test; the planner
      // would turn EXISTS into a join over every match). At most SCAN_PER_HIT * (cap + 1) of them:
      // a word common elsewhere but rare in this workspace then falls back to the index count,
      // evaluated only in that case (a CASE branch's subquery runs only when taken).
      const newest = filtered
        .select(['c.workspace_id as w', 'c.id as i', 'c.search_tsv as t'])
        .orderBy('c.id', 'desc')
        .limit(SCAN_PER_HIT * (cap + 1));
      const found = db
        .selectFrom(newest.as('n'))
        .select(sql<number>`1`.as('one'))
        .where(
          sql<boolean>`(n.t @@ ${tsq} OR (SELECT true FROM messages m
          WHERE m.workspace_id = n.w AND m.conversation_id = n.i AND m.search_tsv @@ ${tsq} LIMIT 1))`,
        )
        .limit(cap + 1);
      // When the workspace has fewer such conversations than the scan may test, the scan saw all
      // of them and its count is the answer: no fallback.
      const seen = filtered
        .select('c.id')
        .orderBy('c.id', 'desc')
        .limit(SCAN_PER_HIT * (cap + 1));
      const r = await sql<{
        n: number | string;
      }>`WITH f AS MATERIALIZED (SELECT count(*) AS n FROM (${found}) f) SELECT CASE
        WHEN (SELECT n FROM f) > ${cap} THEN ${cap + 1}
        WHEN (SELECT count(*) FROM (${seen}) s) < ${SCAN_PER_HIT * (cap + 1)} THEN (SELECT n FROM f)
        ELSE (SELECT count(*) FROM (${every}) e) END AS n`.execute(db);
      return num(r.rows[0]?.n ?? 0);
    },
  };
}
