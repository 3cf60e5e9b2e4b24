import { sql } from 'kysely';
import type { SearchIndex } from '../kysely-repo.js';
import { literalTerms } from '../search-terms.js';

/** The tsquery for what a person typed: each literal term via parley_term_query, ANDed. */
export function pgTsQuery(text: string) {
  const terms = literalTerms(text);
  if (terms.length === 0) return null;
  return sql.join(
    terms.map((t) => sql`parley_term_query(${t.words.join(' ')}::text, ${t.prefix}::boolean)`),
    sql` && `,
  );
}

/**
 * PostgreSQL full text: expression GIN indexes over parley_tsv(content) and parley_tsv(title)
 * (see migration 2), maintained by PostgreSQL itself, so there is nothing to index by hand.
 */
export const pgSearch: SearchIndex = {
  async indexMessage() {},
  async indexTitle() {},

  async removeConversation(db, workspaceId, conversationId) {
    // The index entries go with their rows; count them the way the SQLite index does (one per
    // message, one per title) so the audit event reads the same on both engines.
    const r = await sql<{ n: number }>`
      SELECT (SELECT count(*) FROM messages WHERE workspace_id = ${workspaceId} AND conversation_id = ${conversationId})
           + (SELECT count(*) FROM conversations
              WHERE workspace_id = ${workspaceId} AND id = ${conversationId} AND title IS NOT NULL) AS n`.execute(db);
    return Number(r.rows[0]?.n ?? 0);
  },

  matchCondition(_eb, workspaceId, text) {
    const q = pgTsQuery(text);
    if (q === null) return null;
    return sql<boolean>`(c.id IN (SELECT t.id FROM conversations t
        WHERE t.workspace_id = ${workspaceId} AND t.title IS NOT NULL AND parley_tsv(t.title) @@ (${q}))
      OR c.id IN (SELECT m.conversation_id FROM messages m
        WHERE m.workspace_id = ${workspaceId} AND parley_tsv(m.content) @@ (${q})))`;
  },
};
