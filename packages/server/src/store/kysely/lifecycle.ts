import type { RetentionPolicy } from '../../domain/types.js';
import type { ConversationSubject, LifecycleReads, RetentionReads, RetentionWrites, SubjectScan } from '../types.js';
import type { Bound } from './bound.js';
import { num } from './rows.js';

/** Conversations as lifecycle work scans them: by id, a batch at a time, with what holds can cover. */
export class LifecycleReader implements LifecycleReads {
  constructor(protected readonly b: Bound) {}

  async subjects(q: SubjectScan): Promise<ConversationSubject[]> {
    let query = this.b.db
      .selectFrom('conversations')
      .select(['id', 'user_id', 'bot_id', 'contact_id', 'deal_id', 'matter_id', 'archived', 'updated_at'])
      .where('workspace_id', '=', this.b.ws);
    if (q.userId !== undefined) query = query.where('user_id', '=', q.userId);
    if (q.inView) query = query.where('deleted_state', 'is', null);
    if (q.updatedBefore !== undefined) query = query.where('updated_at', '<', q.updatedBefore);
    if (q.afterId !== undefined) query = query.where('id', '>', q.afterId);
    const rows = await query.orderBy('id').limit(q.limit).execute();
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      botId: r.bot_id,
      contactId: r.contact_id,
      dealId: r.deal_id,
      matterId: r.matter_id,
      archived: num(r.archived) === 1,
      updatedAt: num(r.updated_at),
    }));
  }

  async countOfUser(userId: string): Promise<number> {
    const r = await this.b.db
      .selectFrom('conversations')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('workspace_id', '=', this.b.ws)
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return num(r.n);
  }
}

export class RetentionReader implements RetentionReads {
  constructor(protected readonly b: Bound) {}

  async get(): Promise<{ policy: RetentionPolicy; updatedAt: number } | null> {
    const r = await this.b.db
      .selectFrom('retention_policies')
      .select(['policy', 'updated_at'])
      .where('workspace_id', '=', this.b.ws)
      .executeTakeFirst();
    return r ? { policy: JSON.parse(r.policy) as RetentionPolicy, updatedAt: num(r.updated_at) } : null;
  }
}

export class RetentionWriter extends RetentionReader implements RetentionWrites {
  async put(policy: RetentionPolicy | null, at: number, by: string | null): Promise<void> {
    if (policy === null) {
      await this.b.db.deleteFrom('retention_policies').where('workspace_id', '=', this.b.ws).execute();
      return;
    }
    const text = JSON.stringify(policy);
    await this.b.db
      .insertInto('retention_policies')
      .values({ workspace_id: this.b.ws, policy: text, updated_at: at, updated_by: by })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ policy: text, updated_at: at, updated_by: by }))
      .execute();
  }
}
