import type { Insertable } from 'kysely';
import { type AuditEvent, actorTypeOf } from '../../domain/types.js';
import { QueryTemplate } from '../query-template.js';
import type { AuditEventsTable } from '../schema.js';
import type { AuditListQuery, AuditReads, AuditWrites } from '../types.js';
import { type Bound, hot, sameWorkspace } from './bound.js';
import { AUDIT_COLUMNS, toAudit } from './rows.js';

export class AuditReader implements AuditReads {
  constructor(protected readonly b: Bound) {}

  async list(q: AuditListQuery): Promise<AuditEvent[]> {
    let query = this.b.db.selectFrom('audit_events').select(AUDIT_COLUMNS).where('workspace_id', '=', this.b.ws);
    if (q.action !== undefined) query = query.where('action', '=', q.action);
    if (q.actorKeyId !== undefined) query = query.where('actor_key_id', '=', q.actorKeyId);
    if (q.targetType !== undefined) query = query.where('target_type', '=', q.targetType);
    if (q.targetId !== undefined) query = query.where('target_id', '=', q.targetId);
    if (q.createdAfter !== undefined) query = query.where('created_at', '>=', q.createdAfter);
    if (q.createdBefore !== undefined) query = query.where('created_at', '<', q.createdBefore);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toAudit);
  }
}

// one per delete and every other audited write: built and compiled once
const insertAudit = new QueryTemplate((db, p: Required<Insertable<AuditEventsTable>>) =>
  db.insertInto('audit_events').values({
    workspace_id: p.workspace_id,
    id: p.id,
    actor_key_id: p.actor_key_id,
    actor_type: p.actor_type,
    action: p.action,
    target_type: p.target_type,
    target_id: p.target_id,
    counts: p.counts,
    details: p.details,
    created_at: p.created_at,
  }),
);

export class AuditWriter extends AuditReader implements AuditWrites {
  async insert(e: AuditEvent): Promise<void> {
    sameWorkspace(this.b, e.workspaceId, 'audit event');
    await hot(this.b, insertAudit, {
      workspace_id: this.b.ws,
      id: e.id,
      actor_key_id: e.actorKeyId,
      actor_type: actorTypeOf(e),
      action: e.action,
      target_type: e.targetType,
      target_id: e.targetId,
      counts: JSON.stringify(e.counts),
      details: e.details ? JSON.stringify(e.details) : null,
      created_at: e.createdAt,
    });
  }
}
