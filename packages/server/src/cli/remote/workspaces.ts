// `parley workspaces list|create` against a running server (the instance admin key).
import type { Workspace } from '@parley/sdk';
import { type Column, formatOf, printJson, printList } from '../output.js';
import { collect, footer, itemLimit, pageSize, type RemoteOptions, withServer } from './client.js';

const COLUMNS: Column<Workspace>[] = [
  { header: 'ID', value: (w) => w.id, fixed: true },
  { header: 'CREATED', value: (w) => w.created_at },
  { header: 'NAME', value: (w) => w.name, flex: true },
];

export async function remoteWorkspacesList(
  opts: RemoteOptions & { limit?: string; pageSize?: string; all?: boolean; json?: boolean; jsonl?: boolean },
): Promise<void> {
  const format = formatOf(opts);
  const limit = itemLimit(opts, 100);
  await withServer(opts, async (parley) => {
    const got = await collect(parley.workspaces.list({ limit: pageSize(limit, opts.pageSize) }), limit, format);
    if (format === 'jsonl') return;
    printList(got.items, COLUMNS, format);
    if (format === 'table') footer(got.items.length, 'workspaces', got.more);
  });
}

export async function remoteWorkspacesCreate(name: string, opts: RemoteOptions & { json?: boolean }): Promise<void> {
  await withServer(opts, async (parley) => {
    const created = await parley.workspaces.create({ name });
    if (opts.json) printJson(created);
    else {
      process.stdout.write(
        `workspace ${created.workspace.id} (${created.workspace.name})\nadmin key (shown once): ${created.secret}\n`,
      );
    }
  });
}
