import { QueryTemplate } from '../query-template.js';
import type { EventReads, EventWrites, NewStoredEvent, StoredEvent } from '../types.js';
import { type Bound, stmt } from './bound.js';
import { num } from './rows.js';

/** Takes the next event seq and returns it in one statement (the row lock / write lock orders seqs). */
const nextEventSeq = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .updateTable('conversations')
    .set((eb) => ({ event_seq: eb('event_seq', '+', 1) }))
    .where('workspace_id', '=', p.ws)
    .where('id', '=', p.id)
    .returning('event_seq'),
);

const insertEvent = new QueryTemplate(
  (db, p: { ws: string; conv: string; seq: number; type: string; payload: string; at: number }) =>
    db.insertInto('conversation_events').values({
      workspace_id: p.ws,
      conversation_id: p.conv,
      seq: p.seq,
      type: p.type,
      payload: p.payload,
      created_at: p.at,
    }),
);

export class EventsReader implements EventReads {
  constructor(protected readonly b: Bound) {}

  async lastSeq(conversationId: string): Promise<number | null> {
    const r = await this.b.db
      .selectFrom('conversations')
      .select('event_seq')
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', conversationId)
      .where('deleted_state', 'is', null)
      .executeTakeFirst();
    return r ? num(r.event_seq ?? 0) : null;
  }

  async list(
    conversationId: string,
    q: { afterSeq: number; upTo?: number | undefined; limit: number },
  ): Promise<StoredEvent[]> {
    let query = this.b.db
      .selectFrom('conversation_events')
      .select(['workspace_id', 'conversation_id', 'seq', 'type', 'payload', 'created_at'])
      .where('workspace_id', '=', this.b.ws)
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', q.afterSeq);
    if (q.upTo !== undefined) query = query.where('seq', '<=', q.upTo);
    const rows = await query.orderBy('seq').limit(q.limit).execute();
    return rows.map((r) => ({
      workspaceId: r.workspace_id,
      conversationId: r.conversation_id,
      seq: num(r.seq),
      type: r.type,
      payload: r.payload,
      createdAt: num(r.created_at),
    }));
  }
}

export class EventsWriter extends EventsReader implements EventWrites {
  async append(e: NewStoredEvent): Promise<number | null> {
    // The UPDATE takes the conversation's row lock (PostgreSQL) / the write lock (SQLite), so
    // seqs are handed out in commit order: seq n+1 cannot commit before seq n.
    const [bumped] = (await stmt(this.b, nextEventSeq, { ws: this.b.ws, id: e.conversationId })).rows;
    if (!bumped) return null;
    const seq = num(bumped.event_seq ?? 0);
    await stmt(this.b, insertEvent, {
      ws: this.b.ws,
      conv: e.conversationId,
      seq,
      type: e.type,
      payload: e.payload,
      at: e.createdAt,
    });
    return seq;
  }
}
