import { parseArgs } from 'node:util';
import { systemClock } from '../clock.js';
import { type Config, ConfigError, loadConfig, redact } from '../config.js';
import { SCOPES, type Scope } from '../domain/types.js';
import { ParleyError } from '../errors.js';
import { presentKey, presentWorkspace } from '../http/presenters.js';
import { createParley } from '../parley.js';
import { seedData } from '../seed/run.js';
import { operatorAuth } from '../services/context.js';
import { type CreatedKey, KeysService } from '../services/keys.js';
import { WorkspacesService } from '../services/workspaces.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

const USAGE = `parley — conversation store for AI assistants

Usage:
  parley serve                          start the HTTP server (the default command)
  parley migrate                        apply database migrations and exit
  parley workspaces create <name>       create a workspace and print its first admin key
  parley workspaces list [--json]       every workspace: id, name, created
  parley keys create [--workspace ID] --name NAME --scopes SCOPES [--user USER_ID]
                     [--expires ISO-8601] [--rate-limit N] [--json]
                                        SCOPES: comma-separated, of read:ai, write:ai, admin
  parley keys create --instance-admin [--name NAME] [--json]
                                        a new instance admin key in the default workspace
                                        (replaces a lost one; printed once)
  parley keys list [--workspace ID] [--json]
  parley keys revoke <key_id> [--workspace ID] [--force]
                                        --force: even the workspace's last active admin key
  parley seed-data [--workspaces 10] [--conversations 100000] [--messages 1000000] [--seed 1]
                                        fill the database with realistic generated data (benchmarks, demos)

Configuration comes from PARLEY_* environment variables (see README.md).
--workspace defaults to the first workspace (the one created on first start).`;

function fail(message: string, code = 2): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
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

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      workspace: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      user: { type: 'string' },
      expires: { type: 'string' },
      'rate-limit': { type: 'string' },
      'instance-admin': { type: 'boolean' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      workspaces: { type: 'string' },
      conversations: { type: 'string' },
      messages: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command = 'serve', sub, arg] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }

  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate': {
      // one connection, and a statement timeout no long migration hits
      const store = await openStore(
        {
          databaseUrl: config.databaseUrl,
          pgPoolSize: 1,
          pgConnectTimeoutMs: config.pgConnectTimeoutMs,
          pgStatementTimeoutMs: 600_000,
        },
        { migrate: false },
      );
      try {
        const report = await store.migrate();
        for (const m of report.applied) process.stdout.write(`applied ${m.version}: ${m.name}\n`);
        process.stdout.write(`schema at version ${report.current}\n`);
      } finally {
        await store.close();
      }
      return;
    }
    case 'workspaces': {
      await withStore(config, async (store) => {
        const deps = { store, clock: systemClock };
        const workspaces = new WorkspacesService(deps, new KeysService(deps));
        if (sub === 'create' && arg) {
          const created = await workspaces.createAsOperator(arg);
          process.stdout.write(
            `workspace ${created.workspace.id} (${created.workspace.name})\nadmin key (shown once): ${created.key.secret}\n`,
          );
        } else if (sub === 'list') {
          const list = (await workspaces.listAsOperator()).map(presentWorkspace);
          if (values.json) process.stdout.write(`${JSON.stringify(list)}\n`);
          else for (const w of list) process.stdout.write(`${w.id}  ${w.created_at}  ${w.name}\n`);
        } else {
          fail('usage: parley workspaces create <name> | parley workspaces list [--json]');
        }
      });
      return;
    }
    case 'keys': {
      await withStore(config, async (store) => {
        const deps = { store, clock: systemClock };
        const keys = new KeysService(deps);
        const print = (created: CreatedKey, workspaceId: string) => {
          if (values.json)
            process.stdout.write(`${JSON.stringify({ key: presentKey(created.key), secret: created.secret })}\n`);
          else
            process.stdout.write(`key ${created.key.id} in ${workspaceId}\nsecret (shown once): ${created.secret}\n`);
        };
        if (sub === 'create' && values['instance-admin']) {
          if (values.scopes || values.user || values.expires || values['rate-limit'] || values.workspace) {
            fail(
              '--instance-admin takes only --name: the key lives in the default workspace with every scope, no user, no expiry',
            );
          }
          await defaultWorkspace(store, undefined); // an empty database: say how to set it up
          const created = await keys.createInstanceAdminAsOperator(values.name ?? 'instance admin');
          print(created, created.key.workspaceId);
          return;
        }
        const workspaceId = await defaultWorkspace(store, values.workspace);
        const operator = operatorAuth(workspaceId);
        if (sub === 'create') {
          if (!values.name) fail('keys create needs --name');
          if (!values.scopes) {
            fail(
              `keys create needs --scopes, a comma-separated list of: ${SCOPES.join(', ')} (admin implies the other two)`,
            );
          }
          const scopes = values.scopes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
          if (unknown.length > 0 || scopes.length === 0) {
            fail(`unknown scope(s) ${unknown.join(', ') || '(none given)'}; known: ${SCOPES.join(', ')}`);
          }
          const expiresAt = values.expires ? Date.parse(values.expires) : undefined;
          if (expiresAt !== undefined && Number.isNaN(expiresAt)) fail('--expires must be an ISO 8601 date');
          const rateLimit = values['rate-limit'] ? Number(values['rate-limit']) : undefined;
          if (rateLimit !== undefined && (!Number.isInteger(rateLimit) || rateLimit < 1)) {
            fail('--rate-limit must be a positive whole number');
          }
          const created = await keys.create(operator, {
            name: values.name,
            scopes: scopes as Scope[],
            userId: values.user,
            expiresAt,
            rateLimit,
          });
          print(created, workspaceId);
        } else if (sub === 'list') {
          const list = (await keys.list(operator)).map(presentKey);
          if (values.json) process.stdout.write(`${JSON.stringify(list)}\n`);
          else for (const k of list) process.stdout.write(`${keyLine(k, systemClock.now())}\n`);
        } else if (sub === 'revoke') {
          if (!arg) fail('usage: parley keys revoke <key_id> [--force]');
          try {
            const k = await keys.revoke(operator, arg, undefined, { force: values.force === true });
            process.stdout.write(`revoked ${k.id}\n`);
          } catch (err) {
            if (err instanceof ParleyError && err.code === 'last_admin_key') {
              fail(`${err.message}; or pass --force (then mint one with \`parley keys create\`)`, 1);
            }
            throw err;
          }
        } else {
          fail('usage: parley keys create|list|revoke');
        }
      });
      return;
    }
    case 'seed-data': {
      const whole = (name: string, raw: string | undefined, def: number): number => {
        if (raw === undefined) return def;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive whole number`);
        return n;
      };
      const opts = {
        workspaces: whole('workspaces', values.workspaces, 10),
        conversations: whole('conversations', values.conversations, 100_000),
        messages: whole('messages', values.messages, 1_000_000),
        seed: whole('seed', values.seed, 1),
        now: Date.UTC(2026, 10, 1),
      };
      await withStore(config, async (store) => {
        const report = await seedData(store, opts);
        process.stdout.write(
          `${values.json ? JSON.stringify(report) : `seeded ${report.workspaces} workspaces, ${report.conversations.toLocaleString('en')} conversations, ${report.messages.toLocaleString('en')} messages, ${report.toolInvocations.toLocaleString('en')} tool invocations in ${report.seconds.toFixed(1)} s (${Math.round(report.messages / report.seconds).toLocaleString('en')} messages/s); largest workspace ${report.largestWorkspace.id} with ${report.largestWorkspace.conversations.toLocaleString('en')} conversations`}\n`,
        );
      });
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

async function serve(config: Config): Promise<void> {
  const parley = await createParley(config);
  const address = await parley.start();
  if (parley.bootstrapped) {
    const { workspace, key } = parley.bootstrapped;
    process.stdout.write(
      [
        '',
        '  Parley is set up. This is the instance admin key; it is shown once and stored only as a hash:',
        '',
        `    ${key.secret}`,
        '',
        `  workspace: ${workspace.id} (default)`,
        `  try: curl -H "Authorization: Bearer ${key.secret}" ${address}/v1/conversations`,
        '',
      ].join('\n'),
    );
  }
  parley.app.log.info({ address, database: redact(config.databaseUrl) }, 'parley listening');
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    parley.app.log.info({ signal }, 'shutting down');
    parley.close().then(
      () => process.exit(0),
      (err) => {
        parley.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  fail(`${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`, 1);
});
