import type { ExpressionBuilder, Kysely, RawBuilder, SelectQueryBuilder, sql } from 'kysely';
import type { ConversationsTable, Database } from '../schema.js';

/** A list query on `conversations as c` with every filter of a total but the search text. */
export type FilteredConversations = SelectQueryBuilder<Database & { c: ConversationsTable }, 'c', object>;

/**
 * The parts of storage that differ per engine: full-text indexing and search. Everything else
 * is one set of Kysely queries shared by SQLite and PostgreSQL.
 */
export interface SearchIndex {
  /** True when a row's score depends only on the row and the query (not on other rows). */
  readonly stableScores: boolean;
  /**
   * True when a search page should also count the conversations its ranked rows hold (before
   * any cursor or offset), so that searchPage answers the total from them when they already say
   * it: more than the cap, or every match (a narrowed search ranks them all). False: the total
   * is always counted on its own (countMatches or the generic count).
   */
  readonly windowTotal?: boolean;
  /** Extra column values for a message's INSERT (an engine that keeps its index in the row). */
  messageValues(content: string): Record<string, unknown>;
  /**
   * messageValues for a message INSERT compiled once (a template): `params` are the values bound
   * from the content, `values` the columns built from those bound parameters; `shape` names the
   * variant (the engine's).
   */
  readonly messageInsert: {
    shape: string;
    params(content: string): Record<string, unknown>;
    values(p: Record<string, unknown>): Record<string, unknown>;
  };
  /** Extra column values for a conversation's INSERT, or its UPDATE when the title changes. */
  titleValues(title: string | null): Record<string, unknown>;
  /** Loads what queries of this workspace need (awaited before matchCondition / ranked). */
  prepare(db: Kysely<Database>, workspaceId: string): Promise<void>;
  /** Indexes a message just inserted (`rowid` as the insert reported it, where the engine has one). */
  indexMessage(
    db: Kysely<Database>,
    workspaceId: string,
    m: { rowid: number | bigint | undefined; conversationId: string; content: string },
  ): Promise<void>;
  /** (Re-)indexes a conversation's title after its INSERT/UPDATE; null removes it. */
  indexTitle(db: Kysely<Database>, workspaceId: string, conversationId: string, title: string | null): Promise<void>;
  /** Re-indexes a message whose content was just updated (after its UPDATE, which carried messageValues). */
  reindexMessage(db: Kysely<Database>, workspaceId: string, messageId: string, content: string): Promise<void>;
  /** Removes a message's index entry (before its row goes); returns how many went (0 or 1). */
  removeMessage(db: Kysely<Database>, workspaceId: string, messageId: string): Promise<number>;
  /**
   * Removes every index entry of these conversations (before their rows go), one statement per
   * index for the whole list; returns how many went.
   */
  removeConversations(db: Kysely<Database>, workspaceId: string, conversationIds: readonly string[]): Promise<number>;
  /** A condition on `conversations` (aliased `c`) that keeps rows matching the text, or null for "matches nothing". */
  matchCondition(
    eb: ExpressionBuilder<Database & { c: ConversationsTable }, 'c'>,
    workspaceId: string,
    text: string,
  ): ReturnType<typeof sql<boolean>> | null;
  /**
   * The matching conversations' best hits, as a derived table joined as `best` with columns
   * `score` (lower is better) and `hit` (the best message's key, or null when the title is the
   * best hit), and the join condition onto `c`; null when the text matches nothing. With
   * `candidates`, only the newest `candidates` matching messages and the newest `candidates`
   * matching titles are ranked (taken from the index before any score is computed); null ranks
   * every match.
   */
  ranked(
    workspaceId: string,
    text: string,
    candidates: number | null,
  ): { source: RawBuilder<RankedHit>; on: RawBuilder<boolean> } | null;
  /**
   * Optional: how many conversations of `filtered` match the text, counted up to `cap + 1` (a
   * bounded total; the caller turns cap + 1 into "more than cap"). Without it the total counts
   * `filtered` narrowed by matchCondition.
   */
  countMatches?(
    db: Kysely<Database>,
    workspaceId: string,
    text: string,
    filtered: FilteredConversations,
    cap: number,
  ): Promise<number>;
  /** The messages behind `hit` keys, by String(key). */
  hitMessages(
    db: Kysely<Database>,
    workspaceId: string,
    hits: Array<number | string | null>,
  ): Promise<Map<string, { id: string; content: string }>>;
}

/**
 * Ranked search scores at most this many matching messages (and as many matching titles), the
 * newest, so a very common word costs a bounded amount: results are the best matches among the
 * newest hits (docs/search.md, "Candidate window").
 */
export const SEARCH_CANDIDATES = 2_000;

/** A row of SearchIndex.ranked's derived table. */
export interface RankedHit {
  score: number | string;
  hit: number | string | null;
  /**
   * windowTotal engines: true when a candidate window stopped at its limit (more matches exist
   * than were ranked), false when the ranked rows are every match.
   */
  cut?: boolean | null;
}
