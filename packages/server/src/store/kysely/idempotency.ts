import type { Kysely } from 'kysely';
import { QueryTemplate } from '../query-template.js';
import type { Database } from '../schema.js';
import type { IdempotencyReads, IdempotencyRecord, IdempotencyWrites, NewIdempotencyRecord } from '../types.js';
import { type Bound, hot, stmt } from './bound.js';
import { IDEMPOTENCY_COLUMNS, toIdem } from './rows.js';

/**
 * The status a stored idempotent answer takes when its conversation is deleted: the body (which
 * held the conversation's content) is erased, and a replay answers 410 conversation_deleted.
 */
export const ERASED_ANSWER_STATUS = 410;

const completeIdem = new QueryTemplate(
  (db, p: { ws: string; key: string; status: number; body: string | null; conv: string | null }) =>
    db
      .updateTable('idempotency_records')
      .set({ state: 'done', status_code: p.status, response_body: p.body, conversation_id: p.conv })
      .where('workspace_id', '=', p.ws)
      .where('idem_key', '=', p.key),
);

// every write under an Idempotency-Key reads, then claims (see services/idempotency.ts): compiled once
const idemByKey = new QueryTemplate((db, p: { ws: string; key: string }) =>
  db
    .selectFrom('idempotency_records as i')
    .leftJoin('conversations as c', (j) =>
      j.onRef('c.id', '=', 'i.conversation_id').onRef('c.workspace_id', '=', 'i.workspace_id'),
    )
    .select(IDEMPOTENCY_COLUMNS.map((col) => `i.${col}` as const))
    .select('c.deleted_state')
    .where('i.workspace_id', '=', p.ws)
    .where('i.idem_key', '=', p.key),
);

const claimIdem = new QueryTemplate(
  (
    db,
    p: {
      ws: string;
      key: string;
      fingerprint: string;
      state: string;
      status: number | null;
      body: string | null;
      createdAt: number;
      lockedUntil: number;
    },
  ) =>
    db
      .insertInto('idempotency_records')
      .values({
        workspace_id: p.ws,
        idem_key: p.key,
        fingerprint: p.fingerprint,
        state: p.state,
        status_code: p.status,
        response_body: p.body,
        created_at: p.createdAt,
        locked_until: p.lockedUntil,
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'idem_key']).doNothing()),
);

export class IdempotencyReader implements IdempotencyReads {
  constructor(protected readonly b: Bound) {}

  async get(key: string): Promise<IdempotencyRecord | null> {
    const [r] = await hot(this.b, idemByKey, { ws: this.b.ws, key });
    if (!r) return null;
    // the answer is about a conversation now out of view (in the trash, or being erased): its
    // content must not come back through a replay until the conversation is restored
    return { ...toIdem(r), conversationHidden: r.deleted_state !== null && r.deleted_state !== undefined };
  }
}

export class IdempotencyWriter extends IdempotencyReader implements IdempotencyWrites {
  private values(rec: NewIdempotencyRecord) {
    return {
      fingerprint: rec.fingerprint,
      state: rec.state,
      status_code: rec.statusCode,
      response_body: rec.responseBody,
      created_at: rec.createdAt,
      locked_until: rec.lockedUntil,
    };
  }

  async claim(rec: NewIdempotencyRecord): Promise<boolean> {
    const r = await stmt(this.b, claimIdem, {
      ws: this.b.ws,
      key: rec.key,
      fingerprint: rec.fingerprint,
      state: rec.state,
      status: rec.statusCode,
      body: rec.responseBody,
      createdAt: rec.createdAt,
      lockedUntil: rec.lockedUntil,
    });
    return Number(r.numAffectedRows ?? 0) > 0;
  }

  async reclaim(rec: NewIdempotencyRecord, stale: { lockedUntil: number; createdBefore: number }): Promise<boolean> {
    const r = await this.b.db
      .updateTable('idempotency_records')
      .set(this.values(rec))
      .where('workspace_id', '=', this.b.ws)
      .where('idem_key', '=', rec.key)
      .where((eb) =>
        eb.or([
          eb('created_at', '<', stale.createdBefore),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', stale.lockedUntil)]),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async complete(key: string, statusCode: number, body: string | null, conversationId: string | null): Promise<void> {
    await stmt(this.b, completeIdem, { ws: this.b.ws, key, status: statusCode, body, conv: conversationId });
  }

  async release(key: string, fingerprint: string): Promise<void> {
    await this.b.db
      .deleteFrom('idempotency_records')
      .where('workspace_id', '=', this.b.ws)
      .where('idem_key', '=', key)
      .where('fingerprint', '=', fingerprint)
      .where('state', '=', 'running')
      .execute();
  }
}

/** Deletes up to `limit` records created before `createdBefore`, in any workspace. */
export async function purgeIdempotency(db: Kysely<Database>, createdBefore: number, limit: number): Promise<number> {
  const victims = await db
    .selectFrom('idempotency_records')
    .select(['workspace_id', 'idem_key'])
    .where('created_at', '<', createdBefore)
    .limit(limit)
    .execute();
  for (const v of victims) {
    await db
      .deleteFrom('idempotency_records')
      .where('workspace_id', '=', v.workspace_id)
      .where('idem_key', '=', v.idem_key)
      .where('created_at', '<', createdBefore)
      .execute();
  }
  return victims.length;
}
