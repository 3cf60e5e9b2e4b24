// `parley holds list|create|release`: legal holds on a conversation, a user or a context id.
import type { ResultOf } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, fail, printJson } from '../output.js';
import {
  type ListOptions,
  listOptions,
  oneOf,
  printPages,
  type RemoteOptions,
  remoteOptions,
  withServer,
} from './client.js';

type Hold = ResultOf<'/v1/holds/{id}', 'get'>['data'];

const COLUMNS: Column<Hold>[] = [
  { header: 'ID', value: (h) => h.id, fixed: true },
  { header: 'TARGET', value: (h) => `${h.target_type} ${h.target_value}` },
  { header: 'STATE', value: (h) => (h.active ? 'active' : `released ${h.released_at?.slice(0, 10) ?? ''}`) },
  { header: 'CREATED', value: (h) => h.created_at.slice(0, 19).replace('T', ' ') },
  { header: 'BY', value: (h) => h.created_by ?? 'operator' },
  { header: 'REASON', value: (h) => h.reason, flex: true },
];

async function list(opts: ListOptions & { includeReleased?: boolean; order?: string }) {
  const order = oneOf('order', opts.order, ['asc', 'desc'] as const);
  const include_released = opts.includeReleased ? ('true' as const) : undefined;
  await printPages(opts, 50, COLUMNS, 'holds', (parley, limit) =>
    parley.holds.list({ limit, order, include_released }),
  );
}

interface CreateOptions extends RemoteOptions {
  conversation?: string;
  user?: string;
  contact?: string;
  deal?: string;
  matter?: string;
  reason?: string;
  json?: boolean;
}

async function create(opts: CreateOptions) {
  const targets = (
    [
      ['conversation', opts.conversation],
      ['user', opts.user],
      ['contact_id', opts.contact],
      ['deal_id', opts.deal],
      ['matter_id', opts.matter],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (targets.length !== 1) fail('give exactly one of --conversation, --user, --contact, --deal, --matter');
  const [type, value] = targets[0] as readonly [Hold['target_type'], string];
  await withServer(opts, async (parley) => {
    const h = await parley.holds.create({ target_type: type, target_value: value, reason: opts.reason });
    if (opts.json) printJson(h);
    else process.stdout.write(`hold ${h.id} on ${h.target_type} ${h.target_value}\n`);
  });
}

async function release(ids: string[], opts: RemoteOptions & { json?: boolean }) {
  await withServer(opts, async (parley) => {
    const released: Hold[] = [];
    for (const id of ids) {
      const h = await parley.holds.release(id);
      released.push(h);
      if (!opts.json) process.stdout.write(`released ${h.id} (${h.target_type} ${h.target_value})\n`);
    }
    if (opts.json) printJson(released);
  });
}

export function registerHolds(program: Command): void {
  const holds = program
    .command('holds')
    .description('legal holds: while one covers a conversation, every delete and purge of it is refused (admin key)');
  listOptions(
    remoteOptions(
      holds
        .command('list')
        .description('active holds, newest first')
        .option('--include-released', 'released holds too')
        .option('--order <dir>', 'desc (default) or asc'),
    ),
    50,
  ).action((opts) => list(opts));
  remoteOptions(
    holds
      .command('create')
      .description('hold a conversation, a user’s conversations, or those with a context id')
      .option('--conversation <id>', 'this conversation')
      .option('--user <user_id>', 'every conversation of this user')
      .option('--contact <id>', 'every conversation whose context.contact_id is this')
      .option('--deal <id>', 'every conversation whose context.deal_id is this')
      .option('--matter <id>', 'every conversation whose context.matter_id is this')
      .option('--reason <text>', 'why (for the people who release it)')
      .option('--json', 'print the hold'),
  ).action((opts: CreateOptions) => create(opts));
  remoteOptions(
    holds
      .command('release')
      .argument('<ids...>', 'hold ids (hold_…)')
      .description('release holds (deletes are allowed again once no other hold covers the conversation)')
      .option('--json', 'print the released holds'),
  ).action((ids: string[], opts) => release(ids, opts));
}
