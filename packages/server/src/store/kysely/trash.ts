import type { TrashedConversation } from '../../domain/types.js';
import { QueryTemplate } from '../query-template.js';
import type { HiddenConversation, TrashListQuery, TrashReads, TrashWrites } from '../types.js';
import { type Bound, hot } from './bound.js';
import { CONVERSATION_COLUMNS, num, toConversation } from './rows.js';

// The trash of one workspace: conversations out of view (conversations.deleted_state), and the
// workspace's trash_days that decides whether a delete trashes or erases.

// read on every delete: built and compiled once (store/query-template.ts)
const trashDays = new QueryTemplate((db, p: { ws: string }) =>
  db.selectFrom('workspaces').select('trash_days').where('id', '=', p.ws),
);

export class TrashReader implements TrashReads {
  constructor(protected readonly b: Bound) {}

  async days(): Promise<number> {
    const [r] = await hot(this.b, trashDays, { ws: this.b.ws });
    return r ? num(r.trash_days) : 0;
  }

  async get(id: string): Promise<TrashedConversation | null> {
    const r = await this.b.db
      .selectFrom('conversations as c')
      .select([...CONVERSATION_COLUMNS, 'c.trashed_at', 'c.purge_at'])
      .where('c.workspace_id', '=', this.b.ws)
      .where('c.id', '=', id)
      .where('c.deleted_state', '=', 'trash')
      .executeTakeFirst();
    return r
      ? { conversation: toConversation(r), trashedAt: num(r.trashed_at ?? 0), purgeAt: num(r.purge_at ?? 0) }
      : null;
  }

  async list(q: TrashListQuery): Promise<TrashedConversation[]> {
    let query = this.b.db
      .selectFrom('conversations as c')
      .select([...CONVERSATION_COLUMNS, 'c.trashed_at', 'c.purge_at'])
      .where('c.workspace_id', '=', this.b.ws)
      .where('c.deleted_state', '=', 'trash');
    if (q.userId !== undefined) query = query.where('c.user_id', '=', q.userId);
    if (q.after !== undefined) query = query.where('c.id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('c.id', q.order).limit(q.limit).execute();
    return rows.map((r) => ({
      conversation: toConversation(r),
      trashedAt: num(r.trashed_at ?? 0),
      purgeAt: num(r.purge_at ?? 0),
    }));
  }
}

export class TrashWriter extends TrashReader implements TrashWrites {
  async setDays(days: number): Promise<void> {
    await this.b.db.updateTable('workspaces').set({ trash_days: days }).where('id', '=', this.b.ws).execute();
  }

  async claimDue(dueBy: number, limit: number): Promise<HiddenConversation[]> {
    let q = this.b.db
      .selectFrom('conversations as c')
      .select([...CONVERSATION_COLUMNS, 'c.deleted_state', 'c.purge_at'])
      .where('c.workspace_id', '=', this.b.ws)
      .where('c.deleted_state', 'is not', null)
      .where('c.purge_at', '<=', dueBy)
      .orderBy('c.purge_at')
      .orderBy('c.id')
      .limit(limit);
    // another instance purging at the same time takes other rows instead of waiting for these
    if (this.b.lockRows) q = q.forUpdate().skipLocked();
    const rows = await q.execute();
    return rows.map((r) => ({
      conversation: toConversation(r),
      state: r.deleted_state === 'trash' ? 'trash' : 'erasing',
      purgeAt: num(r.purge_at ?? 0),
    }));
  }
}
