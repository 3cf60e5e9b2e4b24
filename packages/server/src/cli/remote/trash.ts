// `parley purge` and `parley trash list|restore|days`: the workspace's trash through the SDK.
import { ParleyError, type ResultOf } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, describeError, EXIT, fail, printJson } from '../output.js';
import {
  confirm,
  type ListOptions,
  listOptions,
  oneOf,
  plural,
  printPages,
  type RemoteOptions,
  remoteOptions,
  withServer,
} from './client.js';

type TrashItem = ResultOf<'/v1/trash', 'get'>['data'][number];

const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');

const COLUMNS: Column<TrashItem>[] = [
  { header: 'ID', value: (t) => t.conversation.id, fixed: true },
  { header: 'TRASHED', value: (t) => when(t.trashed_at) },
  { header: 'PURGED AFTER', value: (t) => when(t.purge_at) },
  { header: 'USER', value: (t) => t.conversation.user_id },
  { header: 'MSGS', value: (t) => t.conversation.message_count, align: 'right' },
  { header: 'TITLE', value: (t) => t.conversation.title, flex: true },
];

async function list(opts: ListOptions & { order?: string }) {
  const order = oneOf('order', opts.order, ['asc', 'desc'] as const);
  await printPages(opts, 50, COLUMNS, 'conversations in the trash', (parley, limit) =>
    parley.trash.list({ limit, order }),
  );
}

async function restore(ids: string[], opts: RemoteOptions & { json?: boolean }) {
  await withServer(opts, async (parley) => {
    const out: Array<{
      id: string;
      restored: boolean;
      error?: { code: string; message: string; request_id?: string };
    }> = [];
    for (const id of ids) {
      try {
        const c = await parley.conversations.restore(id);
        out.push({ id: c.id, restored: true });
        if (!opts.json) process.stdout.write(`restored ${c.id}\n`);
      } catch (err) {
        // a missing or expired id is that id's failure; anything else (a refused key, no server) ends the command
        if (!(err instanceof ParleyError) || err.status !== 404) throw err;
        out.push({ id, restored: false, error: { code: err.code, message: err.message, request_id: err.requestId } });
        if (!opts.json) process.stderr.write(`error: ${id}: ${describeError(err).line}\n`);
      }
    }
    if (opts.json) printJson(out);
    if (out.some((r) => !r.restored)) process.exitCode = EXIT.failed;
  });
}

async function days(raw: string | undefined, opts: RemoteOptions & { json?: boolean }) {
  let value: number | undefined;
  if (raw !== undefined) {
    if (!/^\d+$/.test(raw) || Number(raw) > 3650)
      fail(`days must be a whole number from 0 to 3650, not ${JSON.stringify(raw)}`);
    value = Number(raw);
  }
  await withServer(opts, async (parley) => {
    const ws =
      value === undefined
        ? await parley.workspaces.current()
        : await parley.workspaces.updateCurrent({ trash_days: value });
    if (opts.json) printJson(ws);
    else if (ws.trash_days === 0) process.stdout.write('trash_days 0: deletes erase at once (no trash)\n');
    else process.stdout.write(`trash_days ${ws.trash_days}: deleted conversations stay restorable that many days\n`);
  });
}

async function purge(opts: RemoteOptions & { all?: boolean; yes?: boolean; json?: boolean }) {
  if (opts.all && !opts.yes && !process.stdin.isTTY) {
    fail('not purging the whole trash without --yes: there is no terminal to confirm on');
  }
  await withServer(opts, async (parley) => {
    if (opts.all && !opts.yes) {
      const ok = await confirm('Erase everything in the trash now, whatever its window? This cannot be undone. [y/N] ');
      if (!ok) {
        process.stderr.write('not purged\n');
        process.exitCode = EXIT.failed;
        return;
      }
    }
    const r = await parley.trash.purge(opts.all ? { all: true } : {});
    if (opts.json) printJson(r);
    else {
      process.stdout.write(
        `purged ${plural(r.purged, 'conversation')} (${plural(r.messages, 'message')})${r.held > 0 ? `; ${r.held} held by a legal hold ${r.held === 1 ? 'stays' : 'stay'} in the trash` : ''}\n`,
      );
    }
  });
}

export function registerTrash(program: Command): void {
  remoteOptions(
    program
      .command('purge')
      .description('erase now what in the trash is past its window (admin key); held conversations stay')
      .option('--all', 'everything in the trash, whatever its window (asks first unless --yes)')
      .option('-y, --yes', 'do not ask (required for --all when stdin is not a terminal)')
      .option('--json', 'print {"purged", "held", "messages"}'),
  ).action((opts) => purge(opts));

  const trash = program
    .command('trash')
    .description('the trash of deleted conversations (when the workspace keeps one: trash days)');
  listOptions(
    remoteOptions(
      trash
        .command('list')
        .description('conversations in the trash, most recently deleted first')
        .option('--order <dir>', 'desc (default) or asc'),
    ),
    50,
  ).action((opts) => list(opts));
  remoteOptions(
    trash
      .command('restore')
      .argument('<ids...>', 'conversation ids')
      .description('bring conversations back from the trash within their window')
      .option('--json', 'print [{"id", "restored", "error"?}]'),
  ).action((ids: string[], opts) => restore(ids, opts));
  remoteOptions(
    trash
      .command('days')
      .argument('[days]', 'set it: 0 to 3650 (0: deletes erase at once)')
      .description('how many days a deleted conversation stays restorable (admin key to set)')
      .option('--json', 'print the workspace'),
  ).action((n: string | undefined, opts) => days(n, opts));
}
