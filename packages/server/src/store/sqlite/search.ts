import { type Kysely, sql } from 'kysely';
import type { SearchIndex } from '../kysely-repo.js';
import type { Database } from '../schema.js';
import { literalTerms } from '../search-terms.js';

/** An FTS5 MATCH string that means the user's words literally: each term quoted, the last a prefix. */
export function fts5Query(text: string): string | null {
  const terms = literalTerms(text);
  if (terms.length === 0) return null;
  return terms
    .map((t, i) => {
      const quoted = `"${t.words.join(' ').replace(/"/g, '""')}"`;
      return t.prefix && i === terms.length - 1 ? `${quoted}*` : quoted;
    })
    .join(' ');
}

export const sqliteSearch: SearchIndex = {
  async indexMessage(db, workspaceId, messageId) {
    await sql`INSERT INTO message_fts (rowid, content)
      SELECT rowid, content FROM messages WHERE workspace_id = ${workspaceId} AND id = ${messageId}`.execute(db);
  },

  async indexTitle(db: Kysely<Database>, workspaceId, conversationId, oldTitle) {
    const row = await sql<{ rowid: number; title: string | null }>`
      SELECT rowid, title FROM conversations WHERE workspace_id = ${workspaceId} AND id = ${conversationId}`.execute(
      db,
    );
    const r = row.rows[0];
    if (!r) return;
    if (oldTitle !== null) {
      await sql`INSERT INTO title_fts (title_fts, rowid, title) VALUES ('delete', ${r.rowid}, ${oldTitle})`.execute(db);
    }
    if (r.title !== null) {
      await sql`INSERT INTO title_fts (rowid, title) VALUES (${r.rowid}, ${r.title})`.execute(db);
    }
  },

  async removeConversation(db, workspaceId, conversationId) {
    const m = await sql`INSERT INTO message_fts (message_fts, rowid, content)
      SELECT 'delete', rowid, content FROM messages
      WHERE workspace_id = ${workspaceId} AND conversation_id = ${conversationId}`.execute(db);
    const t = await sql`INSERT INTO title_fts (title_fts, rowid, title)
      SELECT 'delete', rowid, title FROM conversations
      WHERE workspace_id = ${workspaceId} AND id = ${conversationId} AND title IS NOT NULL`.execute(db);
    return Number(m.numAffectedRows ?? 0n) + Number(t.numAffectedRows ?? 0n);
  },

  matchCondition(_eb, workspaceId, text) {
    const q = fts5Query(text);
    if (q === null) return null;
    return sql<boolean>`(c.rowid IN (SELECT rowid FROM title_fts WHERE title_fts MATCH ${q})
      OR c.id IN (SELECT m.conversation_id FROM message_fts f JOIN messages m ON m.rowid = f.rowid
                  WHERE message_fts MATCH ${q} AND m.workspace_id = ${workspaceId}))`;
  },
};
