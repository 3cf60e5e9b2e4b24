// `parley conversations bulk-delete`: many conversations at once through POST
// /v1/conversations/bulk-delete, ids from the arguments or from stdin, 1,000 per request.
import { ParleyError } from '@parley/sdk';
import type { Command } from 'commander';
import { CliError, type Column, describeError, EXIT, fail, printJson, printTable } from '../output.js';
import { confirm, type RemoteOptions, remoteOptions, withServer } from './client.js';

interface BulkOptions extends RemoteOptions {
  stdin?: boolean;
  atomic?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** What the API takes in one request. */
const BATCH = 1000;

interface Result {
  id: string;
  status: 'deleted' | 'not_found' | 'held';
  hold_id?: string;
}

/** Ids from stdin: separated by whitespace or line breaks, blank lines ignored. */
export async function readStdinWords(): Promise<string[]> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** The ids once each, in the order given. */
function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

const COLUMNS: Column<Result>[] = [
  { header: 'ID', value: (r) => r.id, fixed: true },
  { header: 'STATUS', value: (r) => r.status.replace('_', ' ') },
  { header: 'HOLD', value: (r) => r.hold_id },
];

async function bulkDelete(args: string[], opts: BulkOptions): Promise<void> {
  if (opts.stdin && args.length > 0) fail('give the ids as arguments or with --stdin, not both');
  if (!opts.stdin && args.length === 0) fail('no ids: give them as arguments or one per line with --stdin');
  if (!opts.yes && (opts.stdin || !process.stdin.isTTY)) {
    fail('not deleting without --yes: there is no terminal to confirm on');
  }
  const ids = unique(opts.stdin ? await readStdinWords() : args);
  if (ids.length === 0) fail('no ids on stdin');
  const atomic = opts.atomic !== false;
  await withServer(opts, async (parley) => {
    if (!opts.yes) {
      const ok = await confirm(
        `Delete ${ids.length} conversation${ids.length === 1 ? '' : 's'} with their messages and tool steps? [y/N] `,
      );
      if (!ok) {
        process.stderr.write('not deleted\n');
        process.exitCode = EXIT.failed;
        return;
      }
    }
    const results: Result[] = [];
    const meta = { deleted: 0, not_found: 0, held: 0, trashed: false };
    for (let at = 0; at < ids.length; at += BATCH) {
      const batch = ids.slice(at, at + BATCH);
      let answer: Awaited<ReturnType<typeof parley.conversations.bulkDelete>>;
      try {
        answer = await parley.conversations.bulkDelete({ ids: batch, atomic });
      } catch (err) {
        // a later batch refused: say that the earlier ones were done
        if (err instanceof ParleyError && at > 0) {
          const { line } = describeError(err);
          throw new CliError(`${line}; the first ${at} ids were already deleted`, EXIT.failed);
        }
        throw err;
      }
      results.push(...(answer.data as Result[]));
      meta.deleted += answer.meta.deleted;
      meta.not_found += answer.meta.not_found;
      meta.held += answer.meta.held;
      meta.trashed ||= answer.meta.trashed;
    }
    if (opts.json) printJson({ data: results, meta });
    else {
      printTable(results, COLUMNS);
      process.stderr.write(
        `${meta.deleted} deleted${meta.trashed ? ' (to the trash)' : ''}, ${meta.not_found} not found, ${meta.held} held\n`,
      );
    }
    if (meta.deleted < results.length) process.exitCode = EXIT.failed;
  });
}

export function registerBulkDelete(group: Command): void {
  remoteOptions(
    group
      .command('bulk-delete')
      .argument('[ids...]', 'conversation ids')
      .description(
        'delete many conversations: all or nothing per 1,000 ids (a legal hold on one refuses the batch); a result per id',
      )
      .option('--stdin', 'read the ids from stdin, separated by spaces or line breaks')
      .option('--no-atomic', 'delete what can be deleted and report the held ones instead of refusing')
      .option('-y, --yes', 'do not ask (required with --stdin or when stdin is not a terminal)')
      .option('--json', 'print {"data": [{id, status, hold_id?}], "meta": {deleted, not_found, held, trashed}}'),
  ).action((ids: string[], opts: BulkOptions) => bulkDelete(ids, opts));
}
