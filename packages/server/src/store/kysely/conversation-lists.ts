import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import type { Conversation } from '../../domain/types.js';
import { QueryTemplate, TemplateFamily } from '../query-template.js';
import type { ConversationsTable, Database } from '../schema.js';
import type { ConversationFilter, ConversationListQuery, SearchRow, TotalAnswer } from '../types.js';
import { type Bound, hot } from './bound.js';
import { CONVERSATION_COLUMNS, num, toConversation } from './rows.js';
import { type RankedHit, SEARCH_CANDIDATES, type SearchIndex } from './search-index.js';

// Conversation lists of one workspace: filtered keyset pages, full-text search, and totals.

const countersByName = new QueryTemplate((db, p: { ws: string; a: string; b: string }) =>
  db.selectFrom('counters').select(['name', 'value']).where('workspace_id', '=', p.ws).where('name', 'in', [p.a, p.b]),
);

/** The filter fields that bind a value; which of them are present is part of a list query's shape. */
const FILTER_VALUES = [
  'userId',
  'botId',
  'contactId',
  'dealId',
  'matterId',
  'createdAfter',
  'createdBefore',
  'updatedAfter',
  'updatedBefore',
] as const;
type ListParams = Record<string, unknown>;
const conversationPages = new TemplateFamily<ListParams, Selectable<ConversationsTable>>();

function filteredOn(db: Kysely<Database>, search: SearchIndex, workspaceId: string, f: ConversationFilter) {
  // out of view (trash, erasing) is out of every list, search and count
  let q = db
    .selectFrom('conversations as c')
    .where('c.workspace_id', '=', workspaceId)
    .where('c.deleted_state', 'is', null);
  if (f.userId !== undefined) q = q.where('c.user_id', '=', f.userId);
  if (f.botId !== undefined) q = q.where('c.bot_id', '=', f.botId);
  if (f.contactId !== undefined) q = q.where('c.contact_id', '=', f.contactId);
  if (f.dealId !== undefined) q = q.where('c.deal_id', '=', f.dealId);
  if (f.matterId !== undefined) q = q.where('c.matter_id', '=', f.matterId);
  if (f.archived === 'exclude') q = q.where('c.archived', '=', 0);
  else if (f.archived === 'only') q = q.where('c.archived', '=', 1);
  if (f.createdAfter !== undefined) q = q.where('c.created_at', '>=', f.createdAfter);
  if (f.createdBefore !== undefined) q = q.where('c.created_at', '<', f.createdBefore);
  if (f.updatedAfter !== undefined) q = q.where('c.updated_at', '>=', f.updatedAfter);
  if (f.updatedBefore !== undefined) q = q.where('c.updated_at', '<', f.updatedBefore);
  if (f.search !== undefined) {
    const text = f.search;
    q = q.where((eb) => search.matchCondition(eb, workspaceId, text) ?? sql<boolean>`1 = 0`);
  }
  return q;
}

function listQueryOn(db: Kysely<Database>, search: SearchIndex, workspaceId: string, q: ConversationListQuery) {
  const col = q.orderBy === 'created_at' ? ('c.created_at' as const) : ('c.updated_at' as const);
  let query = filteredOn(db, search, workspaceId, q).select(CONVERSATION_COLUMNS);
  if (q.after) {
    const { value, id } = q.after;
    const cmp = q.order === 'desc' ? '<' : '>';
    // A row-value comparison, not (col < v OR (col = v AND id < i)): both engines seek the
    // (workspace_id, col, id) index with it, so a page deep in a big workspace costs what the
    // first page costs; the OR form made SQLite merge two index scans and sort (~100x slower at 1 M).
    query = query.where((eb) => eb(eb.refTuple(col, 'c.id'), cmp, eb.tuple(value, id)));
  }
  query = query.orderBy(col, q.order).orderBy('c.id', q.order).limit(q.limit);
  if (q.offset) query = query.offset(q.offset);
  return query;
}

/** What a counted search saw: the matching conversations its ranked rows held, before cursor and offset. */
interface WindowCount {
  n: number;
  /** True when the ranked rows are every match (no candidate window, or no window was cut). */
  all: boolean;
}

export async function searchConversations(
  b: Bound,
  q: ConversationListQuery,
  counted?: WindowCount,
): Promise<SearchRow[]> {
  await b.search.prepare(b.db, b.ws);
  // A narrowing filter applies after the candidate window, which could then miss every row it
  // keeps: such searches rank all matches (the filter bounds the answer, not the cost).
  const narrowed =
    q.userId !== undefined ||
    q.botId !== undefined ||
    q.contactId !== undefined ||
    q.dealId !== undefined ||
    q.matterId !== undefined ||
    q.createdAfter !== undefined ||
    q.createdBefore !== undefined ||
    q.updatedAfter !== undefined ||
    q.updatedBefore !== undefined;
  const ranked = b.search.ranked(b.ws, q.search ?? '', narrowed ? null : SEARCH_CANDIDATES);
  if (counted) counted.all = narrowed;
  if (ranked === null) return [];
  if (counted) return countedSearch(b, q, ranked, counted);
  let query = filteredOn(b.db, b.search, b.ws, { ...q, search: undefined })
    .innerJoin(ranked.source.as('best'), (j) => j.on(ranked.on))
    .select([...CONVERSATION_COLUMNS, 'best.score', 'best.hit']);
  if (q.orderBy === 'relevance') {
    if (q.after) {
      const { id } = q.after;
      let value = q.after.value;
      if (!b.search.stableScores) {
        // bm25 moves with corpus statistics: every write shifts every score a little, so the
        // page boundary is the anchor conversation's score now (its position among the others
        // holds), falling back to the cursor's value when the anchor no longer matches
        const anchor = await b.db
          .selectFrom('conversations as c')
          .innerJoin(ranked.source.as('best'), (j) => j.on(ranked.on))
          .select('best.score')
          .where('c.workspace_id', '=', b.ws)
          .where('c.id', '=', id)
          .executeTakeFirst();
        if (anchor) value = num(anchor.score);
      }
      query = query.where(sql<boolean>`(best.score > ${value} OR (best.score = ${value} AND c.id > ${id}))`);
    }
    query = query.orderBy('best.score').orderBy('c.id');
  } else {
    const col = q.orderBy === 'created_at' ? ('c.created_at' as const) : ('c.updated_at' as const);
    if (q.after) {
      const { value, id } = q.after;
      const cmp = q.order === 'desc' ? '<' : '>';
      query = query.where((eb) => eb.or([eb(col, cmp, value), eb.and([eb(col, '=', value), eb('c.id', cmp, id)])]));
    }
    query = query.orderBy(col, q.order).orderBy('c.id', q.order);
  }
  query = query.limit(q.limit);
  if (q.offset) query = query.offset(q.offset);
  return withHits(b, await query.execute());
}

type RankedRow = Parameters<typeof toConversation>[0] & RankedHit;

async function withHits(b: Bound, rows: RankedRow[]): Promise<SearchRow[]> {
  const messages = await b.search.hitMessages(
    b.db,
    b.ws,
    rows.map((r) => r.hit),
  );
  return rows.map((r) => {
    const conversation = toConversation(r);
    const m = r.hit === null ? undefined : messages.get(String(r.hit));
    const hit: SearchRow['hit'] = m
      ? { field: 'content', messageId: m.id, text: m.content }
      : { field: 'title', messageId: null, text: conversation.title ?? '' };
    return { conversation, score: num(r.score), hit };
  });
}

/**
 * A search page that also counts the matching conversations of its ranked rows (windowTotal):
 * the ranked join (filters applied) is a derived table carrying count(*) over all its rows, and
 * the cursor, order and limit apply outside it, so the count is the page's whole ranked set.
 * Only for stable scores (no anchor re-read; windowTotal engines have them).
 */
async function countedSearch(
  b: Bound,
  q: ConversationListQuery,
  ranked: NonNullable<ReturnType<SearchIndex['ranked']>>,
  counted: WindowCount,
): Promise<SearchRow[]> {
  const inner = filteredOn(b.db, b.search, b.ws, { ...q, search: undefined })
    .innerJoin(ranked.source.as('best'), (j) => j.on(ranked.on))
    .select([
      ...CONVERSATION_COLUMNS,
      'best.score',
      'best.hit',
      'best.cut',
      sql<number | string>`count(*) over ()`.as('window_n'),
    ]);
  let where = sql<boolean>`true`;
  let order: RawBuilder<unknown>;
  if (q.orderBy === 'relevance') {
    if (q.after) {
      const { value, id } = q.after;
      where = sql<boolean>`(s.score > ${value} OR (s.score = ${value} AND s.id > ${id}))`;
    }
    order = sql`s.score, s.id`;
  } else {
    const col = sql.ref(q.orderBy === 'created_at' ? 's.created_at' : 's.updated_at');
    const dir = sql.raw(q.order === 'desc' ? 'DESC' : 'ASC');
    if (q.after) {
      const { value, id } = q.after;
      const cmp = sql.raw(q.order === 'desc' ? '<' : '>');
      where = sql<boolean>`(${col} ${cmp} ${value} OR (${col} = ${value} AND s.id ${cmp} ${id}))`;
    }
    order = sql`${col} ${dir}, s.id ${dir}`;
  }
  const offset = q.offset ? sql` OFFSET ${q.offset}` : sql``;
  const r = await sql<RankedRow & { window_n: number | string }>`SELECT * FROM (${inner}) s
    WHERE ${where} ORDER BY ${order} LIMIT ${q.limit}${offset}`.execute(b.db);
  // count(*) over () sits on every row: an empty page (past the end) reads it again without the cursor
  const first = r.rows[0];
  if (first) {
    counted.n = num(first.window_n);
    if (first.cut === false) counted.all = true;
  } else if (q.after || q.offset) {
    const c = await b.db
      .selectFrom(inner.as('s'))
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    counted.n = num(c.n);
  } else counted.n = 0;
  return withHits(b, r.rows);
}

/** search(q) and its bounded total (ConversationReads.searchPage). */
export async function searchPage(
  b: Bound,
  q: ConversationListQuery,
  cap: number,
): Promise<{ rows: SearchRow[]; total: TotalAnswer }> {
  if (!b.search.windowTotal || !b.search.stableScores) {
    const total = await totalConversations(b, q, cap);
    return { total, rows: await searchConversations(b, q) };
  }
  const counted: WindowCount = { n: 0, all: false };
  const rows = await searchConversations(b, q, counted);
  // more than the cap among the ranked rows, or the ranked rows are every match: that is the total
  if (counted.n > cap) return { rows, total: { total: cap, exact: false } };
  if (counted.all) return { rows, total: { total: counted.n, exact: true } };
  return { rows, total: await totalConversations(b, q, cap) };
}

export async function listConversations(b: Bound, q: ConversationListQuery): Promise<Conversation[]> {
  if (q.search !== undefined || q.orderBy === 'relevance') {
    return (await searchConversations(b, q)).map((r) => r.conversation);
  }
  const present = FILTER_VALUES.filter((k) => q[k] !== undefined);
  const shape = [present.join(','), q.archived, q.orderBy, q.order, q.after ? 'after' : '', q.offset ? 'offset' : ''];
  const params: ListParams = { ws: b.ws, limit: q.limit };
  for (const k of present) params[k] = q[k];
  if (q.after) {
    params.afterValue = q.after.value;
    params.afterId = q.after.id;
  }
  if (q.offset) params.offset = q.offset;
  const search = b.search;
  const template = conversationPages.get(shape.join('|'), () => (db, p) => {
    const structure: ConversationListQuery = {
      archived: q.archived,
      orderBy: q.orderBy,
      order: q.order,
      limit: p.limit as number,
      after: q.after ? { value: p.afterValue as number, id: p.afterId as string } : undefined,
      offset: q.offset ? (p.offset as number) : undefined,
    };
    for (const k of present) (structure as unknown as Record<string, unknown>)[k] = p[k];
    return listQueryOn(db, search, p.ws as string, structure);
  });
  return (await hot(b, template, params)).map(toConversation);
}

export async function totalConversations(b: Bound, f: ConversationFilter, cap: number): Promise<TotalAnswer> {
  const onlyCounted =
    f.contactId === undefined &&
    f.dealId === undefined &&
    f.matterId === undefined &&
    f.search === undefined &&
    f.createdAfter === undefined &&
    f.createdBefore === undefined &&
    f.updatedAfter === undefined &&
    f.updatedBefore === undefined &&
    !(f.userId !== undefined && f.botId !== undefined);
  if (onlyCounted) {
    const [all, archived] =
      f.userId !== undefined
        ? [`user:${f.userId}`, `user_archived:${f.userId}`]
        : f.botId !== undefined
          ? [`bot:${f.botId}`, `bot_archived:${f.botId}`]
          : ['all', 'archived'];
    const rows = await hot(b, countersByName, { ws: b.ws, a: all, b: archived });
    const get = (n: string) => num(rows.find((r) => r.name === n)?.value ?? 0);
    const total =
      f.archived === 'include' ? get(all) : f.archived === 'only' ? get(archived) : get(all) - get(archived);
    return { total, exact: true };
  }
  // Bounded: count at most `cap` matching rows.
  if (f.search !== undefined) await b.search.prepare(b.db, b.ws);
  if (f.search !== undefined && b.search.countMatches) {
    const filtered = filteredOn(b.db, b.search, b.ws, { ...f, search: undefined });
    const n = await b.search.countMatches(b.db, b.ws, f.search, filtered, cap);
    return n > cap ? { total: cap, exact: false } : { total: n, exact: true };
  }
  const inner = filteredOn(b.db, b.search, b.ws, f)
    .select('c.id')
    .limit(cap + 1);
  const r = await b.db
    .selectFrom(inner.as('t'))
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  const n = num(r.n);
  return n > cap ? { total: cap, exact: false } : { total: n, exact: true };
}
