// `parley keys …` and `parley workspaces …`: each acts on the database directly as the operator,
// or, when a server is named (--url or PARLEY_URL), on that server through its API with a key.
import type { Command } from 'commander';
import type { KeyCreateOptions } from './local-admin.js';
import { fail } from './output.js';
import { listOptions, type RemoteOptions, remoteOptions, remoteUrl } from './remote/client.js';
import { remoteKeysCreate, remoteKeysList, remoteKeysRevoke } from './remote/keys.js';
import { remoteWorkspacesCreate, remoteWorkspacesList } from './remote/workspaces.js';

type Opts = RemoteOptions & { local?: boolean };

/** The operator's side (the store, the services) is loaded only when a command acts locally. */
const local = () => import('./local-admin.js');

const FLAG: Record<string, string> = {
  workspace: '--workspace',
  instanceAdmin: '--instance-admin',
  force: '--force',
  limit: '--limit',
  all: '--all',
  pageSize: '--page-size',
};

/**
 * Whether the command goes to a server: a URL was given and --local was not. Options that only one
 * side understands are usage errors on the other, never silently ignored.
 */
function isRemote(opts: Opts, localOnly: string[], remoteOnly: string[]): boolean {
  if (opts.local && opts.url !== undefined) fail('give --url or --local, not both');
  const remote = !opts.local && remoteUrl(opts) !== undefined;
  if (remote) {
    const bad = localOnly.find((k) => (opts as Record<string, unknown>)[k] !== undefined);
    if (bad) {
      fail(
        `${FLAG[bad]} acts on the database directly: not with a server (--url or PARLEY_URL); pass --local, or use the key's own workspace`,
      );
    }
  } else {
    const bad = remoteOnly.find((k) => (opts as Record<string, unknown>)[k] !== undefined);
    if (bad) fail(`${FLAG[bad]} is for a server's list (--url or PARLEY_URL)`);
  }
  return remote;
}

function localOption(cmd: Command): Command {
  return cmd.option('--local', 'act on the database directly even when PARLEY_URL is set');
}

export function registerAdmin(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys: on the database as the operator, or on a server with --url/PARLEY_URL (admin key)');

  localOption(
    remoteOptions(
      keys
        .command('create')
        .description('mint a key; its secret is printed once')
        .option('--name <name>', 'what the key is for')
        .option('--scopes <scopes>', 'comma-separated: read:ai, write:ai, admin (admin implies the other two)')
        .option('--user <user_id>', 'bind the key to one user')
        .option('--expires <iso>', 'expiry, ISO 8601')
        .option('--rate-limit <n>', 'requests per window for this key')
        .option('--workspace <id>', 'operator only: the workspace (default: the first one)')
        .option(
          '--instance-admin',
          'operator only: a new instance admin key in the default workspace (takes only --name)',
        )
        .option('--json', 'print {"key", "secret"}'),
    ),
  ).action(async (opts: Opts & KeyCreateOptions) => {
    if (isRemote(opts, ['workspace', 'instanceAdmin'], [])) return remoteKeysCreate(opts);
    const l = await local();
    return l.keysCreate(l.operatorConfig(), opts);
  });

  localOption(
    remoteOptions(
      keys
        .command('list')
        .description('every key: scopes, user binding, rate limit, expiry, last use, state (never a secret)')
        .option('--workspace <id>', 'operator only: the workspace (default: the first one)')
        .option('--json', 'one JSON array')
        .option('--jsonl', 'one JSON object per line'),
    ),
  ).action(async (opts: Opts & { json?: boolean; jsonl?: boolean }) => {
    if (isRemote(opts, ['workspace'], [])) return remoteKeysList(opts);
    if (opts.json && opts.jsonl) fail('give --json or --jsonl, not both');
    const l = await local();
    return l.keysList(l.operatorConfig(), opts);
  });

  localOption(
    remoteOptions(
      keys
        .command('revoke')
        .argument('<key_id>', 'the key to revoke')
        .description('revoke a key: it is refused (401) from now on')
        .option('--workspace <id>', 'operator only: the workspace (default: the first one)')
        .option('--force', "operator only: even the workspace's last active admin key")
        .option('--json', 'print the revoked key'),
    ),
  ).action(async (keyId: string, opts: Opts & { workspace?: string; force?: boolean; json?: boolean }) => {
    if (isRemote(opts, ['workspace', 'force'], [])) return remoteKeysRevoke(keyId, opts);
    const l = await local();
    return l.keysRevoke(l.operatorConfig(), keyId, opts);
  });

  const workspaces = program
    .command('workspaces')
    .description(
      'workspaces: on the database as the operator, or on a server with --url/PARLEY_URL (instance admin key)',
    );

  localOption(
    remoteOptions(
      workspaces
        .command('create')
        .argument('<name>', 'the workspace name')
        .description('create a workspace and print its first admin key (once)')
        .option('--json', 'print {"workspace", "key", "secret"}'),
    ),
  ).action(async (name: string, opts: Opts & { json?: boolean }) => {
    if (isRemote(opts, [], [])) return remoteWorkspacesCreate(name, opts);
    const l = await local();
    return l.workspacesCreate(l.operatorConfig(), name, opts);
  });

  localOption(
    remoteOptions(listOptions(workspaces.command('list').description('every workspace: id, created, name'), 100)),
  ).action(async (opts: Opts & { json?: boolean; jsonl?: boolean }) => {
    if (isRemote(opts, [], ['limit', 'all', 'pageSize'])) return remoteWorkspacesList(opts);
    if (opts.json && opts.jsonl) fail('give --json or --jsonl, not both');
    const l = await local();
    return l.workspacesList(l.operatorConfig(), opts);
  });
}
