import type BetterSqlite3 from 'better-sqlite3';
import type { MessageParts, ToolParts } from '../../services/transfer-store.js';
import { MANY_CONVERSATIONS } from '../types.js';
import { mapSqliteError } from './errors.js';

/**
 * An export's JSONL rows of messages and tool invocations, read for the line writer
 * (writeMessageParts / writeToolParts in src/http/export-formats.ts) rather than as domain
 * objects: a message's content comes back already JSON-quoted as bytes (json_quote into a BLOB:
 * no decoding into a JS string, no JSON.stringify, no encoding back), and the JSON columns
 * (metadata, input, output) as their stored text, written as they are (no parse, no stringify).
 *
 * Byte for byte what messageJson / toolJson write from the objects (test/export-lines.test.ts):
 * json_quote escapes as JSON.stringify does (", \, control characters as \b \f \n \r \t or
 * \u00XX in lower case, nothing else), and every writer stores JSON.stringify's text in the JSON
 * columns (store/kysely, the bulk loader), which JSON.stringify(JSON.parse(text)) gives back as is.
 */

const MESSAGE_PARTS = 'conversation_id, id, role, CAST(json_quote(content) AS BLOB), metadata, created_at';
const TOOL_PARTS =
  'conversation_id, id, message_id, tool_name, input, output, status, started_at, finished_at, created_at, updated_at';

export type LineTable = 'messages' | 'tool_invocations';

/** IN lists padded to a multiple of this, as listMany's (four statement shapes per table). */
const STEP = 25;

export class SqliteExportLines {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly raw: BetterSqlite3.Database) {}

  private statement(key: string, sql: () => string): BetterSqlite3.Statement {
    let s = this.statements.get(key);
    if (s === undefined) {
      s = this.raw.prepare(sql()).raw(true);
      this.statements.set(key, s);
    }
    return s;
  }

  /** Whether a read now would see only committed rows (not inside the connection's transaction). */
  get usable(): boolean {
    return !this.raw.inTransaction;
  }

  /** Several conversations' rows, by conversation id then id, at most `limit` (listMany's read). */
  partsOf(table: 'messages', ws: string, conversationIds: readonly string[], limit: number): MessageParts[];
  partsOf(table: 'tool_invocations', ws: string, conversationIds: readonly string[], limit: number): ToolParts[];
  partsOf(table: LineTable, ws: string, conversationIds: readonly string[], limit: number): unknown[] {
    if (conversationIds.length === 0 || conversationIds.length > MANY_CONVERSATIONS)
      throw new Error(`partsOf takes 1 to ${MANY_CONVERSATIONS} conversation ids, not ${conversationIds.length}`);
    const size = Math.ceil(conversationIds.length / STEP) * STEP;
    const stmt = this.statement(
      `${table}|many|${size}`,
      () =>
        `SELECT ${table === 'messages' ? MESSAGE_PARTS : TOOL_PARTS} FROM ${table}
         WHERE workspace_id = ? AND conversation_id IN (${Array.from({ length: size }, () => '?').join(', ')})
         ORDER BY conversation_id, id LIMIT ?`,
    );
    const params: unknown[] = [ws];
    // padded with '' (never a conversation id)
    for (let i = 0; i < size; i++) params.push(conversationIds[i] ?? '');
    params.push(limit);
    return this.run(stmt, params);
  }

  /** One conversation's rows by id, strictly after `afterId`, at most `limit` (a keyset page). */
  partsAfter(
    table: 'messages',
    ws: string,
    conversationId: string,
    afterId: string | undefined,
    limit: number,
  ): MessageParts[];
  partsAfter(
    table: 'tool_invocations',
    ws: string,
    conversationId: string,
    afterId: string | undefined,
    limit: number,
  ): ToolParts[];
  partsAfter(
    table: LineTable,
    ws: string,
    conversationId: string,
    afterId: string | undefined,
    limit: number,
  ): unknown[] {
    const after = afterId !== undefined;
    const stmt = this.statement(
      `${table}|after|${after}`,
      () =>
        `SELECT ${table === 'messages' ? MESSAGE_PARTS : TOOL_PARTS} FROM ${table}
         WHERE workspace_id = ? AND conversation_id = ?${after ? ' AND id > ?' : ''}
         ORDER BY id LIMIT ?`,
    );
    return this.run(stmt, after ? [ws, conversationId, afterId, limit] : [ws, conversationId, limit]);
  }

  private run(stmt: BetterSqlite3.Statement, params: unknown[]): unknown[] {
    try {
      return stmt.all(...params);
    } catch (err) {
      throw mapSqliteError(err);
    }
  }
}
