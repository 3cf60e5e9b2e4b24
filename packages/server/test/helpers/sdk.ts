// Test setup through @parley/sdk: workspaces, keys and data are made the way an integration would
// make them, so the SDK runs on every test run. What a test asserts about the wire stays raw HTTP
// (helpers/harness.ts `Client`).
import { Parley, type ParleyOptions } from '@parley/sdk';
import { Client, type TestServer } from './harness.js';

/** An SDK client of the server with this key (no retries: a test sees the first answer). */
export function sdk(server: { url: string }, apiKey: string, opts: Partial<ParleyOptions> = {}): Parley {
  return new Parley({ baseUrl: server.url, apiKey, maxRetries: 0, ...opts });
}

export interface SdkKey {
  id: string;
  secret: string;
  parley: Parley;
  /** The raw HTTP client with the same key, for assertions about the wire. */
  client: Client;
}

export interface SdkWorkspace {
  id: string;
  admin: SdkKey;
  /** Mints a key in this workspace (extra: user_id, expires_at, rate_limit). */
  key(
    scopes: Array<'read:ai' | 'write:ai' | 'admin'>,
    extra?: { user_id?: string; rate_limit?: number },
  ): Promise<SdkKey>;
}

function bind(server: { url: string }, id: string, secret: string | null): SdkKey {
  if (!secret) throw new Error(`no secret for ${id}`);
  return { id, secret, parley: sdk(server, secret), client: new Client(server.url, secret) };
}

/** A fresh workspace with its first admin key, made by the instance admin key through the SDK. */
export async function newSdkWorkspace(server: TestServer, name = 'test'): Promise<SdkWorkspace> {
  const made = await sdk(server, server.instanceKey).workspaces.create({ name });
  const admin = bind(server, made.key.id, made.secret);
  return {
    id: made.workspace.id,
    admin,
    async key(scopes, extra = {}) {
      const k = await admin.parley.keys.create({ name: `k-${scopes.join('-')}`, scopes, ...extra });
      return bind(server, k.key.id, k.secret);
    },
  };
}
