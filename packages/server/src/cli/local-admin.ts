// The operator's commands: they open the database named by PARLEY_DATABASE_URL directly (no server,
// no key; whoever can open the database is the operator), and their audit events say so.
import { systemClock } from '../clock.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { ParleyError } from '../errors.js';
import { presentKey, presentWorkspace } from '../http/presenters.js';
import { operatorAuth } from '../services/context.js';
import { type CreatedKey, KeysService } from '../services/keys.js';
import { WorkspacesService } from '../services/workspaces.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { parseKeyLimits, parseScopes } from './key-options.js';
import { EXIT, fail } from './output.js';

/** The server's configuration from PARLEY_* variables; every problem in one usage error. */
export function operatorConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

export async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ databaseUrl: config.database.url, pg: config.pg });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** One line of `keys list`: who it is for, what it may do, and whether it is still in use. */
function keyLine(k: ReturnType<typeof presentKey>, now: number): string {
  const state =
    k.revoked_at !== null
      ? `revoked ${k.revoked_at}`
      : k.expires_at !== null && Date.parse(k.expires_at) <= now
        ? `expired ${k.expires_at}`
        : 'active';
  return [
    k.id,
    `${k.prefix}…`,
    k.scopes.join(',') + (k.instance_admin ? ' (instance admin)' : ''),
    `user=${k.user_id ?? '-'}`,
    `rate=${k.rate_limit ?? 'default'}`,
    `expires=${k.expires_at ?? 'never'}`,
    `last_used=${k.last_used_at ?? 'never'}`,
    state,
    k.name,
  ].join('  ');
}

async function defaultWorkspace(store: Store, given: string | undefined): Promise<string> {
  if (given) {
    if (!(await store.instance.getWorkspace(given))) fail(`no workspace ${given}`);
    return given;
  }
  const keys = await store.instance.firstWorkspaceId();
  if (!keys) fail('the database has no workspace yet; run `parley serve` once or `parley workspaces create`');
  return keys;
}

function services(store: Store) {
  const deps = { store, clock: systemClock };
  const keys = new KeysService(deps);
  return { keys, workspaces: new WorkspacesService(deps, keys) };
}

export async function workspacesCreate(config: Config, name: string, opts: { json?: boolean }): Promise<void> {
  await withStore(config, async (store) => {
    const created = await services(store).workspaces.createAsOperator(name);
    if (opts.json) {
      const body = {
        workspace: presentWorkspace(created.workspace),
        key: presentKey(created.key.key),
        secret: created.key.secret,
      };
      process.stdout.write(`${JSON.stringify(body)}\n`);
      return;
    }
    process.stdout.write(
      `workspace ${created.workspace.id} (${created.workspace.name})\nadmin key (shown once): ${created.key.secret}\n`,
    );
  });
}

export async function workspacesList(config: Config, opts: { json?: boolean; jsonl?: boolean }): Promise<void> {
  await withStore(config, async (store) => {
    const list = (await services(store).workspaces.listAsOperator()).map(presentWorkspace);
    if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
    else if (opts.jsonl) for (const w of list) process.stdout.write(`${JSON.stringify(w)}\n`);
    else for (const w of list) process.stdout.write(`${w.id}  ${w.created_at}  ${w.name}\n`);
  });
}

export interface KeyCreateOptions {
  workspace?: string;
  name?: string;
  scopes?: string;
  user?: string;
  expires?: string;
  rateLimit?: string;
  instanceAdmin?: boolean;
  json?: boolean;
}

export async function keysCreate(config: Config, opts: KeyCreateOptions): Promise<void> {
  if (opts.instanceAdmin && (opts.scopes || opts.user || opts.expires || opts.rateLimit || opts.workspace)) {
    fail(
      '--instance-admin takes only --name: the key lives in the default workspace with every scope, no user, no expiry',
    );
  }
  await withStore(config, async (store) => {
    const { keys } = services(store);
    const print = (created: CreatedKey, workspaceId: string) => {
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ key: presentKey(created.key), secret: created.secret })}\n`);
      else process.stdout.write(`key ${created.key.id} in ${workspaceId}\nsecret (shown once): ${created.secret}\n`);
    };
    if (opts.instanceAdmin) {
      await defaultWorkspace(store, undefined); // an empty database: say how to set it up
      const created = await keys.createInstanceAdminAsOperator(opts.name ?? 'instance admin');
      print(created, created.key.workspaceId);
      return;
    }
    const workspaceId = await defaultWorkspace(store, opts.workspace);
    if (!opts.name) fail('keys create needs --name');
    const scopes = parseScopes(opts.scopes);
    const { expiresAt, rateLimit } = parseKeyLimits(opts);
    const created = await keys.create(operatorAuth(workspaceId), {
      name: opts.name,
      scopes,
      userId: opts.user,
      expiresAt,
      rateLimit,
    });
    print(created, workspaceId);
  });
}

export async function keysList(
  config: Config,
  opts: { workspace?: string; json?: boolean; jsonl?: boolean },
): Promise<void> {
  await withStore(config, async (store) => {
    const workspaceId = await defaultWorkspace(store, opts.workspace);
    const list = (await services(store).keys.list(operatorAuth(workspaceId))).map(presentKey);
    if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
    else if (opts.jsonl) for (const k of list) process.stdout.write(`${JSON.stringify(k)}\n`);
    else for (const k of list) process.stdout.write(`${keyLine(k, systemClock.now())}\n`);
  });
}

export async function keysRevoke(
  config: Config,
  keyId: string,
  opts: { workspace?: string; force?: boolean },
): Promise<void> {
  await withStore(config, async (store) => {
    const workspaceId = await defaultWorkspace(store, opts.workspace);
    try {
      const k = await services(store).keys.revoke(operatorAuth(workspaceId), keyId, undefined, {
        force: opts.force === true,
      });
      process.stdout.write(`revoked ${k.id}\n`);
    } catch (err) {
      if (err instanceof ParleyError && err.code === 'last_admin_key') {
        fail(`${err.message}; or pass --force (then mint one with \`parley keys create\`)`, EXIT.failed);
      }
      throw err;
    }
  });
}
