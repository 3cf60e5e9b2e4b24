// `parley export`: one conversation, a user's, or the workspace's, streamed from the server to a file
// or stdout with constant memory. A file is written under a temporary name beside it and renamed
// into place only once the export is whole (its closing record arrived), so a failed or interrupted
// run leaves the previous file as it was: re-running is always safe (it starts over; the server's
// export has no resume point).
import { randomBytes } from 'node:crypto';
import { createWriteStream, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExportFormat } from '@parley/sdk';
import type { Command } from 'commander';
import { CliError, EXIT, fail, printJson } from '../output.js';
import { progressAllowed, startProgress } from '../progress.js';
import { oneOf, plural, type RemoteOptions, remoteOptions, withServer } from './client.js';

interface ExportOptions extends RemoteOptions {
  user?: string;
  bot?: string;
  contact?: string;
  deal?: string;
  matter?: string;
  archived?: string;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
  format?: string;
  out?: string;
  json?: boolean;
}

const FORMATS = ['jsonl', 'json', 'markdown'] as const;
const ARCHIVED = ['true', 'false', 'only'] as const;

/** Where each conversation begins in each format (a line no message text can start). */
const CONVERSATION_MARK: Record<ExportFormat, Buffer> = {
  jsonl: Buffer.from('\n{"type":"conversation",'),
  json: Buffer.from('\n{"id":"conv_'),
  markdown: Buffer.from('\n---\n\n## '),
};
const TAIL_BYTES = 1024;

export interface ExportCounts {
  conversations: number;
  messages: number;
  tool_invocations: number;
}

/** The counts of the export's closing record, or null when the bytes do not end with one (cut short). */
export function closingCounts(format: ExportFormat, tail: string): ExportCounts | null {
  if (format === 'jsonl') {
    const last = tail.trimEnd().split('\n').pop() ?? '';
    try {
      const rec = JSON.parse(last) as { type?: string } & ExportCounts;
      return rec.type === 'end'
        ? { conversations: rec.conversations, messages: rec.messages, tool_invocations: rec.tool_invocations }
        : null;
    } catch {
      return null;
    }
  }
  if (format === 'json') {
    const m = /"counts":(\{[^{}]*\})\}\n?$/.exec(tail);
    return m ? (JSON.parse(m[1] as string) as ExportCounts) : null;
  }
  const m = /\n(\d+) conversation\(s\), (\d+) message\(s\), (\d+) tool invocation\(s\)\.\n$/.exec(tail);
  return m ? { conversations: Number(m[1]), messages: Number(m[2]), tool_invocations: Number(m[3]) } : null;
}

/** Bytes as people read them: 1.5 MB. */
export function byteSize(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** Passes the bytes through, counting them and the conversations begun, and keeping the last ones. */
class Meter extends Transform {
  bytes = 0;
  conversations = 0;
  private carry: Buffer = Buffer.alloc(0);
  private tailBuf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly mark: Buffer,
    private readonly onChunk: (m: Meter) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.bytes += chunk.length;
    // a mark cut between two chunks is found in carry + chunk; the carry is too short to hold a whole one
    const hay = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    for (let at = hay.indexOf(this.mark); at !== -1; at = hay.indexOf(this.mark, at + this.mark.length)) {
      this.conversations++;
    }
    this.carry = hay.subarray(Math.max(0, hay.length - (this.mark.length - 1)));
    const joined = Buffer.concat([this.tailBuf, chunk]);
    this.tailBuf = joined.subarray(Math.max(0, joined.length - TAIL_BYTES));
    this.onChunk(this);
    done(null, chunk);
  }

  tail(): string {
    return this.tailBuf.toString('utf8');
  }
}

/** A temporary name beside the target: the rename into place then stays on one file system. */
function tempNameFor(file: string): string {
  const dir = path.dirname(file);
  return path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.part`);
}

async function runExport(id: string | undefined, opts: ExportOptions): Promise<void> {
  const format = oneOf('format', opts.format, FORMATS) ?? 'jsonl';
  const archived = oneOf('archived', opts.archived, ARCHIVED);
  const filters = {
    user_id: opts.user,
    bot_id: opts.bot,
    contact_id: opts.contact,
    deal_id: opts.deal,
    matter_id: opts.matter,
    archived,
    created_after: opts.createdAfter,
    created_before: opts.createdBefore,
    updated_after: opts.updatedAfter,
    updated_before: opts.updatedBefore,
  };
  const filtered = Object.entries(filters).filter(([, v]) => v !== undefined);
  if (id !== undefined && filtered.length > 0) {
    fail(
      `a conversation id exports that conversation: give it or filters (${filtered.map(([k]) => k).join(', ')}), not both`,
    );
  }
  if (opts.json && opts.out === undefined) fail('--json needs --out: without it stdout carries the export');
  const toStdout = opts.out === undefined || opts.out === '-';
  const showBar = !opts.json && progressAllowed(toStdout);

  await withServer(opts, async (parley) => {
    // the bar's total: what the list answers for the same filters (archived ones are in by default)
    let total = 1;
    if (id === undefined && showBar) {
      const page = await parley.conversations.list({ ...filters, archived: archived ?? 'true', limit: 1 }).page();
      total = page.meta.total;
    }
    const download =
      id === undefined
        ? await parley.exports.workspace({ ...filters, format })
        : await parley.exports.conversation(id, { format });
    const bar = startProgress({ unit: 'conversations', total, enabled: showBar, stderrOnly: toStdout });
    const meter = new Meter(CONVERSATION_MARK[format], (m) =>
      bar.update(m.conversations, m.conversations > total ? m.conversations : undefined, byteSize(m.bytes)),
    );
    const source = Readable.fromWeb(download.body as import('node:stream/web').ReadableStream<Uint8Array>);
    const temp = toStdout ? undefined : tempNameFor(opts.out as string);
    const dropTemp = () => {
      if (temp !== undefined) unlink(temp).catch(() => {});
    };
    // Ctrl-C: no half file left behind
    const onSignal = () => {
      bar.stop();
      try {
        if (temp !== undefined) unlinkSync(temp);
      } catch {}
      process.stderr.write('\nexport interrupted; nothing written\n');
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    try {
      // which side failed decides the message: the file (or stdout), or the stream from the server
      let sinkError: (Error & { code?: string }) | undefined;
      const sink = temp === undefined ? process.stdout : createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      const onSinkError = (e: Error) => {
        sinkError ??= e;
      };
      sink.on('error', onSinkError);
      try {
        await pipeline(source, meter, sink, { end: temp !== undefined });
      } catch (err) {
        if (sinkError?.code === 'EPIPE' && temp === undefined) return; // the reader went away (| head)
        if (sinkError !== undefined) {
          throw new CliError(`cannot write ${opts.out ?? 'stdout'}: ${sinkError.message}`, EXIT.failed);
        }
        throw cut(meter, download.requestId, temp !== undefined, (err as Error).message);
      } finally {
        sink.removeListener('error', onSinkError);
      }
      const counts = closingCounts(format, meter.tail());
      if (counts === null) throw cut(meter, download.requestId, temp !== undefined, 'no closing record');
      if (temp !== undefined) {
        const fh = await open(temp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(temp, opts.out as string);
      }
      bar.update(counts.conversations, counts.conversations);
      bar.stop();
      if (toStdout) return;
      const summary = { file: opts.out as string, format, bytes: meter.bytes, ...counts };
      if (opts.json) printJson(summary);
      else
        process.stdout.write(
          `exported ${plural(counts.conversations, 'conversation')}, ${plural(counts.messages, 'message')}, ${plural(counts.tool_invocations, 'tool invocation')} (${byteSize(meter.bytes)}) to ${opts.out}\n`,
        );
    } catch (err) {
      dropTemp();
      throw err;
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSignal);
    }
  });
}

/** The stream ended before the export's closing record: the server or the connection failed midway. */
function cut(meter: Meter, requestId: string | undefined, toFile: boolean, why: string): CliError {
  const kept = toFile ? '; the file was not written (run again)' : '; the output is incomplete';
  const request = requestId ? ` (request ${requestId})` : '';
  return new CliError(`the export was cut after ${byteSize(meter.bytes)} (${why})${kept}${request}`, EXIT.unreachable);
}

export function registerExport(program: Command): void {
  remoteOptions(
    program
      .command('export')
      .argument('[conversation_id]', 'export this conversation only')
      .description(
        'export one conversation, a user’s (--user), or the workspace’s, with messages and tool invocations, streamed',
      )
      .option('--format <format>', 'jsonl (default; what `parley import` reads), json, or markdown')
      .option('-o, --out <file>', 'write to this file, whole or not at all (default: stdout)')
      .option('--user <id>', 'only this user_id')
      .option('--bot <id>', 'only this bot_id')
      .option('--contact <id>', 'only this context.contact_id')
      .option('--deal <id>', 'only this context.deal_id')
      .option('--matter <id>', 'only this context.matter_id')
      .option('--archived <which>', 'true (default): archived ones too; false: without them; only: just them')
      .option('--created-after <iso>', 'created at or after (ISO 8601)')
      .option('--created-before <iso>', 'created before (ISO 8601)')
      .option('--updated-after <iso>', 'updated at or after (ISO 8601)')
      .option('--updated-before <iso>', 'updated before (ISO 8601)')
      .option('--json', 'with --out: print {file, format, bytes, conversations, messages, tool_invocations}'),
  ).action((id: string | undefined, opts: ExportOptions) => runExport(id, opts));
}
