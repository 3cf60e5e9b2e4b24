import type pg from 'pg';
import type { LinePage, LineRun } from '../../services/transfer-store.js';
import { type LineTable, lineSql } from '../export-line-sql.js';
import { MANY_CONVERSATIONS } from '../types.js';
import { mapPgError } from './index.js';

/**
 * An export's JSONL lines of messages and tool invocations, written by PostgreSQL: each line is
 * built in SQL (concat, to_json, to_char) and a conversation's lines (or a keyset page of a big
 * conversation) come back joined by string_agg as ONE value, read through a binary COPY (below) so
 * that it arrives as bytes: Node copies them into the response's chunks and never makes a row
 * object, a JS string or a domain object per message (no JSON.parse of the JSON columns, no line
 * writer).
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
 *   limited subquery hands them (nothing between the two reorders rows; the tests export rows
 *   written out of id order, and a read without the ORDER BY fails them).
 */

/** The times the lines cover, as Unix milliseconds: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
export const MIN_PG_LINE_MS = -62_135_596_800_000;
export const MAX_PG_LINE_MS = 253_402_300_799_999;

const LINE = lineSql({
  minMs: MIN_PG_LINE_MS,
  maxMs: MAX_PG_LINE_MS,
  quote: (col) => `to_json(${col})`,
  // to_json(NULL) is NULL, which concat would drop
  quoteOrNull: (col) => `coalesce(to_json(${col})::text, 'null')`,
  integerOrNull: (expr) => `coalesce((${expr})::text, 'null')`,
  iso: (col) =>
    `to_char(timestamp '1970-01-01' + (${col} / 1000) * interval '1 second' + (${col} % 1000) * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  end: `E'"}\\n'`,
});

/** The query of the batch read: $1 workspace, $2 conversation ids (an array), $3 limit (each written in as a literal by PgExportLines). */
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

/** The binary COPY file's signature (then a flags word and a header extension length). */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * `COPY (query) TO STDOUT (FORMAT binary)` as a query object pg runs like any other (it queues
 * behind the client's earlier queries). pg hands each CopyData message over as a view of its
 * read buffer, which it may reuse once the handler returns: `onRow` must copy what it keeps
 * there and then. The server sends one row per message (the file header comes with the first,
 * the trailer alone); a row split across messages is refused, never misread.
 */
class CopyOut {
  readonly query_timeout: number;
  callback?: (err: Error | null) => void;
  private header = true;
  private failed: Error | null = null;
  private done = false;

  constructor(
    readonly text: string,
    timeoutMs: number,
    private readonly onRow: (fields: (Buffer | null)[]) => void,
  ) {
    this.query_timeout = timeoutMs;
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failed === null) {
      try {
        this.parse(msg.chunk);
      } catch (err) {
        this.failed = err as Error;
      }
    }
  }

  private parse(b: Buffer): void {
    let at = 0;
    const need = (n: number) => {
      if (at + n > b.length) throw new Error('COPY: a row split across messages');
    };
    if (this.header) {
      need(19);
      if (!b.subarray(0, 11).equals(SIGNATURE)) throw new Error('COPY: not a binary COPY stream');
      at = 19 + b.readInt32BE(15);
      this.header = false;
    }
    while (at < b.length) {
      need(2);
      const count = b.readInt16BE(at);
      at += 2;
      if (count === -1) return; // the trailer
      const fields: (Buffer | null)[] = [];
      for (let i = 0; i < count; i++) {
        need(4);
        const len = b.readInt32BE(at);
        at += 4;
        if (len === -1) fields.push(null);
        else {
          need(len);
          fields.push(b.subarray(at, at + len));
          at += len;
        }
      }
      this.onRow(fields);
    }
  }

  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(this.failed);
  }

  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('not a COPY FROM');
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.callback?.(err);
  }
}

/** A field's bytes as a Uint8Array of its own (its ArrayBuffer nobody else holds: the chunk writer frees it once copied). */
function own(b: Buffer | null | undefined): Uint8Array {
  if (b == null) return new Uint8Array(0);
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

const int4 = (b: Buffer | null | undefined) => (b == null ? 0 : b.readInt32BE(0));

/**
 * The reads as session functions (pg_temp, created on a pooled connection the first time it serves
 * a line read, gone with the connection): PL/pgSQL keeps each function's plan for the session, so
 * a read costs PostgreSQL no planning; a COPY of an inline query is planned at every call (~0.5 ms
 * a statement under load, as much as running it). Each function's body is the read above, its
 * parameters those of the SQL ($1…).
 */
const FUNCTIONS = (['messages', 'tool_invocations'] as const).flatMap((table) => [
  {
    name: `pg_temp.parley_lines_of_${table}`,
    args: 'text, text[], int',
    returns: 'o_conversation text, o_rows int4, o_lines int4, o_text text',
    body: pgLinesOfSql(table),
  },
  {
    name: `pg_temp.parley_lines_first_${table}`,
    args: 'text, text, int',
    returns: 'o_rows int4, o_lines int4, o_last text, o_text text',
    body: pgLinesAfterSql(table, false),
  },
  {
    name: `pg_temp.parley_lines_after_${table}`,
    args: 'text, text, text, int',
    returns: 'o_rows int4, o_lines int4, o_last text, o_text text',
    body: pgLinesAfterSql(table, true),
  },
]);

const CREATE_FUNCTIONS = FUNCTIONS.map(
  (f) =>
    `CREATE OR REPLACE FUNCTION ${f.name}(${f.args}) RETURNS TABLE (${f.returns}) LANGUAGE plpgsql STABLE AS $fn$ BEGIN RETURN QUERY ${f.body}; END $fn$;`,
).join('\n');

/**
 * The line reads on PostgreSQL, as binary COPY: node-postgres decodes every value of a normal
 * result as UTF-8 into a JS string (binary results included), ~1 GB of short-lived strings for a
 * 1 M export; a COPY's data comes as raw bytes, copied once into a buffer of their own and then
 * into the response's chunk. COPY takes no bind parameters: the values are written into the
 * statement as literals (pg's escapeLiteral; the limit a checked integer), the arguments of a
 * session function (FUNCTIONS) or, where the functions cannot be created (no TEMP privilege), of
 * the inline query.
 */
export class PgExportLines {
  /** Pooled connections that have the session functions (true) or cannot have them (false). */
  private readonly prepared = new WeakMap<pg.PoolClient, boolean>();

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
    const out: LineRun[] = [];
    let whole = true;
    await this.copy(
      `pg_temp.parley_lines_of_${table}`,
      pgLinesOfSql(table),
      (lit) => [lit(ws), `ARRAY[${conversationIds.map(lit).join(', ')}]::text[]`, limit],
      (f) => {
        const rows = int4(f[1]);
        if (int4(f[2]) !== rows) whole = false;
        if (whole) out.push({ conversationId: (f[0] as Buffer).toString('utf8'), rows, bytes: own(f[3]) });
      },
    );
    return whole ? out : undefined;
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
    let page: LinePage | undefined = { rows: 0, lastId: undefined, bytes: new Uint8Array(0) };
    await this.copy(
      `pg_temp.parley_lines_${after ? 'after' : 'first'}_${table}`,
      pgLinesAfterSql(table, after),
      (lit) => (after ? [lit(ws), lit(conversationId), lit(afterId), limit] : [lit(ws), lit(conversationId), limit]),
      (f) => {
        const rows = int4(f[0]);
        page =
          int4(f[1]) !== rows ? undefined : { rows, lastId: f[2]?.toString('utf8') ?? undefined, bytes: own(f[3]) };
      },
    );
    return page;
  }

  /**
   * A binary COPY on a pooled client of the session function `fn` (or, without the functions, of
   * the inline `sql`) with `values` (strings already literals) as its arguments ($n).
   */
  private async copy(
    fn: string,
    sql: string,
    values: (lit: (s: string) => string) => (string | number)[],
    onRow: (fields: (Buffer | null)[]) => void,
  ): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
    let broken: Error | undefined;
    try {
      let functions = this.prepared.get(client);
      if (functions === undefined) {
        try {
          await client.query(CREATE_FUNCTIONS);
          functions = true;
        } catch (err) {
          // 42501 insufficient_privilege: no TEMP on this database; anything else is the database's trouble
          if ((err as { code?: string }).code !== '42501') throw err;
          functions = false;
        }
        this.prepared.set(client, functions);
      }
      const vals = values((s) => client.escapeLiteral(s));
      for (const v of vals)
        if (typeof v === 'number' && !(Number.isSafeInteger(v) && v >= 0)) throw new Error(`not a row limit: ${v}`);
      const query = functions
        ? `SELECT * FROM ${fn}(${vals.join(', ')})`
        : sql.replace(/\$(\d+)/g, (_, i: string) => String(vals[Number(i) - 1]));
      const timeout = (this.pool.options as { query_timeout?: number }).query_timeout ?? 0;
      const copy = new CopyOut(`COPY (${query}) TO STDOUT (FORMAT binary)`, timeout, onRow);
      await new Promise<void>((resolve, reject) => {
        copy.callback = (err) => (err ? reject(err) : resolve());
        (client as unknown as { query(q: CopyOut): void }).query(copy);
      });
    } catch (err) {
      broken = err as Error;
      throw mapPgError(err);
    } finally {
      client.release(broken);
    }
  }
}
