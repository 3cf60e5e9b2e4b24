// `parley audit`: the workspace's audit events, walked page by page through the SDK up to --limit.
import type { AuditEvent } from '@parley/sdk';
import type { Command } from 'commander';
import { type Column, fail, formatOf, printList } from '../output.js';
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

interface AuditOptions extends RemoteOptions {
  action?: string;
  actorKey?: string;
  conversation?: string;
  createdAfter?: string;
  createdBefore?: string;
  order?: string;
  limit?: string;
  pageSize?: string;
  all?: boolean;
  json?: boolean;
  jsonl?: boolean;
}

const COLUMNS: Column<AuditEvent>[] = [
  { header: 'CREATED', value: (e) => e.created_at },
  { header: 'ACTION', value: (e) => e.action },
  { header: 'ACTOR', value: (e) => e.actor_key_id ?? e.actor_type },
  { header: 'TARGET', value: (e) => e.target_id, fixed: true },
  {
    header: 'COUNTS',
    value: (e) =>
      Object.entries(e.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    flex: true,
  },
];

async function audit(opts: AuditOptions): Promise<void> {
  const format = formatOf(opts);
  const limit = itemLimit(opts, 100);
  if (opts.order !== undefined && opts.order !== 'asc' && opts.order !== 'desc') {
    fail(`--order must be asc or desc, not ${JSON.stringify(opts.order)}`);
  }
  await withServer(opts, async (parley) => {
    const list = parley.audit.list({
      limit: pageSize(limit, opts.pageSize),
      order: opts.order as 'asc' | 'desc' | undefined,
      action: opts.action,
      actor_key_id: opts.actorKey,
      conversation_id: opts.conversation,
      created_after: opts.createdAfter,
      created_before: opts.createdBefore,
    });
    const got = await collect(list, limit, format);
    if (format === 'jsonl') return;
    printList(got.items, COLUMNS, format);
    if (format === 'table') footer(got.items.length, 'events', got.more);
  });
}

export function registerAudit(program: Command): void {
  listOptions(
    remoteOptions(
      program
        .command('audit')
        .description('who did what in the workspace of the key (admin scope), newest first; never content')
        .option('--action <action>', 'only this action, e.g. conversation.deleted')
        .option('--actor-key <key_id>', 'only what this API key did')
        .option('--conversation <id>', 'only events about this conversation')
        .option('--created-after <iso>', 'at or after (ISO 8601)')
        .option('--created-before <iso>', 'before (ISO 8601)')
        .option('--order <dir>', 'desc (default) or asc'),
    ),
    100,
  ).action((opts: AuditOptions) => audit(opts));
}
