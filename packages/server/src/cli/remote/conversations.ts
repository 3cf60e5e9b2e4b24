// `parley conversations list|search|show|delete`, against a running server through the SDK.
import type { Conversation } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, EXIT, fail, formatFields, formatOf, printJson, printList } from '../output.js';
import { registerBulkDelete } from './bulk-delete.js';
import {
  collect,
  confirm,
  footer,
  itemLimit,
  listOptions,
  pageSize,
  type RemoteOptions,
  remoteOptions,
  withServer,
} from './client.js';

interface FilterOptions extends RemoteOptions {
  user?: string;
  bot?: string;
  contact?: string;
  deal?: string;
  matter?: string;
  archived?: boolean;
  onlyArchived?: boolean;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
  orderBy?: 'updated_at' | 'created_at' | 'relevance';
  order?: 'asc' | 'desc';
  limit?: string;
  pageSize?: string;
  all?: boolean;
  json?: boolean;
  jsonl?: boolean;
}

type Listed = Conversation;

const LIST_LIMIT = 50;

function filterOptions(cmd: Command): Command {
  return cmd
    .option('--user <id>', 'only this user_id')
    .option('--bot <id>', 'only this bot_id')
    .option('--contact <id>', 'only this context.contact_id')
    .option('--deal <id>', 'only this context.deal_id')
    .option('--matter <id>', 'only this context.matter_id')
    .option('--archived', 'include archived conversations')
    .option('--only-archived', 'only archived conversations')
    .option('--created-after <iso>', 'created at or after (ISO 8601)')
    .option('--created-before <iso>', 'created before (ISO 8601)')
    .option('--updated-after <iso>', 'updated at or after (ISO 8601)')
    .option('--updated-before <iso>', 'updated before (ISO 8601)')
    .option('--order-by <field>', 'updated_at, created_at, or relevance (search only; its default)')
    .option('--order <dir>', 'desc (default) or asc');
}

function query(opts: FilterOptions, limit: number) {
  if (opts.archived && opts.onlyArchived) fail('give --archived or --only-archived, not both');
  if (opts.order !== undefined && opts.order !== 'asc' && opts.order !== 'desc') {
    fail(`--order must be asc or desc, not ${JSON.stringify(opts.order)}`);
  }
  const by = ['updated_at', 'created_at', 'relevance'];
  if (opts.orderBy !== undefined && !by.includes(opts.orderBy)) {
    fail(`--order-by must be one of ${by.join(', ')}, not ${JSON.stringify(opts.orderBy)}`);
  }
  return {
    limit: pageSize(limit, opts.pageSize),
    user_id: opts.user,
    bot_id: opts.bot,
    contact_id: opts.contact,
    deal_id: opts.deal,
    matter_id: opts.matter,
    archived: opts.onlyArchived ? ('only' as const) : opts.archived ? ('true' as const) : undefined,
    created_after: opts.createdAfter,
    created_before: opts.createdBefore,
    updated_after: opts.updatedAfter,
    updated_before: opts.updatedBefore,
    order_by: opts.orderBy,
    order: opts.order,
  };
}

const COLUMNS: Column<Listed>[] = [
  { header: 'ID', value: (c) => c.id, fixed: true },
  { header: 'UPDATED', value: (c) => c.updated_at.slice(0, 19).replace('T', ' ') },
  { header: 'USER', value: (c) => c.user_id },
  { header: 'BOT', value: (c) => c.bot_id },
  { header: 'MSGS', value: (c) => c.message_count, align: 'right' },
  { header: 'TITLE', value: (c) => (c.archived ? `[archived] ${c.title ?? ''}` : c.title), flex: true },
];

const SEARCH_COLUMNS: Column<Listed>[] = [...COLUMNS, { header: 'MATCH', value: (c) => c.match?.snippet, flex: true }];

async function listOrSearch(text: string | undefined, opts: FilterOptions): Promise<void> {
  const format = formatOf(opts);
  const limit = itemLimit(opts, LIST_LIMIT);
  const params = query(opts, limit);
  await withServer(opts, async (parley) => {
    const list = text === undefined ? parley.conversations.list(params) : parley.conversations.search(text, params);
    const got = await collect(list, limit, format);
    if (format === 'jsonl') return;
    printList(got.items, text === undefined ? COLUMNS : SEARCH_COLUMNS, format);
    if (format === 'table') {
      const meta = got.first?.meta;
      footer(got.items.length, 'conversations', got.more, meta && { total: meta.total, exact: meta.total_exact });
    }
  });
}

/** Text from the server, safe to print: no terminal control sequences, tabs and line breaks kept. */
function printable(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

async function show(id: string, opts: RemoteOptions & { limit?: string; all?: boolean; json?: boolean }) {
  const limit = itemLimit(opts, Number.POSITIVE_INFINITY);
  await withServer(opts, async (parley) => {
    const conv = await parley.conversations.get(id, { limit: 1 });
    const got = await collect(parley.messages.list(id, { limit: pageSize(limit) }), limit, 'table');
    const messages = got.items;
    if (opts.json) {
      printJson({ ...conv, messages });
      return;
    }
    process.stdout.write(
      `${formatFields([
        ['id', conv.id],
        ['title', conv.title],
        ['user', conv.user_id],
        ['bot', conv.bot_id],
        ['archived', conv.archived],
        ['messages', conv.message_count],
        ['tool steps', conv.tool_invocation_count],
        ['context', JSON.stringify(conv.context)],
        ['metadata', JSON.stringify(conv.metadata)],
        ['created', conv.created_at],
        ['updated', conv.updated_at],
        ['live streams', conv.live_connections],
      ])}\n`,
    );
    for (const m of messages) {
      process.stdout.write(`\n${m.created_at}  ${m.role}  ${m.id}\n`);
      for (const line of printable(m.content).split('\n')) process.stdout.write(`  ${line}\n`);
    }
    if (got.more) process.stderr.write(`\n${messages.length} of ${conv.message_count} messages (raise --limit)\n`);
  });
}

async function remove(id: string, opts: RemoteOptions & { yes?: boolean; ifIdle?: boolean; json?: boolean }) {
  if (!opts.yes && !process.stdin.isTTY) {
    fail(`not deleting ${id} without --yes: there is no terminal to confirm on`);
  }
  await withServer(opts, async (parley) => {
    if (!opts.yes) {
      const c = await parley.conversations.get(id, { limit: 1 });
      const title = c.title === null ? '(untitled)' : JSON.stringify(c.title);
      const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
      const ok = await confirm(
        `Delete ${c.id} ${title} with its ${n(c.message_count, 'message')} and ${n(c.tool_invocation_count, 'tool step')}? This cannot be undone. [y/N] `,
      );
      if (!ok) {
        process.stderr.write('not deleted\n');
        process.exitCode = EXIT.failed;
        return;
      }
    }
    await parley.conversations.delete(id, opts.ifIdle ? { if_idle: 'true' } : {});
    if (opts.json) printJson({ id, deleted: true });
    else process.stdout.write(`deleted ${id}\n`);
  });
}

export function registerConversations(program: Command): void {
  const group = program
    .command('conversations')
    .description('browse and delete conversations on a running server (--url/--key or PARLEY_URL/PARLEY_KEY)');

  listOptions(
    filterOptions(remoteOptions(group.command('list').description('conversations, newest activity first'))),
    LIST_LIMIT,
  ).action((opts: FilterOptions) => listOrSearch(undefined, opts));

  listOptions(
    filterOptions(
      remoteOptions(
        group
          .command('search')
          .argument('<text>', 'every word must match; the last one as a prefix; "quoted phrases"')
          .description('conversations whose title or messages match, best first, with the matching snippet'),
      ),
    ),
    LIST_LIMIT,
  ).action((text: string, opts: FilterOptions) => listOrSearch(text, opts));

  remoteOptions(
    group
      .command('show')
      .argument('<id>', 'conversation id')
      .description('a conversation and its messages, oldest first')
      .option('--limit <n>', 'at most n messages (default: all)')
      .option('--json', 'one JSON document: the conversation with a messages array'),
  ).action((id: string, opts) => show(id, opts));

  remoteOptions(
    group
      .command('delete')
      .argument('<id>', 'conversation id')
      .description('delete a conversation with its messages and tool steps (asks first unless --yes)')
      .option('-y, --yes', 'do not ask (required when stdin is not a terminal)')
      .option('--if-idle', 'refuse (409 conversation_busy) while live streams are open on it')
      .option('--json', 'print {"id", "deleted": true}'),
  ).action((id: string, opts) => remove(id, opts));

  registerBulkDelete(group);
}
