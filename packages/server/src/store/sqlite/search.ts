import type BetterSqlite3 from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import type { RankedHit, SearchIndex } from '../kysely/search-index.js';
import { type DirectExec, rawTemplate } from '../query-template.js';
import type { Database } from '../schema.js';
import { indexTokens, literalTerms } from '../search-terms.js';

/**
 * SQLite full text (migration 3): two contentless FTS5 tables whose tokens carry their
 * workspace. Every token is stored as `<tag>_<token>`, where the tag is the workspace's rowid in
 * base 36, so a term's doclist holds only that workspace's rows: a MATCH for a common word in a
 * small workspace never reads the big workspace's postings, and needs no join to filter them out.
 *
 * - message_idx(conv UNINDEXED, body): rowid = messages.rowid, conv = conversations.rowid (kept
 *   in the index, contentless_unindexed, so ranking a term's hits needs no lookup per message).
 * - title_idx(body): rowid = conversations.rowid.
 *
 * Text is analyzed in JavaScript (search-terms.ts) and written pre-tokenized; the FTS5 `ascii`
 * tokenizer with `_` as a token character then just splits on spaces (non-ASCII bytes are token
 * characters to it, so CJK and emoji tokens survive intact). contentless_delete lets a row go
 * by rowid without its old text.
 */
export const SQLITE_SEARCH_DDL = `
CREATE VIRTUAL TABLE message_idx USING fts5(
  conv UNINDEXED, body,
  content = '', contentless_delete = 1, contentless_unindexed = 1,
  tokenize = "ascii tokenchars '_'"
);
CREATE VIRTUAL TABLE title_idx USING fts5(
  body,
  content = '', contentless_delete = 1,
  tokenize = "ascii tokenchars '_'"
);
`;

/** A title hit counts this many times a message hit of the same bm25 (titles say what it is about). */
export const TITLE_WEIGHT = 2;

export function workspaceTag(rowid: number | bigint): string {
  return rowid.toString(36);
}

/** The index body of a text: its tokens, each prefixed with the workspace tag. */
export function taggedBody(tag: string, text: string): string {
  const tokens = indexTokens(text);
  let out = '';
  for (const t of tokens) out += out.length === 0 ? `${tag}_${t}` : ` ${tag}_${t}`;
  return out;
}

/** An FTS5 MATCH string that means the user's words literally: each term a quoted phrase, the last maybe a prefix. */
export function fts5Query(tag: string, text: string): string | null {
  const terms = literalTerms(text);
  if (terms.length === 0) return null;
  return terms
    .map((t) => {
      // tokens never hold a double quote; escaped anyway so no text can leave the string
      const quoted = `"${t.words.map((w) => `${tag}_${w}`.replace(/"/g, '""')).join(' ')}"`;
      return t.prefix ? `${quoted}*` : quoted;
    })
    .join(' AND ');
}

/** Rebuilds both indexes from the rows (migration 3, and bulk loaders that wrote rows only). */
export function rebuildSqliteSearch(raw: BetterSqlite3.Database): { messages: number; titles: number } {
  raw.exec(`DELETE FROM message_idx; DELETE FROM title_idx;`);
  const tags = new Map<string, string>();
  for (const w of raw.prepare('SELECT rowid AS r, id FROM workspaces').iterate() as Iterable<{ r: number; id: string }>)
    tags.set(w.id, workspaceTag(w.r));
  const insMsg = raw.prepare('INSERT INTO message_idx (rowid, conv, body) VALUES (?, ?, ?)');
  const insTitle = raw.prepare('INSERT INTO title_idx (rowid, body) VALUES (?, ?)');
  let messages = 0;
  let titles = 0;
  const convs = raw.prepare('SELECT rowid AS r, workspace_id AS w, id, title FROM conversations').all() as Array<{
    r: number;
    w: string;
    id: string;
    title: string | null;
  }>;
  const convRow = new Map<string, number>();
  for (const c of convs) {
    convRow.set(`${c.w}\u0000${c.id}`, c.r);
    const tag = tags.get(c.w);
    if (tag === undefined || c.title === null) continue;
    insTitle.run(c.r, taggedBody(tag, c.title));
    titles++;
  }
  // in rowid batches: a statement cannot write while another iterates, and memory stays flat
  const batch = raw.prepare(
    'SELECT rowid AS r, workspace_id AS w, conversation_id AS c, content FROM messages WHERE rowid > ? ORDER BY rowid LIMIT 5000',
  ) as BetterSqlite3.Statement<[number], { r: number; w: string; c: string; content: string }>;
  let after = 0;
  for (;;) {
    const rows = batch.all(after);
    const last = rows[rows.length - 1];
    if (!last) break;
    after = last.r;
    for (const m of rows) {
      const tag = tags.get(m.w);
      const conv = convRow.get(`${m.w}\u0000${m.c}`);
      if (tag === undefined || conv === undefined) continue;
      insMsg.run(m.r, conv, taggedBody(tag, m.content));
      messages++;
    }
  }
  return { messages, titles };
}

/** One SearchIndex per SQLite store: it caches workspace tags (a workspace's rowid never changes). */
// a message's entry as every append writes it, compiled once (query-template.ts)
const indexMessageEntry = rawTemplate(
  (p: { rowid: number | bigint; body: string; ws: string; conv: string }) =>
    sql`INSERT INTO message_idx (rowid, conv, body)
      SELECT ${p.rowid}, rowid, ${p.body} FROM conversations WHERE workspace_id = ${p.ws} AND id = ${p.conv}`,
);

/**
 * `exec` is the store's direct path for writers inside a transaction (DirectExec): the index
 * writes of an append run on it.
 */
export function createSqliteSearch(onRemoved: () => void = () => {}, exec?: DirectExec): SearchIndex {
  const tags = new Map<string, string>();
  const tagOf = async (db: Kysely<Database>, workspaceId: string): Promise<string | null> => {
    const known = tags.get(workspaceId);
    if (known !== undefined) return known;
    const r = await sql<{ r: number }>`SELECT rowid AS r FROM workspaces WHERE id = ${workspaceId}`.execute(db);
    const row = r.rows[0];
    if (!row) return null;
    const tag = workspaceTag(row.r);
    tags.set(workspaceId, tag);
    return tag;
  };
  // a query needs the tag before it runs; a workspace never seen has nothing indexed
  const queryOf = (workspaceId: string, text: string): string | null => {
    const tag = tags.get(workspaceId);
    return tag === undefined ? null : fts5Query(tag, text);
  };

  return {
    stableScores: false,
    messageValues: () => ({}),
    messageInsert: { shape: 'plain', params: () => ({}), values: () => ({}) },
    titleValues: () => ({}),

    async prepare(db, workspaceId) {
      await tagOf(db, workspaceId);
    },

    async indexMessage(db, workspaceId, m) {
      const tag = await tagOf(db, workspaceId);
      if (tag === null || m.rowid === undefined) return;
      const p = { rowid: m.rowid, body: taggedBody(tag, m.content), ws: workspaceId, conv: m.conversationId };
      await indexMessageEntry.run(db, p, exec);
    },

    async indexTitle(db, workspaceId, conversationId, title) {
      const tag = await tagOf(db, workspaceId);
      if (tag === null) return;
      const r = await sql<{ r: number }>`SELECT rowid AS r FROM conversations
        WHERE workspace_id = ${workspaceId} AND id = ${conversationId}`.execute(db);
      const row = r.rows[0];
      if (!row) return;
      const gone = await sql`DELETE FROM title_idx WHERE rowid = ${row.r}`.execute(db);
      if (Number(gone.numAffectedRows ?? 0n) > 0) onRemoved();
      if (title !== null) {
        await sql`INSERT INTO title_idx (rowid, body) VALUES (${row.r}, ${taggedBody(tag, title)})`.execute(db);
      }
    },

    async reindexMessage(db, workspaceId, messageId, content) {
      const tag = await tagOf(db, workspaceId);
      if (tag === null) return;
      const gone = await sql`DELETE FROM message_idx WHERE rowid IN (SELECT rowid FROM messages
        WHERE workspace_id = ${workspaceId} AND id = ${messageId})`.execute(db);
      if (Number(gone.numAffectedRows ?? 0n) > 0) onRemoved();
      await sql`INSERT INTO message_idx (rowid, conv, body)
        SELECT m.rowid, c.rowid, ${taggedBody(tag, content)} FROM messages m
        JOIN conversations c ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
        WHERE m.workspace_id = ${workspaceId} AND m.id = ${messageId}`.execute(db);
    },

    async removeMessage(db, workspaceId, messageId) {
      const m = await sql`DELETE FROM message_idx WHERE rowid IN (SELECT rowid FROM messages
        WHERE workspace_id = ${workspaceId} AND id = ${messageId})`.execute(db);
      const n = Number(m.numAffectedRows ?? 0n);
      if (n > 0) onRemoved();
      return n;
    },

    async removeConversations(db, workspaceId, conversationIds) {
      if (conversationIds.length === 0) return 0;
      // contentless_delete: an entry goes by rowid (no text needed); the rowids come from the rows
      // still there. Each removal adds a tombstone to its segment, and the row's postings stay in
      // it until the background compaction merges the segment (compaction.ts; FTS5 secure-delete
      // applies to tokenized deletes only, not to these)
      const ids = sql.join(conversationIds);
      const m = await sql`DELETE FROM message_idx WHERE rowid IN (SELECT rowid FROM messages
        WHERE workspace_id = ${workspaceId} AND conversation_id IN (${ids}))`.execute(db);
      const t = await sql`DELETE FROM title_idx WHERE rowid IN (SELECT rowid FROM conversations
        WHERE workspace_id = ${workspaceId} AND id IN (${ids}) AND title IS NOT NULL)`.execute(db);
      const n = Number(m.numAffectedRows ?? 0n) + Number(t.numAffectedRows ?? 0n);
      if (n > 0) onRemoved();
      return n;
    },

    matchCondition(_eb, workspaceId, text) {
      const q = queryOf(workspaceId, text);
      if (q === null) return null;
      return sql<boolean>`(c.rowid IN (SELECT rowid FROM title_idx WHERE title_idx MATCH ${q})
        OR c.rowid IN (SELECT conv FROM message_idx WHERE message_idx MATCH ${q}))`;
    },

    ranked(workspaceId, text, candidates) {
      const q = queryOf(workspaceId, text);
      if (q === null) return null;
      // FTS5 delivers a MATCH in rowid order (DESC = newest first) and stops at the LIMIT, so
      // bm25 is computed for the candidates only; the grouping sees at most 2 × candidates rows
      const window = candidates === null ? sql`` : sql`ORDER BY rowid DESC LIMIT ${candidates}`;
      // best hit per conversation: SQLite gives the bare column `hit` from the row holding min(score)
      return {
        source: sql<RankedHit>`(SELECT crow, hit, min(score) AS score FROM (
            SELECT * FROM (SELECT conv AS crow, rowid AS hit, bm25(message_idx) AS score
              FROM message_idx WHERE message_idx MATCH ${q} ${window})
            UNION ALL
            SELECT * FROM (SELECT rowid AS crow, NULL AS hit, bm25(title_idx) * ${TITLE_WEIGHT} AS score
              FROM title_idx WHERE title_idx MATCH ${q} ${window})
          ) GROUP BY crow)`,
        on: sql<boolean>`best.crow = c.rowid`,
      };
    },

    async hitMessages(db, workspaceId, hits) {
      const keys = hits.filter((h): h is number | string => h !== null);
      const out = new Map<string, { id: string; content: string }>();
      if (keys.length === 0) return out;
      const rows = await sql<{ r: number; id: string; content: string }>`SELECT rowid AS r, id, content FROM messages
        WHERE workspace_id = ${workspaceId} AND rowid IN (${sql.join(keys)})`.execute(db);
      for (const r of rows.rows) out.set(String(r.r), { id: r.id, content: r.content });
      return out;
    },
  };
}
