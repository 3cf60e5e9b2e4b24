/**
 * The SQL expression of one export line (JSONL) per row of messages and tool_invocations, as
 * messageJson / toolJson write it from the objects, for either engine: the line's layout is here
 * once, what each engine spells differently (quoting, the ISO time, the newline) comes from its
 * dialect (store/sqlite/export-lines.ts, store/postgres/export-lines.ts, which say why each
 * spelling gives the same bytes). A row with a time outside the dialect's range gets NULL (no
 * line): the reader then reads that batch as objects.
 */
export type LineTable = 'messages' | 'tool_invocations';

export interface LineDialect {
  /** The times the dialect's `iso` writes as Date#toISOString does, as Unix milliseconds. */
  readonly minMs: number;
  readonly maxMs: number;
  /** A text column as a JSON string. */
  quote(col: string): string;
  /** A nullable text column as a JSON string, or `null`. */
  quoteOrNull(col: string): string;
  /** A nullable integer expression as JSON, or `null`. */
  integerOrNull(expr: string): string;
  /** A Unix-milliseconds column as the ISO text (unquoted). */
  iso(col: string): string;
  /** The closing `"}` and the newline, as one or more concat arguments. */
  readonly end: string;
}

export function lineSql(d: LineDialect): Record<LineTable, string> {
  const inRange = (col: string) => `${col} BETWEEN ${d.minMs} AND ${d.maxMs}`;
  const isoOrNull = (col: string) => `CASE WHEN ${col} IS NULL THEN 'null' ELSE concat('"', ${d.iso(col)}, '"') END`;
  const messages = `CASE WHEN ${inRange('created_at')} THEN concat(
  '{"type":"message","id":', ${d.quote('id')},
  ',"conversation_id":', ${d.quote('conversation_id')},
  ',"role":', ${d.quote('role')},
  ',"content":', ${d.quote('content')},
  ',"metadata":', metadata,
  ',"created_at":"', ${d.iso('created_at')}, ${d.end}) END`;
  const tools = `CASE WHEN ${inRange('created_at')} AND ${inRange('updated_at')}
  AND (started_at IS NULL OR ${inRange('started_at')}) AND (finished_at IS NULL OR ${inRange('finished_at')})
  THEN concat(
  '{"type":"tool_invocation","id":', ${d.quote('id')},
  ',"conversation_id":', ${d.quote('conversation_id')},
  ',"message_id":', ${d.quoteOrNull('message_id')},
  ',"tool_name":', ${d.quote('tool_name')},
  ',"input":', input,
  ',"output":', output,
  ',"status":', ${d.quote('status')},
  ',"started_at":', ${isoOrNull('started_at')},
  ',"finished_at":', ${isoOrNull('finished_at')},
  ',"duration_ms":', ${d.integerOrNull('finished_at - started_at')},
  ',"created_at":"', ${d.iso('created_at')},
  '","updated_at":"', ${d.iso('updated_at')}, ${d.end}) END`;
  return { messages, tool_invocations: tools };
}
