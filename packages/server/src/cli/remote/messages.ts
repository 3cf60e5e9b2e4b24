// `parley messages list <conversation>`, against a running server through the SDK.
import type { Message, Parley } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, fail, formatOf, printJson, printTable } from '../output.js';
import {
  collect,
  footer,
  itemLimit,
  listOptions,
  pageSize,
  type RemoteOptions,
  remoteOptions,
  withServer,
} from './client.js';

const MESSAGE_COLUMNS: Column<Message>[] = [
  { header: 'ID', value: (m) => m.id, fixed: true },
  { header: 'CREATED', value: (m) => m.created_at.slice(0, 19).replace('T', ' ') },
  { header: 'ROLE', value: (m) => m.role },
  { header: 'CONTENT', value: (m) => m.content, flex: true },
];

async function listMessages(
  conversationId: string,
  opts: RemoteOptions & {
    order?: string;
    limit?: string;
    pageSize?: string;
    all?: boolean;
    json?: boolean;
    jsonl?: boolean;
  },
) {
  const format = formatOf(opts);
  const limit = itemLimit(opts, 100);
  if (opts.order !== undefined && opts.order !== 'asc' && opts.order !== 'desc') {
    fail(`--order must be asc or desc, not ${JSON.stringify(opts.order)}`);
  }
  await withServer(opts, async (parley: Parley) => {
    const list = parley.messages.list(conversationId, {
      limit: pageSize(limit, opts.pageSize),
      order: opts.order as 'asc' | 'desc',
    });
    const got = await collect(list, limit, format);
    if (format === 'jsonl') return;
    if (format === 'json') printJson(got.items);
    else {
      printTable(got.items, MESSAGE_COLUMNS);
      footer(got.items.length, 'messages', got.more);
    }
  });
}

export function registerMessages(program: Command): void {
  const messages = program.command('messages').description('messages of a conversation on a running server');
  listOptions(
    remoteOptions(
      messages
        .command('list')
        .argument('<conversation>', 'conversation id')
        .description('the messages, oldest first')
        .option('--order <dir>', 'asc (default) or desc'),
    ),
    100,
  ).action((conversation: string, opts) => listMessages(conversation, opts));
}
