// `parley erase <user_id>`: erase every conversation of a user on a running server (the job of
// POST /v1/users/{user_id}/erase), following it with a progress bar until its receipt; with
// --export-first the job writes a JSONL export of the user first, which --export-to saves.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Parley } from '@parley/sdk';
import type { Command } from 'commander';
import { EXIT, fail, printJson } from '../output.js';
import { startProgress } from '../progress.js';
import { confirm, type RemoteOptions, remoteOptions, withServer } from './client.js';

interface EraseOptions extends RemoteOptions {
  yes?: boolean;
  /** commander's --no-wait: false when given. */
  wait?: boolean;
  json?: boolean;
  exportFirst?: boolean;
  exportTo?: string;
}

type Job = Awaited<ReturnType<Parley['jobs']['get']>>;

/** How often the job is looked at while it runs. */
const POLL_MS = 250;

const plural = (n: number, what: string) => `${n.toLocaleString('en')} ${what}${n === 1 ? '' : 's'}`;

/** Follows the job until it has succeeded or failed, moving the bar with its progress. */
async function follow(parley: Parley, job: Job, showBar: boolean): Promise<Job> {
  const bar = startProgress({ unit: 'conversations', total: job.progress.total ?? 0, enabled: showBar });
  try {
    let current = job;
    for (;;) {
      bar.update(current.progress.done, current.progress.total ?? undefined);
      if (current.state === 'succeeded' || current.state === 'failed') return current;
      await new Promise((r) => setTimeout(r, POLL_MS));
      current = await parley.jobs.get(job.id);
    }
  } finally {
    bar.stop();
  }
}

async function saveExport(parley: Parley, jobId: string, file: string): Promise<void> {
  const d = await parley.exports.eraseExport(jobId);
  await pipeline(Readable.fromWeb(d.body as WebReadableStream<Uint8Array>), createWriteStream(file, { mode: 0o600 }));
}

async function erase(userId: string, opts: EraseOptions): Promise<void> {
  const exportFirst = opts.exportFirst === true || opts.exportTo !== undefined;
  if (opts.exportTo !== undefined && opts.wait === false) fail('--export-to waits for the job: drop --no-wait');
  if (!opts.yes && !process.stdin.isTTY) {
    fail(`not erasing user ${userId} without --yes: there is no terminal to confirm on`);
  }
  await withServer(opts, async (parley) => {
    if (!opts.yes) {
      const inView = (await parley.conversations.list({ user_id: userId, limit: 1 }).page()).meta.total;
      const ok = await confirm(
        `Erase every conversation of user ${JSON.stringify(userId)} (${plural(inView ?? 0, 'conversation')}, and any in the trash)${
          exportFirst ? ', after exporting them' : ''
        }? This cannot be undone. [y/N] `,
      );
      if (!ok) {
        process.stderr.write('not erased\n');
        process.exitCode = EXIT.failed;
        return;
      }
    }
    // a second run for the same user while its job is queued or running gets that job back
    const started = await parley.users.erase(userId, exportFirst ? { exportFirst: true } : {});
    if (opts.wait === false) {
      if (opts.json) printJson(started);
      else process.stdout.write(`erase of ${userId} queued as job ${started.id} (parley erase ${userId} follows it)\n`);
      return;
    }
    const job = await follow(parley, started, opts.json !== true);
    if (job.state === 'failed') {
      if (opts.json) printJson(job);
      const why = job.error ? `${job.error.code}: ${job.error.message}` : 'no reason given';
      fail(`job ${job.id} failed after erasing ${plural(job.progress.done, 'conversation')}: ${why}`, EXIT.failed);
    }
    if (opts.exportTo !== undefined) await saveExport(parley, job.id, opts.exportTo);
    if (opts.json) {
      printJson(job);
      return;
    }
    const receipt = (job.result?.receipt ?? {}) as { counts?: Record<string, number>; export?: { bytes?: number } };
    const counts = receipt.counts ?? {};
    process.stdout.write(
      `erased user ${userId}: ${plural(counts.conversations ?? 0, 'conversation')}, ${plural(
        counts.messages ?? 0,
        'message',
      )}, ${plural(counts.tool_invocations ?? 0, 'tool step')} (job ${job.id}; receipt: parley audit --action user.erased)\n`,
    );
    if (opts.exportTo !== undefined) {
      process.stdout.write(`export written to ${opts.exportTo} (${plural(receipt.export?.bytes ?? 0, 'byte')})\n`);
    } else if (exportFirst) {
      process.stdout.write(`export kept on the server: GET /v1/jobs/${job.id}/export\n`);
    }
  });
}

export function registerErase(program: Command): void {
  remoteOptions(
    program
      .command('erase')
      .argument('<user_id>', 'the user whose conversations are erased')
      .description(
        'erase every conversation of a user (a job on the server, with a progress bar and a receipt; 409 legal_hold when anything of theirs is held)',
      ),
  )
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--no-wait', 'start the job and print its id instead of following it')
    .option('--export-first', 'have the job write a JSONL export of the user before erasing (kept on the server)')
    .option('--export-to <file>', 'save that export to a file once the job is done (implies --export-first)')
    .option('--json', 'print the finished job (with its receipt) as JSON, and no progress bar')
    .action((userId: string, opts: EraseOptions) => erase(userId, opts));
}
