import type BetterSqlite3 from 'better-sqlite3';
import type { LinePage, LineRun } from '../../services/transfer-store.js';
import { type LineTable, lineSql } from '../export-line-sql.js';
import { MANY_CONVERSATIONS } from '../types.js';
import { mapSqliteError } from './errors.js';

/**
 * An export's JSONL lines of messages and tool invocations, written by SQLite: each line is built
 * in SQL (concat, json_quote, strftime) and a conversation's lines come back joined
 * (group_concat) as ONE BLOB, which better-sqlite3 hands over as a Buffer that goes into the
 * response's chunks as it is. No row becomes JS values: no strings decoded from UTF-8 and
 * encoded back, no per-row Buffer, almost nothing allocated on the JS heap per message (which
 * also keeps V8's young generation from growing during an export).
 *
 * Byte for byte what messageJson / toolJson write from the objects (test/export-lines.test.ts):
 * - json_quote escapes as JSON.stringify does (", \, control characters as \b \f \n \r \t or
 *   \u00XX in lower case, nothing else) and gives `null` for NULL (a tool's message_id);
 * - the JSON columns (metadata, input, output) are written as stored: every writer stores
 *   JSON.stringify's text (store/kysely, the bulk loader), which JSON.stringify(JSON.parse(text))
 *   gives back as is;
 * - strftime('%Y-%m-%dT%H:%M:%fZ', ms / 1000.0, 'unixepoch') is Date#toISOString for every time
 *   from year 0000 to 9999 (checked on random times over the whole range). A row with a time
 *   outside that range gets no line (NULL, which group_concat skips): the read sees that
 *   count(line) < count(*) and answers undefined, and the caller reads that batch as objects.
 * - A conversation's lines are joined in id order: the inner query reads them by (conversation_id,
 *   id) from the index and the outer GROUP BY / aggregate takes them in that order without a sort
 *   (no temp B-tree in the plan; a test holds the plan to that).
 */

/** The times SQLite's date functions cover, as Unix milliseconds: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
export const MIN_LINE_MS = -62_167_219_200_000;
export const MAX_LINE_MS = 253_402_300_799_999;

const LINE = lineSql({
  minMs: MIN_LINE_MS,
  maxMs: MAX_LINE_MS,
  // json_quote(NULL) is null
  quote: (col) => `json_quote(${col})`,
  quoteOrNull: (col) => `json_quote(${col})`,
  integerOrNull: (expr) => `coalesce(${expr}, 'null')`,
  iso: (col) => `strftime('%Y-%m-%dT%H:%M:%fZ', ${col} / 1000.0, 'unixepoch')`,
  end: `'"}', char(10)`,
});

/** IN lists padded to a multiple of this, as listMany's (four statement shapes per table). */
const STEP = 25;

/** The SQL of the reads (exported for the test that holds their plans to "no sort"). */
export function linesOfSql(table: LineTable, inSize: number): string {
  return `SELECT conversation_id, count(*), count(line), CAST(group_concat(line, '') AS BLOB)
    FROM (SELECT conversation_id, ${LINE[table]} AS line FROM ${table}
          WHERE workspace_id = ? AND conversation_id IN (${Array.from({ length: inSize }, () => '?').join(', ')})
          ORDER BY conversation_id, id LIMIT ?)
    GROUP BY conversation_id ORDER BY conversation_id`;
}

export function linesAfterSql(table: LineTable, after: boolean): string {
  return `SELECT count(*), count(line), max(id), CAST(group_concat(line, '') AS BLOB)
    FROM (SELECT id, ${LINE[table]} AS line FROM ${table}
          WHERE workspace_id = ? AND conversation_id = ?${after ? ' AND id > ?' : ''}
          ORDER BY id LIMIT ?)`;
}

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

  /**
   * Several conversations' lines of `table`, one run per conversation that has rows, by
   * conversation id, at most `limit` rows in all (listMany's read); undefined when a row has no
   * line (a time out of range: read these as objects).
   */
  linesOf(table: LineTable, ws: string, conversationIds: readonly string[], limit: number): LineRun[] | undefined {
    if (conversationIds.length === 0 || conversationIds.length > MANY_CONVERSATIONS)
      throw new Error(`linesOf takes 1 to ${MANY_CONVERSATIONS} conversation ids, not ${conversationIds.length}`);
    const size = Math.ceil(conversationIds.length / STEP) * STEP;
    const stmt = this.statement(`${table}|many|${size}`, () => linesOfSql(table, size));
    const params: unknown[] = [ws];
    // padded with '' (never a conversation id)
    for (let i = 0; i < size; i++) params.push(conversationIds[i] ?? '');
    params.push(limit);
    const rows = this.run(stmt, params) as [string, number, number, Uint8Array][];
    const out: LineRun[] = [];
    for (const [conversationId, n, lines, bytes] of rows) {
      if (lines !== n) return undefined;
      out.push({ conversationId, rows: n, bytes });
    }
    return out;
  }

  /** One conversation's lines of `table` by id, strictly after `afterId`, at most `limit` rows (a keyset page); undefined as linesOf. */
  linesAfter(
    table: LineTable,
    ws: string,
    conversationId: string,
    afterId: string | undefined,
    limit: number,
  ): LinePage | undefined {
    const after = afterId !== undefined;
    const stmt = this.statement(`${table}|after|${after}`, () => linesAfterSql(table, after));
    const rows = this.run(stmt, after ? [ws, conversationId, afterId, limit] : [ws, conversationId, limit]) as [
      number,
      number,
      string | null,
      Uint8Array | null,
    ][];
    const [n, lines, lastId, bytes] = rows[0] ?? [0, 0, null, null];
    if (lines !== n) return undefined;
    return { rows: n, lastId: lastId ?? undefined, bytes: bytes ?? new Uint8Array(0) };
  }

  private run(stmt: BetterSqlite3.Statement, params: unknown[]): unknown[] {
    try {
      return stmt.all(...params);
    } catch (err) {
      throw mapSqliteError(err);
    }
  }
}
