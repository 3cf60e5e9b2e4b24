// `parley import FILE`: sends a JSONL file (an export, or OpenAI-style chats one per line) to POST
// /v1/import as it is read (constant memory, a progress bar of the bytes sent), then prints the
// server's report: a line per conversation or chat (created / already present) and per line in
// error. The import is idempotent, so running it again creates nothing new and finishes a cut one.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import type { ImportReport } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, EXIT, fail, printJson, printTable } from '../output.js';
import { startProgress } from '../progress.js';
import { oneOf, positiveInt, type RemoteOptions, remoteOptions, withServer } from './client.js';

interface ImportOptions extends RemoteOptions {
  format?: string;
  timeout?: string;
  json?: boolean;
}

type Entry = ImportReport['results'][number];

const STATUS: Record<Entry['status'], string> = { created: 'created', skipped: 'already present', error: 'error' };

const COLUMNS: Column<Entry>[] = [
  { header: 'LINE', value: (e) => e.line, align: 'right' },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'STATUS', value: (e) => STATUS[e.status] },
  { header: 'ID', value: (e) => e.id, fixed: true },
  { header: 'ERROR', value: (e) => (e.error ? `${e.error.code}: ${e.error.message}` : null), flex: true },
];

/** The import can take long on the server: the default per-call timeout of the CLI (30 s) is too short. */
const DEFAULT_TIMEOUT_S = 600;

/**
 * A JSON file as import records: an array of records (export records or chats), one record, or a
 * document of `parley export --format json`, turned into the JSONL records it stands for.
 */
export function jsonRecords(value: unknown): object[] {
  if (Array.isArray(value)) return value as object[];
  const doc = value as { format?: unknown; version?: unknown; exported_at?: unknown; conversations?: unknown };
  if (doc !== null && typeof doc === 'object' && doc.format === 'parley.export' && Array.isArray(doc.conversations)) {
    const out: object[] = [{ type: 'export', format: doc.format, version: doc.version, exported_at: doc.exported_at }];
    for (const c of doc.conversations as Array<Record<string, unknown>>) {
      const { messages, tool_invocations, ...conversation } = c;
      out.push({ type: 'conversation', ...conversation });
      for (const m of (messages as object[] | undefined) ?? []) out.push({ type: 'message', ...m });
      for (const t of (tool_invocations as object[] | undefined) ?? []) out.push({ type: 'tool_invocation', ...t });
    }
    out.push({ type: 'end', ...((value as { counts?: object }).counts ?? {}) });
    return out;
  }
  return [value as object];
}

function tally(what: string, t: { created: number; skipped: number; failed: number }): string {
  return `${what} ${t.created} created, ${t.skipped} already present${t.failed > 0 ? `, ${t.failed} failed` : ''}`;
}

async function runImport(file: string, opts: ImportOptions): Promise<void> {
  const fromStdin = file === '-';
  const format = oneOf('format', opts.format, ['jsonl', 'json'] as const) ?? (/\.json$/i.test(file) ? 'json' : 'jsonl');
  const timeoutMs = (positiveInt('timeout', opts.timeout) ?? DEFAULT_TIMEOUT_S) * 1000;
  let size = 0;
  if (!fromStdin) {
    try {
      const s = await stat(file);
      if (!s.isFile()) fail(`${file} is not a file`);
      size = s.size;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') fail(`no such file: ${file}`);
      throw err;
    }
  }

  await withServer(opts, async (parley) => {
    const bar = startProgress({
      unit: format === 'jsonl' ? 'bytes' : 'records',
      total: size,
      enabled: !opts.json && !fromStdin,
    });
    let report: ImportReport;
    try {
      if (format === 'jsonl') {
        let sent = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, done) {
            sent += chunk.length;
            bar.update(sent);
            done(null, chunk);
          },
        });
        const source = fromStdin ? process.stdin : createReadStream(file);
        source.on('error', (e: Error) => counter.destroy(e));
        const body = Readable.toWeb(source.pipe(counter)) as unknown as ReadableStream<Uint8Array>;
        report = await parley.imports.send(body, { timeoutMs });
      } else {
        const text = fromStdin ? await streamText(process.stdin) : await readFile(file, 'utf8');
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          fail(
            `${fromStdin ? 'stdin' : file} is not valid JSON (${(err as Error).message}); a JSONL file needs --format jsonl`,
            EXIT.failed,
          );
        }
        const records = jsonRecords(value);
        bar.update(0, records.length);
        report = await parley.imports.send(
          (function* () {
            for (let i = 0; i < records.length; i++) {
              bar.update(i + 1);
              yield records[i] as object;
            }
          })(),
          { timeoutMs },
        );
      }
    } finally {
      bar.stop();
    }

    if (opts.json) printJson(report);
    else {
      if (report.results.length > 0) printTable(report.results, COLUMNS);
      const lines = [
        `${report.lines} lines read: ${tally('conversations', report.conversations)}; ${tally('messages', report.messages)}; ${tally('tool invocations', report.tool_invocations)}`,
      ];
      if (report.errors > 0) lines.push(`${report.errors} line${report.errors === 1 ? '' : 's'} in error`);
      if (report.results_truncated) lines.push('the report lists its first 10,000 entries only');
      process.stderr.write(`${lines.join('; ')}\n`);
    }
    if (report.errors > 0) process.exitCode = EXIT.failed;
  });
}

async function streamText(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function registerImport(program: Command): void {
  remoteOptions(
    program
      .command('import')
      .argument('<file>', 'the file to import; - reads stdin')
      .description(
        'import an export (JSONL) or OpenAI-style chats, one per line; idempotent: a second run creates nothing new',
      )
      .option(
        '--format <format>',
        'jsonl (default: streamed as read) or json (an array of records, or a `parley export --format json` document; read whole); default from the file name',
      )
      .option('--timeout <seconds>', `how long the server may take to answer (default ${DEFAULT_TIMEOUT_S})`)
      .option('--json', 'print the server’s report as JSON'),
  ).action((file: string, opts: ImportOptions) => runImport(file, opts));
}
