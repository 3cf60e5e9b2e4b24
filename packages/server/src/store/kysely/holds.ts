import type { Hold, HoldTargetType } from '../../domain/types.js';
import type { LegalHoldsTable } from '../schema.js';
import type { HeldCandidate, HoldListQuery, HoldReads, HoldWrites } from '../types.js';
import { type Bound, sameWorkspace } from './bound.js';
import { num, numOrNull } from './rows.js';

const HOLD_COLUMNS = [
  'workspace_id',
  'id',
  'target_type',
  'target_value',
  'reason',
  'created_at',
  'created_by',
  'released_at',
  'released_by',
] as const;

function toHold(r: LegalHoldsTable): Hold {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    targetType: r.target_type as HoldTargetType,
    targetValue: r.target_value,
    reason: r.reason,
    createdAt: num(r.created_at),
    createdBy: r.created_by,
    releasedAt: numOrNull(r.released_at),
    releasedBy: r.released_by,
  };
}

/** What each target type of a hold matches on a conversation. */
const TARGET_OF: Record<HoldTargetType, (c: HeldCandidate) => string | null> = {
  conversation: (c) => c.id,
  user: (c) => c.userId,
  contact_id: (c) => c.contactId,
  deal_id: (c) => c.dealId,
  matter_id: (c) => c.matterId,
};
const TARGET_TYPES = Object.keys(TARGET_OF) as HoldTargetType[];

/** How many values one IN list carries (SQLite's bound-parameter limit is far above it). */
const IN_CHUNK = 500;

/** heldAmong first asks whether the workspace has any active hold when it would look up more target values than this. */
const PROBE_FIRST = 64;

export class HoldsReader implements HoldReads {
  constructor(protected readonly b: Bound) {}

  async get(id: string): Promise<Hold | null> {
    const r = await this.b.db
      .selectFrom('legal_holds')
      .select(HOLD_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toHold(r) : null;
  }

  async list(q: HoldListQuery): Promise<Hold[]> {
    let query = this.b.db.selectFrom('legal_holds').select(HOLD_COLUMNS).where('workspace_id', '=', this.b.ws);
    if (!q.includeReleased) query = query.where('released_at', 'is', null);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toHold);
  }

  async activeFor(targetType: HoldTargetType, value: string): Promise<Hold[]> {
    const rows = await this.b.db
      .selectFrom('legal_holds')
      .select(HOLD_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('target_type', '=', targetType)
      .where('target_value', '=', value)
      .where('released_at', 'is', null)
      .orderBy('id')
      .execute();
    return rows.map(toHold);
  }

  async heldAmong(conversations: readonly HeldCandidate[]): Promise<Map<string, Hold>> {
    const out = new Map<string, Hold>();
    if (conversations.length === 0) return out;
    // the active holds whose target is one of the values these conversations carry, oldest first:
    // every target type in one statement (one round trip for a single conversation's check), at
    // most IN_CHUNK values a statement
    const wanted: Array<{ type: HoldTargetType; value: string }> = [];
    for (const type of TARGET_TYPES) {
      for (const value of new Set(conversations.map(TARGET_OF[type]))) if (value !== null) wanted.push({ type, value });
    }
    const active = new Map<string, Hold>();
    // a workspace with no active hold (the usual case) answers from one probe (the first page of
    // its active holds, of one) instead of statements over every target value (a 1,000-id bulk
    // delete: ~3,000 values, 8-17 ms on PostgreSQL); both read what was committed when they ran
    if (
      wanted.length > PROBE_FIRST &&
      (await this.list({ includeReleased: false, order: 'asc', limit: 1 })).length === 0
    )
      return out;
    for (let i = 0; i < wanted.length; i += IN_CHUNK) {
      const chunk = wanted.slice(i, i + IN_CHUNK);
      const types = TARGET_TYPES.flatMap((type) => {
        const values = chunk.filter((w) => w.type === type).map((w) => w.value);
        return values.length > 0 ? [{ type, values }] : [];
      });
      const rows = await this.b.db
        .selectFrom('legal_holds')
        .select(HOLD_COLUMNS)
        .where('workspace_id', '=', this.b.ws)
        .where('released_at', 'is', null)
        .where((eb) =>
          eb.or(types.map((t) => eb.and([eb('target_type', '=', t.type), eb('target_value', 'in', t.values)]))),
        )
        .orderBy('id')
        .execute();
      for (const r of rows) {
        const k = `${r.target_type}\u0000${r.target_value}`;
        if (!active.has(k)) active.set(k, toHold(r));
      }
    }
    if (active.size === 0) return out;
    for (const c of conversations) {
      let first: Hold | undefined;
      for (const type of TARGET_TYPES) {
        const v = TARGET_OF[type](c);
        const h = v === null ? undefined : active.get(`${type}\u0000${v}`);
        if (h && (first === undefined || h.id < first.id)) first = h;
      }
      if (first) out.set(c.id, first);
    }
    return out;
  }
}

export class HoldsWriter extends HoldsReader implements HoldWrites {
  async insert(h: Hold): Promise<void> {
    sameWorkspace(this.b, h.workspaceId, 'legal hold');
    await this.b.db
      .insertInto('legal_holds')
      .values({
        workspace_id: this.b.ws,
        id: h.id,
        target_type: h.targetType,
        target_value: h.targetValue,
        reason: h.reason,
        created_at: h.createdAt,
        created_by: h.createdBy,
        released_at: h.releasedAt,
        released_by: h.releasedBy,
      })
      .execute();
  }

  async release(id: string, at: number, by: string | null): Promise<Hold | null> {
    await this.b.db
      .updateTable('legal_holds')
      .set({ released_at: at, released_by: by })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('released_at', 'is', null)
      .execute();
    return this.get(id);
  }
}
