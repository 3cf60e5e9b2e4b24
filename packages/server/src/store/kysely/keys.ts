import { sql } from 'kysely';
import type { ApiKey } from '../../domain/types.js';
import { QueryTemplate } from '../query-template.js';
import type { KeyReads, KeyWrites } from '../types.js';
import { type Bound, type Conn, hot, sameWorkspace } from './bound.js';
import { KEY_COLUMNS, toKey } from './rows.js';

const keyByHash = new QueryTemplate((db, p: { hash: string }) =>
  db.selectFrom('api_keys').select(KEY_COLUMNS).where('key_hash', '=', p.hash),
);

/** The key a secret hashes to, in any workspace: how a request finds its tenant (a hot read). */
export async function findKeyByHash(c: Conn, keyHash: string): Promise<ApiKey | null> {
  const [r] = await hot(c, keyByHash, { hash: keyHash });
  return r ? toKey(r) : null;
}

export class KeysReader implements KeyReads {
  constructor(protected readonly b: Bound) {}

  async list(): Promise<ApiKey[]> {
    const rows = await this.b.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .orderBy('id')
      .execute();
    return rows.map(toKey);
  }

  async get(id: string): Promise<ApiKey | null> {
    const r = await this.b.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toKey(r) : null;
  }
}

export class KeysWriter extends KeysReader implements KeyWrites {
  async insert(key: ApiKey, keyHash: string): Promise<void> {
    sameWorkspace(this.b, key.workspaceId, 'API key');
    await this.b.db
      .insertInto('api_keys')
      .values({
        workspace_id: this.b.ws,
        id: key.id,
        name: key.name,
        key_hash: keyHash,
        prefix: key.prefix,
        scopes: key.scopes.join(' '),
        user_id: key.userId,
        instance_admin: key.instanceAdmin ? 1 : 0,
        rate_limit: key.rateLimit,
        expires_at: key.expiresAt,
        revoked_at: key.revokedAt,
        created_at: key.createdAt,
        last_used_at: key.lastUsedAt,
      })
      .execute();
  }

  async activeAdminIds(now: number): Promise<string[]> {
    let query = this.b.db
      .selectFrom('api_keys')
      .select('id')
      .where('workspace_id', '=', this.b.ws)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      // scopes are space-separated words; admin is one of them
      .where(sql<boolean>`(' ' || scopes || ' ') like '% admin %'`);
    // two admins revoking each other at once: the second waits here, then sees the first's revoke
    if (this.b.lockRows) query = query.forUpdate();
    const rows = await query.orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  async touchLastUsed(id: string, at: number, unlessAfter: number): Promise<void> {
    await this.b.db
      .updateTable('api_keys')
      .set({ last_used_at: at })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', unlessAfter)]))
      .execute();
  }

  async revoke(id: string, at: number): Promise<boolean> {
    const r = await this.b.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
