// How the remote commands reach a running server: the SDK, pointed by --url/--key or
// PARLEY_URL/PARLEY_KEY; lists walked page by page up to --limit; every SDK error turned into
// the one-line message and exit code of output.ts.
import { createInterface } from 'node:readline/promises';
import { type CursorPage, type Paginated, Parley } from '@parley/sdk';
import type { Command } from 'commander';
import {
  CliError,
  type Column,
  describeError,
  type Format,
  fail,
  formatOf,
  printJsonLine,
  printList,
} from '../output.js';

export interface RemoteOptions {
  url?: string;
  key?: string;
}

/** The server the command names: --url, else PARLEY_URL; undefined when neither is set. */
export function remoteUrl(opts: RemoteOptions): string | undefined {
  const url = opts.url ?? process.env.PARLEY_URL;
  return url === undefined || url === '' ? undefined : url;
}

/** Adds --url and --key (each falling back to its environment variable) to a command. */
export function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'the server, e.g. http://127.0.0.1:8080 (default: $PARLEY_URL)')
    .option('--key <key>', 'an API key, prl_… (default: $PARLEY_KEY; prefer the variable: arguments show in ps)');
}

/** Output options of a command that prints a list. */
export function listOptions(cmd: Command, defaultLimit: number): Command {
  return cmd
    .option('--limit <n>', `print at most n items (default ${defaultLimit})`)
    .option('--all', 'every item, however many (walks every page)')
    .option('--page-size <n>', 'items per request, at most 100 (default: what --limit needs, up to 100)')
    .option('--json', 'one JSON array')
    .option('--jsonl', 'one JSON object per line, printed as the pages arrive');
}

/** Runs `fn` with a client of the named server; an SDK error becomes a one-line CLI error. */
export async function withServer<T>(opts: RemoteOptions, fn: (parley: Parley) => Promise<T>): Promise<T> {
  const url = remoteUrl(opts);
  if (!url) fail('no server given: pass --url or set PARLEY_URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail(`--url must be an http(s) URL such as http://127.0.0.1:8080, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(`--url must be an http(s) URL such as http://127.0.0.1:8080, not ${JSON.stringify(url)}`);
  }
  const key = opts.key ?? process.env.PARLEY_KEY;
  if (!key) fail('no API key given: set PARLEY_KEY (or pass --key)');
  const parley = new Parley({ baseUrl: url, apiKey: key, userAgent: 'parley-cli' });
  try {
    return await fn(parley);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const { line, exitCode } = describeError(err, url);
    throw new CliError(line, exitCode);
  }
}

/** A whole number ≥ 1 from an option, or a usage error naming the option. */
export function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    fail(`--${name} must be a positive whole number, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** How many items to print: --limit, or every one with --all, or the command's default. */
export function itemLimit(opts: { limit?: string; all?: boolean }, def: number): number {
  if (opts.all && opts.limit !== undefined) fail('give --limit or --all, not both');
  if (opts.all) return Number.POSITIVE_INFINITY;
  return positiveInt('limit', opts.limit) ?? def;
}

/** The page size to ask for: --page-size, else no more than needed; at most the API's 100. */
export function pageSize(limit: number, raw?: string): number {
  const given = positiveInt('page-size', raw);
  if (given !== undefined && given > 100) fail('--page-size must be at most 100');
  return given ?? Math.min(100, limit);
}

export interface Collected<T, P> {
  items: T[];
  first: P | undefined;
  /** Whether more items were left on the server. */
  more: boolean;
}

/**
 * Walks the pages of a list until `limit` items; with JSON Lines each item is printed as it
 * arrives (a long `--all` shows progress and holds little memory), otherwise they are kept.
 */
export async function collect<T, P extends CursorPage<T>>(
  list: Paginated<T, P>,
  limit: number,
  format: Format,
): Promise<Collected<T, P>> {
  const items: T[] = [];
  let first: P | undefined;
  let seen = 0;
  for await (const page of list.pages()) {
    first ??= page;
    for (const item of page.data) {
      if (seen >= limit) return { items, first, more: true };
      seen++;
      if (format === 'jsonl') printJsonLine(item);
      else items.push(item);
    }
    if (seen >= limit) return { items, first, more: page.meta.next_cursor !== null };
  }
  return { items, first, more: false };
}

/** "12 of 340 conversations" (on stderr, so that a piped table holds only rows). */
export function footer(shown: number, what: string, more: boolean, total?: { total: number; exact: boolean }) {
  let line = `${shown} ${what}`;
  if (total) line = `${shown} of ${total.exact ? '' : '~'}${total.total.toLocaleString('en')} ${what}`;
  else if (more) line += ' (more: raise --limit or pass --all)';
  process.stderr.write(`${line}\n`);
}

/** Asks on the terminal; true only for an explicit yes. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The option's value when it is one of `allowed`, else a usage error naming it. */
export function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    fail(`--${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** "1 conversation", "3 conversations". */
export function plural(n: number, what: string): string {
  return `${n.toLocaleString('en')} ${what}${n === 1 ? '' : 's'}`;
}

/** The options `listOptions` adds, with the server's. */
export interface ListOptions extends RemoteOptions {
  limit?: string;
  pageSize?: string;
  all?: boolean;
  json?: boolean;
  jsonl?: boolean;
}

/**
 * A list command's whole run: the pages `open` gives walked up to --limit, printed as a table with
 * a count on stderr, a JSON array, or JSON Lines as they arrive.
 */
export async function printPages<T, P extends CursorPage<T>>(
  opts: ListOptions,
  defaultLimit: number,
  columns: readonly Column<T>[],
  what: string,
  open: (parley: Parley, pageSize: number) => Paginated<T, P>,
): Promise<void> {
  const format = formatOf(opts);
  const limit = itemLimit(opts, defaultLimit);
  const size = pageSize(limit, opts.pageSize);
  await withServer(opts, async (parley) => {
    const got = await collect(open(parley, size), limit, format);
    if (format === 'jsonl') return;
    printList(got.items, columns, format);
    if (format === 'table') footer(got.items.length, what, got.more);
  });
}
