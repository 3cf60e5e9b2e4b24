import type pg from 'pg';
import type { LinePage, LineRun } from '../../services/transfer-store.js';
import { MANY_CONVERSATIONS } from '../types.js';
import { mapPgError } from './index.js';

/**
 * An export's JSONL lines of messages and tool invocations, written by PostgreSQL: each line is
 * built in SQL (concat, to_json, to_char) and a conversation's lines (or a keyset page of a big
 * conversation) come back joined by string_agg as ONE text value. Node then handles one string per
 * conversation, not six values and a row object per message, no JSON.parse of the JSON columns and
 * no line writer. (node-postgres decodes every value it reads as UTF-8, binary or not, so a text is
 * as close to bytes as it gets; the chunk writer encodes it straight into the response's chunks.)
 *
 * Byte for byte what messageJson / toolJson write from the objects (test/export-lines.test.ts, which
 * also compares the two engines' exports of the same data):
 * - to_json(text) escapes as JSON.stringify does: ", \, \b \f \n \r \t, the other control characters
 *   below U+0020 as \u00XX in lower case, nothing else (not U+007F, U+2028, U+2029 nor anything
 *   non-ASCII, which both leave as UTF-8). JSON.stringify also escapes lone surrogates, which a
 *   PostgreSQL text cannot hold (it is valid UTF-8), and NUL, which it cannot hold either;
 * - to_json(NULL) is NULL, which concat would drop: a nullable column (a tool's message_id) is
 *   coalesced to 'null';
 * - the JSON columns (metadata, input, output) are TEXT written as stored: every writer stores
 *   JSON.stringify's text (store/kysely, the bulk loader's COPY), which JSON.stringify(JSON.parse(text))
 *   gives back as is (numbers included: a stored number is already JSON.stringify's form);
 * - the time is epoch + whole seconds + the milliseconds left, as intervals (integer arithmetic: no
 *   float rounding, unlike to_timestamp(ms / 1000.0)), on `timestamp` (no time zone, so the session's
 *   TimeZone does not matter), formatted 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"': Date#toISOString for years
 *   0001 to 9999. Year 0 and before (to_char writes BC years unsigned) and after 9999 (toISOString
 *   writes +YYYYYY) get no line: NULL, which string_agg skips; the read sees count(line) < count(*)
 *   and answers undefined, and the caller reads that batch or page as objects;
 * - duration_ms is finished_at - started_at as bigint text (JSON.stringify's form of a safe integer);
 * - a conversation's lines are joined in id order: string_agg takes them in the order the ordered,
 *   limited subquery hands them (nothing between the two reorders rows; a test holds the order
 *   with ids inserted out of order).
 */

/** The times the lines cover, as Unix milliseconds: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
export const MIN_PG_LINE_MS = -62_135_596_800_000;
export const MAX_PG_LINE_MS = 253_402_300_799_999;

const inRange = (col: string) => `${col} BETWEEN ${MIN_PG_LINE_MS} AND ${MAX_PG_LINE_MS}`;
const isoOf = (col: string) =>
  `to_char(timestamp '1970-01-01' + (${col} / 1000) * interval '1 second' + (${col} % 1000) * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** A nullable time as JSON: null, or the quoted ISO text. */
const isoOrNull = (col: string) => `CASE WHEN ${col} IS NULL THEN 'null' ELSE concat('"', ${isoOf(col)}, '"') END`;

/** messageJson('message', m) + '\n', or NULL when created_at is out of range. */
const MESSAGE_LINE = `CASE WHEN ${inRange('created_at')} THEN concat(
  '{"type":"message","id":', to_json(id),
  ',"conversation_id":', to_json(conversation_id),
  ',"role":', to_json(role),
  ',"content":', to_json(content),
  ',"metadata":', metadata,
  ',"created_at":"', ${isoOf('created_at')}, E'"}\\n') END`;

/** toolJson('tool_invocation', t) + '\n', or NULL when a time is out of range. */
const TOOL_LINE = `CASE WHEN ${inRange('created_at')} AND ${inRange('updated_at')}
  AND (started_at IS NULL OR ${inRange('started_at')}) AND (finished_at IS NULL OR ${inRange('finished_at')})
  THEN concat(
  '{"type":"tool_invocation","id":', to_json(id),
  ',"conversation_id":', to_json(conversation_id),
  ',"message_id":', coalesce(to_json(message_id)::text, 'null'),
  ',"tool_name":', to_json(tool_name),
  ',"input":', input,
  ',"output":', output,
  ',"status":', to_json(status),
  ',"started_at":', ${isoOrNull('started_at')},
  ',"finished_at":', ${isoOrNull('finished_at')},
  ',"duration_ms":', coalesce((finished_at - started_at)::text, 'null'),
  ',"created_at":"', ${isoOf('created_at')},
  '","updated_at":"', ${isoOf('updated_at')}, E'"}\\n') END`;

export type LineTable = 'messages' | 'tool_invocations';

const LINE: Record<LineTable, string> = { messages: MESSAGE_LINE, tool_invocations: TOOL_LINE };

/** The SQL of the reads (exported for the tests). $1 workspace, $2 conversation ids (text[]), $3 limit. */
export function pgLinesOfSql(table: LineTable): string {
  return `SELECT conversation_id, count(*)::int4 AS n, count(line)::int4 AS lines, string_agg(line, '') AS text
    FROM (SELECT conversation_id, ${LINE[table]} AS line FROM ${table}
          WHERE workspace_id = $1 AND conversation_id = ANY ($2::text[])
          ORDER BY conversation_id, id LIMIT $3) page
    GROUP BY conversation_id ORDER BY conversation_id`;
}

/** $1 workspace, $2 conversation, then with `after`: $3 the last id read, $4 the limit; else $3 the limit. */
export function pgLinesAfterSql(table: LineTable, after: boolean): string {
  return `SELECT count(*)::int4 AS n, count(line)::int4 AS lines, max(id) AS last_id, string_agg(line, '') AS text
    FROM (SELECT id, ${LINE[table]} AS line FROM ${table}
          WHERE workspace_id = $1 AND conversation_id = $2${after ? ' AND id > $3' : ''}
          ORDER BY id LIMIT ${after ? '$4' : '$3'}) page`;
}

type RunRow = { conversation_id: string; n: number; lines: number; text: string | null };
type PageRow = { n: number; lines: number; last_id: string | null; text: string | null };

/** The line reads on PostgreSQL: each one statement, prepared once per connection (a named query). */
export class PgExportLines {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Several conversations' lines of `table`, one run per conversation that has rows, by
   * conversation id, at most `limit` rows in all (listMany's read); undefined when a row has no
   * line (a time out of range: read these as objects).
   */
  async linesOf(
    table: LineTable,
    ws: string,
    conversationIds: readonly string[],
    limit: number,
  ): Promise<LineRun[] | undefined> {
    if (conversationIds.length === 0 || conversationIds.length > MANY_CONVERSATIONS)
      throw new Error(`linesOf takes 1 to ${MANY_CONVERSATIONS} conversation ids, not ${conversationIds.length}`);
    const rows = await this.run<RunRow>(`parley_lines_of_${table}`, pgLinesOfSql(table), [ws, conversationIds, limit]);
    const out: LineRun[] = [];
    for (const r of rows) {
      if (r.lines !== r.n) return undefined;
      out.push({ conversationId: r.conversation_id, rows: r.n, bytes: r.text ?? '' });
    }
    return out;
  }

  /** One conversation's lines of `table` by id, strictly after `afterId`, at most `limit` rows (a keyset page); undefined as linesOf. */
  async linesAfter(
    table: LineTable,
    ws: string,
    conversationId: string,
    afterId: string | undefined,
    limit: number,
  ): Promise<LinePage | undefined> {
    const after = afterId !== undefined;
    const rows = await this.run<PageRow>(
      `parley_lines_after_${table}_${after}`,
      pgLinesAfterSql(table, after),
      after ? [ws, conversationId, afterId, limit] : [ws, conversationId, limit],
    );
    const r = rows[0] ?? { n: 0, lines: 0, last_id: null, text: null };
    if (r.lines !== r.n) return undefined;
    return { rows: r.n, lastId: r.last_id ?? undefined, bytes: r.text ?? '' };
  }

  private async run<T extends pg.QueryResultRow>(name: string, text: string, values: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>({ name, text, values })).rows;
    } catch (err) {
      throw mapPgError(err);
    }
  }
}
