import { type Kysely, sql } from 'kysely';
import type { EngineStatements } from '../kysely/bound.js';
import { ERASED_ANSWER_STATUS } from '../kysely/idempotency.js';
import type { Database } from '../schema.js';
import type { ErasedRows } from '../types.js';

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
    ), tools AS (
      DELETE FROM tool_invocations t USING conv
      WHERE t.workspace_id = conv.workspace_id AND t.conversation_id = conv.id RETURNING 1
    ), msgs AS (
      DELETE FROM messages m USING conv
      WHERE m.workspace_id = conv.workspace_id AND m.conversation_id = conv.id RETURNING 1
    ), evs AS (
      DELETE FROM conversation_events e USING conv
      WHERE e.workspace_id = conv.workspace_id AND e.conversation_id = conv.id RETURNING 1
    ), gone AS (
      DELETE FROM conversations c USING conv
      WHERE c.workspace_id = conv.workspace_id AND c.id = conv.id RETURNING conv.title
    ), idem AS (
      UPDATE idempotency_records i SET response_body = NULL, status_code = ${ERASED_ANSWER_STATUS}, conversation_id = NULL
      FROM conv WHERE i.workspace_id = conv.workspace_id AND i.conversation_id = conv.id RETURNING 1
    ), counted AS (
      INSERT INTO counters (workspace_id, name, value)
      SELECT conv.workspace_id, n.name, -1 FROM conv CROSS JOIN LATERAL (VALUES
          ('all'),
          ('user:' || conv.user_id),
          ('bot:' || conv.bot_id),
          (CASE WHEN conv.archived = 1 THEN 'archived' END),
          (CASE WHEN conv.archived = 1 THEN 'user_archived:' || conv.user_id END),
          (CASE WHEN conv.archived = 1 THEN 'bot_archived:' || conv.bot_id END)
        ) AS n(name)
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

export const pgStatements: EngineStatements = { eraseConversation };
