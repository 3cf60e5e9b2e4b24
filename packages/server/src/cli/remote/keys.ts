// `parley keys list|create|revoke` against a running server (an admin key of the workspace).
import type { ApiKey } from '@parley/sdk';
import { parseKeyLimits, parseScopes } from '../key-options.js';
import { type Column, fail, formatOf, printJson, printList } from '../output.js';
import { type RemoteOptions, withServer } from './client.js';

function state(k: ApiKey, now: number): string {
  if (k.revoked_at !== null) return 'revoked';
  if (k.expires_at !== null && Date.parse(k.expires_at) <= now) return 'expired';
  return 'active';
}

const COLUMNS = (now: number): Column<ApiKey>[] => [
  { header: 'ID', value: (k) => k.id, fixed: true },
  { header: 'PREFIX', value: (k) => `${k.prefix}…` },
  { header: 'SCOPES', value: (k) => k.scopes.join(',') + (k.instance_admin ? ' (instance admin)' : '') },
  { header: 'USER', value: (k) => k.user_id },
  { header: 'RATE', value: (k) => k.rate_limit ?? 'default', align: 'right' },
  { header: 'EXPIRES', value: (k) => k.expires_at ?? 'never' },
  { header: 'LAST USED', value: (k) => k.last_used_at ?? 'never' },
  { header: 'STATE', value: (k) => state(k, now) },
  { header: 'NAME', value: (k) => k.name, flex: true },
];

export async function remoteKeysList(opts: RemoteOptions & { json?: boolean; jsonl?: boolean }): Promise<void> {
  const format = formatOf(opts);
  await withServer(opts, async (parley) => {
    printList(await parley.keys.list(), COLUMNS(Date.now()), format);
  });
}

export async function remoteKeysCreate(
  opts: RemoteOptions & {
    name?: string;
    scopes?: string;
    user?: string;
    expires?: string;
    rateLimit?: string;
    json?: boolean;
  },
): Promise<void> {
  if (!opts.name) fail('keys create needs --name');
  const scopes = parseScopes(opts.scopes);
  const { expiresAt, rateLimit } = parseKeyLimits(opts);
  await withServer(opts, async (parley) => {
    const created = await parley.keys.create({
      name: opts.name as string,
      scopes,
      user_id: opts.user,
      expires_at: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString(),
      rate_limit: rateLimit,
    });
    if (opts.json) printJson({ key: created.key, secret: created.secret });
    else process.stdout.write(`key ${created.key.id}\nsecret (shown once): ${created.secret}\n`);
  });
}

export async function remoteKeysRevoke(keyId: string, opts: RemoteOptions & { json?: boolean }): Promise<void> {
  await withServer(opts, async (parley) => {
    const k = await parley.keys.revoke(keyId);
    if (opts.json) printJson(k);
    else process.stdout.write(`revoked ${k.id}\n`);
  });
}
