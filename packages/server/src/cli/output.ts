// What the CLI prints: aligned tables that fit the terminal, JSON and JSON Lines, and one-line
// errors with the exit code that says what kind of failure it was.
import { ParleyConnectionError, ParleyError, ParleyTimeoutError } from '@parley/sdk';

/** The process exit codes (README, "CLI"). */
export const EXIT = {
  ok: 0,
  /** The server answered with an error, or an operator command failed. */
  failed: 1,
  /** The command line was wrong: unknown command or option, a missing or malformed value. */
  usage: 2,
  /** No answer from the server: refused, unresolvable, reset, timed out. */
  unreachable: 3,
  /** The server refused the key: missing, unknown, revoked or expired (401), or not allowed (403). */
  auth: 4,
} as const;

/** A failure the CLI reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Ends the command: `error: message` on stderr, exit `code` (usage by default). */
export function fail(message: string, code: number = EXIT.usage): never {
  throw new CliError(message, code);
}

/** The line and the exit code for anything a command threw. */
export function describeError(err: unknown, url?: string): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof ParleyError) {
    const request = err.requestId ? ` (request ${err.requestId})` : '';
    const details = (err.details ?? []).map((d) => `; ${d.field}: ${d.message}`).join('');
    const exitCode = err.status === 401 || err.status === 403 ? EXIT.auth : EXIT.failed;
    return { line: `${err.code}: ${err.message}${details}${request}`, exitCode };
  }
  if (err instanceof ParleyTimeoutError) {
    return {
      line: `cannot connect: no answer from ${url ?? 'the server'} within ${err.timeoutMs} ms`,
      exitCode: EXIT.unreachable,
    };
  }
  if (err instanceof ParleyConnectionError) {
    const cause = (err.cause as { cause?: { code?: string; message?: string }; message?: string } | undefined) ?? {};
    const reason = cause.cause?.code ?? cause.cause?.message ?? cause.message ?? err.message;
    return { line: `cannot connect to ${url ?? 'the server'}: ${reason}`, exitCode: EXIT.unreachable };
  }
  const e = err as { code?: string; message?: string };
  return { line: `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`, exitCode: EXIT.failed };
}

/** Writes the error line (`error: …`) and sets the exit code. */
export function reportError(err: unknown, url?: string): void {
  const { line, exitCode } = describeError(err, url);
  process.stderr.write(`error: ${line}\n`);
  process.exitCode = exitCode;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON document per line, written as each item arrives. */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
  /** Shrinks (with "…") before the others when the table is wider than the terminal. */
  flex?: boolean;
  /** Never shortened (ids: a cut id is useless); the table overflows instead. */
  fixed?: boolean;
  align?: 'left' | 'right';
}

/** The width to fit: COLUMNS when set, else the terminal's; unlimited when stdout is not a terminal. */
export function terminalWidth(): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return process.stdout.isTTY ? (process.stdout.columns ?? 100) : Number.POSITIVE_INFINITY;
}

/** A cell on one line: control characters and line breaks become spaces, runs of spaces one. */
export function oneLine(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return String(v)
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** Columns a string takes in a terminal: East Asian wide characters and most emoji take two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x0300 && cp <= 0x036f)) continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** `s` cut to at most `width` terminal columns, ending in "…" when something was left out. */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  if (width <= 0) return '';
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = displayWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

function pad(s: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return align === 'right' ? fill + s : s + fill;
}

const GAP = 2;
const MIN_FLEX = 8;

/**
 * The rows as an aligned table with a header line, no wider than `width`: the flexible columns
 * give up room first (down to a few characters), then the widest of the others but ids.
 */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[], width = terminalWidth()): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(c.value(r))));
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((row) => displayWidth(row[i]!))));
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1);
  const shrink = (pick: (i: number) => boolean, floor: number) => {
    while (total() > width) {
      let widest = -1;
      for (let i = 0; i < widths.length; i++) {
        if (pick(i) && widths[i]! > floor && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      }
      if (widest < 0) return;
      widths[widest] = Math.max(floor, widths[widest]! - Math.max(1, total() - width));
    }
  };
  shrink((i) => columns[i]!.flex === true, MIN_FLEX);
  shrink((i) => columns[i]!.fixed !== true, 4);
  const line = (values: string[]) =>
    values
      .map((v, i) => pad(truncate(v, widths[i]!), widths[i]!, columns[i]!.align ?? 'left'))
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

export function printTable<T>(rows: readonly T[], columns: readonly Column<T>[]): void {
  process.stdout.write(`${formatTable(rows, columns)}\n`);
}

/** `key  value` lines, keys aligned (a record shown on its own). */
export function formatFields(fields: ReadonlyArray<readonly [string, string | number | boolean | null | undefined]>) {
  const w = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(w)}  ${oneLine(v)}`).join('\n');
}

/** How the user asked for the answer: a table (default), one JSON document, or JSON Lines. */
export type Format = 'table' | 'json' | 'jsonl';

export function formatOf(opts: { json?: boolean; jsonl?: boolean }): Format {
  if (opts.json && opts.jsonl) fail('give --json or --jsonl, not both');
  return opts.jsonl ? 'jsonl' : opts.json ? 'json' : 'table';
}

/** A list in the chosen format: a table, a JSON array, or one JSON document per item. */
export function printList<T>(rows: readonly T[], columns: readonly Column<T>[], format: Format): void {
  if (format === 'json') printJson(rows);
  else if (format === 'jsonl') for (const r of rows) printJsonLine(r);
  else printTable(rows, columns);
}
