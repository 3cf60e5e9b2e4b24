import { type Kysely, sql } from 'kysely';
import type { EngineStatements } from '../kysely/bound.js';
import { ERASED_ANSWER_STATUS } from '../kysely/idempotency.js';
import { toConversation } from '../kysely/rows.js';
import type { ConversationsTable, Database } from '../schema.js';
import type { ErasedMany, ErasedRows } from '../types.js';

/**
 * The parts both erase statements share, each joined to `conv` (the locked conversations): the
 * child rows deleted (tools, msgs, evs: the foreign keys are checked at the end of the statement,
 * when all of them are gone), the stored answers that carry the content turned into tombstones
 * (idem), and the counter names a conversation in view counts under (store/counters.ts
 * `counterNames`), as `n(name)` rows of a LATERAL join.
 */
const CHILD_DELETES = sql`tools AS (
      DELETE FROM tool_invocations t USING conv
      WHERE t.workspace_id = conv.workspace_id AND t.conversation_id = conv.id RETURNING 1
    ), msgs AS (
      DELETE FROM messages m USING conv
      WHERE m.workspace_id = conv.workspace_id AND m.conversation_id = conv.id RETURNING 1
    ), evs AS (
      DELETE FROM conversation_events e USING conv
      WHERE e.workspace_id = conv.workspace_id AND e.conversation_id = conv.id RETURNING 1`;
const ANSWER_TOMBSTONES = sql`idem AS (
      UPDATE idempotency_records i SET response_body = NULL, status_code = ${ERASED_ANSWER_STATUS}, conversation_id = NULL
      FROM conv WHERE i.workspace_id = conv.workspace_id AND i.conversation_id = conv.id RETURNING 1`;
const COUNTER_NAMES = sql`CROSS JOIN LATERAL (VALUES
          ('all'),
          ('user:' || conv.user_id),
          ('bot:' || conv.bot_id),
          (CASE WHEN conv.archived = 1 THEN 'archived' END),
          (CASE WHEN conv.archived = 1 THEN 'user_archived:' || conv.user_id END),
          (CASE WHEN conv.archived = 1 THEN 'bot_archived:' || conv.bot_id END)
        ) AS n(name)`;

/**
 * A conversation's erase on PostgreSQL as ONE statement (data-modifying CTEs): lock the row, delete
 * its tool invocations, messages (their search_tsv goes with them), events and the row itself, turn
 * the stored idempotent answers that carry its content into tombstones, and take it off the
 * counters when it was still in view. The shared Kysely path (conversations.ts `delete`) does the
 * same in eight statements, each a round trip; this is what SQLite keeps (its round trips are
 * function calls).
 *
 * Every sub-statement sees the same snapshot, so none may depend on another's effect except
 * through RETURNING: each joins `conv` (the locked row) instead of re-reading. Foreign keys
 * (tool_invocations -> messages -> conversations) are checked at the end of the statement, when
 * all of the children are gone. Counter names follow store/counters.ts `counterNames`.
 */
async function eraseConversation(db: Kysely<Database>, ws: string, id: string): Promise<ErasedRows | null> {
  const r = await sql<{
    found: number;
    messages: number;
    tools: number;
    titles: number;
    events: number;
    answers: number;
  }>`
    WITH conv AS (
      SELECT c.workspace_id, c.id, c.user_id, c.bot_id, c.archived, c.deleted_state, c.title
      FROM conversations c WHERE c.workspace_id = ${ws} AND c.id = ${id} FOR UPDATE
    ), ${CHILD_DELETES}
    ), gone AS (
      DELETE FROM conversations c USING conv
      WHERE c.workspace_id = conv.workspace_id AND c.id = conv.id RETURNING conv.title
    ), ${ANSWER_TOMBSTONES}
    ), counted AS (
      INSERT INTO counters (workspace_id, name, value)
      SELECT conv.workspace_id, n.name, -1 FROM conv ${COUNTER_NAMES}
      WHERE conv.deleted_state IS NULL AND n.name IS NOT NULL
      ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS found,
           (SELECT count(*) FROM msgs) AS messages,
           (SELECT count(*) FROM tools) AS tools,
           (SELECT count(*) FROM gone WHERE title IS NOT NULL) AS titles,
           (SELECT count(*) FROM evs) AS events,
           (SELECT count(*) FROM idem) AS answers,
           (SELECT count(*) FROM counted) AS counted`.execute(db);
  const row = r.rows[0];
  if (!row || Number(row.found) === 0) return null;
  const messages = Number(row.messages);
  return {
    messages,
    tool_invocations: Number(row.tools),
    // counted as the SQLite index counts its entries: one per message, one per title
    search_entries: messages + Number(row.titles),
    events: Number(row.events),
    stored_answers: Number(row.answers),
  };
}

type ErasedConversationRow = Omit<ConversationsTable, 'event_seq' | 'search_tsv' | 'trashed_at' | 'purge_at'> & {
  messages: number;
  tools: number;
  events: number;
  answers: number;
};

/**
 * A set-based erase of many conversations (`deleteMany`'s contract) as ONE statement: the same CTEs
 * as `eraseConversation`, joined to the set of locked rows (in id order, so two erasers never
 * deadlock), the counters moved once per name (summed, in name order). One row per erased
 * conversation, as it was, with the batch's row counts (InitPlans, computed once). A data-modifying
 * CTE runs to completion whether or not the query reads it (`gone`, `counted`).
 *
 * Each child table is reached through its index on (workspace_id, conversation_id): hash and merge
 * joins are turned off for this statement (SET LOCAL, restored after it). Otherwise, with the
 * table's statistics saying a batch of 1,000 conversations is ~8 % of the messages, PostgreSQL
 * hashes the whole messages table (a sequential scan of every message of every workspace, 3–6x
 * the index path in EXPLAIN ANALYZE: bench/RESULTS.md).
 */
async function eraseConversations(db: Kysely<Database>, ws: string, ids: readonly string[]): Promise<ErasedMany> {
  const rows: ErasedRows = { messages: 0, tool_invocations: 0, search_entries: 0, events: 0, stored_answers: 0 };
  if (ids.length === 0) return { conversations: [], rows };
  const before = await sql<{ h: string; m: string }>`
    SELECT current_setting('enable_hashjoin') AS h, current_setting('enable_mergejoin') AS m,
           set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`.execute(db);
  const r = await sql<ErasedConversationRow>`
    WITH conv AS (
      SELECT c.workspace_id, c.id, c.user_id, c.bot_id, c.title, c.title_source, c.contact_id, c.deal_id,
             c.matter_id, c.context_extra, c.metadata, c.archived, c.message_count, c.tool_invocation_count,
             c.last_message_at, c.created_at, c.updated_at, c.deleted_state
      FROM conversations c WHERE c.workspace_id = ${ws} AND c.id = ANY(${ids}::text[]) ORDER BY c.id FOR UPDATE
    ), ${CHILD_DELETES}
    ), gone AS (
      DELETE FROM conversations c USING conv
      WHERE c.workspace_id = conv.workspace_id AND c.id = conv.id
    ), ${ANSWER_TOMBSTONES}
    ), counted AS (
      INSERT INTO counters (workspace_id, name, value)
      SELECT ${ws}, n.name, -count(*) FROM conv ${COUNTER_NAMES}
      WHERE conv.deleted_state IS NULL AND n.name IS NOT NULL
      GROUP BY n.name ORDER BY n.name
      ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value
    )
    SELECT conv.*,
           (SELECT count(*) FROM msgs) AS messages,
           (SELECT count(*) FROM tools) AS tools,
           (SELECT count(*) FROM evs) AS events,
           (SELECT count(*) FROM idem) AS answers
    FROM conv ORDER BY conv.id`.execute(db);
  const old = before.rows[0];
  await sql`SELECT set_config('enable_hashjoin', ${old?.h ?? 'on'}, true), set_config('enable_mergejoin', ${old?.m ?? 'on'}, true)`.execute(
    db,
  );
  const first = r.rows[0];
  if (!first) return { conversations: [], rows };
  rows.messages = Number(first.messages);
  rows.tool_invocations = Number(first.tools);
  rows.events = Number(first.events);
  rows.stored_answers = Number(first.answers);
  // counted as the SQLite index counts its entries: one per message, one per title
  rows.search_entries = rows.messages + r.rows.filter((c) => c.title !== null).length;
  return { conversations: r.rows.map(toConversation), rows };
}

export const pgStatements: EngineStatements = { eraseConversation, eraseConversations };
