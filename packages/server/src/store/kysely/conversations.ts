import { sql } from 'kysely';
import type { Conversation } from '../../domain/types.js';
import { counterNames } from '../counters.js';
import { QueryTemplate } from '../query-template.js';
import type { ConversationsTable } from '../schema.js';
import type {
  ConversationFilter,
  ConversationListQuery,
  ConversationPatch,
  ConversationReads,
  ConversationWrites,
  ErasedMany,
  ErasedRows,
  SearchRow,
  TotalAnswer,
} from '../types.js';
import { type Bound, hot, sameWorkspace, stmt } from './bound.js';
import { listConversations, searchConversations, searchPage, totalConversations } from './conversation-lists.js';
import { ERASED_ANSWER_STATUS } from './idempotency.js';
import { CONVERSATION_COLUMNS, contextColumns, num, toConversation } from './rows.js';

/** How many ids one IN list carries. */
const IN_CHUNK = 500;

const byId = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id)
    .where('c.deleted_state', 'is', null),
);

const byIdForUpdate = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id)
    .where('c.deleted_state', 'is', null)
    .forUpdate(),
);

/** Conversations in view or not (the erase path); locked on PostgreSQL, in id order (no deadlock between two erasers). */
const anyStateByIds = (b: Bound, ids: readonly string[]) => {
  const q = b.db
    .selectFrom('conversations as c')
    .select([...CONVERSATION_COLUMNS, 'c.deleted_state'])
    .where('c.workspace_id', '=', b.ws)
    .where('c.id', 'in', ids)
    .orderBy('c.id');
  return (b.lockRows ? q.forUpdate() : q).execute();
};

// the append path's writes, compiled once (see query-template.ts)

const touchWithLast = new QueryTemplate(
  (db, p: { ws: string; id: string; messages: number; tools: number; updatedAt: number; last: number }) =>
    db
      .updateTable('conversations')
      .set((eb) => ({
        message_count: eb('message_count', '+', p.messages),
        tool_invocation_count: eb('tool_invocation_count', '+', p.tools),
        updated_at: p.updatedAt,
        last_message_at: p.last,
      }))
      .where('workspace_id', '=', p.ws)
      .where('id', '=', p.id),
);

const touchOnly = new QueryTemplate(
  (db, p: { ws: string; id: string; messages: number; tools: number; updatedAt: number }) =>
    db
      .updateTable('conversations')
      .set((eb) => ({
        message_count: eb('message_count', '+', p.messages),
        tool_invocation_count: eb('tool_invocation_count', '+', p.tools),
        updated_at: p.updatedAt,
      }))
      .where('workspace_id', '=', p.ws)
      .where('id', '=', p.id),
);

export class ConversationsReader implements ConversationReads {
  constructor(protected readonly b: Bound) {}

  async get(id: string): Promise<Conversation | null> {
    // writers of one conversation queue on its row, as they queue on the file lock on SQLite,
    // so counters and the auto title stay exact under concurrency
    const [r] = await hot(this.b, this.b.lockRows ? byIdForUpdate : byId, { ws: this.b.ws, id });
    return r ? toConversation(r) : null;
  }

  async hiddenState(id: string): Promise<{ state: 'trash' | 'erasing'; userId: string | null } | null> {
    const r = await this.b.db
      .selectFrom('conversations')
      .select(['deleted_state', 'user_id'])
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('deleted_state', 'is not', null)
      .executeTakeFirst();
    if (!r) return null;
    return { state: r.deleted_state === 'trash' ? 'trash' : 'erasing', userId: r.user_id };
  }

  list(q: ConversationListQuery): Promise<Conversation[]> {
    return listConversations(this.b, q);
  }

  total(f: ConversationFilter, cap: number): Promise<TotalAnswer> {
    return totalConversations(this.b, f, cap);
  }

  search(q: ConversationListQuery): Promise<SearchRow[]> {
    return searchConversations(this.b, q);
  }

  searchPage(q: ConversationListQuery, cap: number): Promise<{ rows: SearchRow[]; total: TotalAnswer }> {
    return searchPage(this.b, q, cap);
  }

  async getMany(ids: readonly string[]): Promise<Array<{ conversation: Conversation; eventSeq: number }>> {
    const out: Array<{ conversation: Conversation; eventSeq: number }> = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      let q = this.b.db
        .selectFrom('conversations as c')
        .select([...CONVERSATION_COLUMNS, 'c.event_seq'])
        .where('c.workspace_id', '=', this.b.ws)
        .where('c.id', 'in', ids.slice(i, i + IN_CHUNK))
        .where('c.deleted_state', 'is', null);
      if (this.b.lockRows) q = q.forUpdate();
      for (const r of await q.execute()) out.push({ conversation: toConversation(r), eventSeq: num(r.event_seq ?? 0) });
    }
    return out;
  }
}

export class ConversationsWriter extends ConversationsReader implements ConversationWrites {
  async insert(c: Conversation): Promise<void> {
    sameWorkspace(this.b, c.workspaceId, 'conversation');
    const { db, search, ws } = this.b;
    await db
      .insertInto('conversations')
      .values({
        workspace_id: ws,
        id: c.id,
        user_id: c.userId,
        bot_id: c.botId,
        title: c.title,
        title_source: c.titleSource,
        ...contextColumns(c.context),
        metadata: JSON.stringify(c.metadata),
        archived: c.archived ? 1 : 0,
        message_count: c.messageCount,
        tool_invocation_count: c.toolInvocationCount,
        last_message_at: c.lastMessageAt,
        created_at: c.createdAt,
        updated_at: c.updatedAt,
        ...(search.titleValues(c.title) as object),
      })
      .execute();
    await this.bumpCounters(counterNames(c, false), 1);
    if (c.archived) await this.bumpCounters(counterNames(c, true), 1);
    if (c.title !== null) await search.indexTitle(db, ws, c.id, c.title);
  }

  async update(id: string, patch: ConversationPatch): Promise<Conversation | null> {
    const { db, search, ws } = this.b;
    const before = await this.get(id);
    if (!before) return null;
    const set: Partial<Omit<ConversationsTable, 'event_seq' | 'deleted_state' | 'trashed_at' | 'purge_at'>> = {
      updated_at: patch.updatedAt,
    };
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.titleSource !== undefined) set.title_source = patch.titleSource;
    if (patch.archived !== undefined) set.archived = patch.archived ? 1 : 0;
    if (patch.context !== undefined) Object.assign(set, contextColumns(patch.context));
    if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
    const retitled = patch.title !== undefined && patch.title !== before.title;
    if (retitled) Object.assign(set, search.titleValues(patch.title ?? null));
    await db.updateTable('conversations').set(set).where('workspace_id', '=', ws).where('id', '=', id).execute();
    if (patch.archived !== undefined && patch.archived !== before.archived) {
      await this.bumpCounters(counterNames(before, true), patch.archived ? 1 : -1);
    }
    if (retitled) await search.indexTitle(db, ws, id, patch.title ?? null);
    return this.get(id);
  }

  async delete(id: string): Promise<ErasedRows | null> {
    // PostgreSQL erases one conversation in one statement (store/postgres/erase.ts: the same rows,
    // tombstones and counters as deleteMany, without eight round trips)
    const erase = this.b.statements?.eraseConversation;
    if (erase) return erase(this.b.db, this.b.ws, id);
    // elsewhere the one erase path: a single delete is a set of one
    const { conversations, rows } = await this.deleteMany([id]);
    return conversations.length === 0 ? null : rows;
  }

  async deleteMany(ids: readonly string[]): Promise<ErasedMany> {
    // PostgreSQL erases the whole set in one statement (store/postgres/erase.ts)
    const eraseMany = this.b.statements?.eraseConversations;
    if (eraseMany) return eraseMany(this.b.db, this.b.ws, ids);
    const { db, search, ws } = this.b;
    const rows: ErasedRows = { messages: 0, tool_invocations: 0, search_entries: 0, events: 0, stored_answers: 0 };
    const erased: Conversation[] = [];
    const inView: Conversation[] = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const found = await anyStateByIds(this.b, ids.slice(i, i + IN_CHUNK));
      if (found.length === 0) continue;
      const chunk = found.map((r) => r.id);
      // derived rows first: the full-text entries are found through the rows they index
      rows.search_entries += await search.removeConversations(db, ws, chunk);
      const tools = await db
        .deleteFrom('tool_invocations')
        .where('workspace_id', '=', ws)
        .where('conversation_id', 'in', chunk)
        .executeTakeFirst();
      const messages = await db
        .deleteFrom('messages')
        .where('workspace_id', '=', ws)
        .where('conversation_id', 'in', chunk)
        .executeTakeFirst();
      const events = await db
        .deleteFrom('conversation_events')
        .where('workspace_id', '=', ws)
        .where('conversation_id', 'in', chunk)
        .executeTakeFirst();
      await db.deleteFrom('conversations').where('workspace_id', '=', ws).where('id', 'in', chunk).execute();
      // stored answers of writes to them carry their content: kept as content-free tombstones, so a
      // retry with the same key is told the conversation is gone instead of running again
      // (services/idempotency.ts)
      const answers = await db
        .updateTable('idempotency_records')
        .set({ response_body: null, status_code: ERASED_ANSWER_STATUS, conversation_id: null })
        .where('workspace_id', '=', ws)
        .where('conversation_id', 'in', chunk)
        .executeTakeFirst();
      rows.tool_invocations += Number(tools.numDeletedRows);
      rows.messages += Number(messages.numDeletedRows);
      rows.events += Number(events.numDeletedRows);
      rows.stored_answers += Number(answers.numUpdatedRows);
      for (const r of found) {
        const c = toConversation(r);
        erased.push(c);
        // a conversation out of view left the counters when it left view
        if (r.deleted_state === null) inView.push(c);
      }
    }
    await this.countOut(inView, -1);
    return { conversations: erased, rows };
  }

  async touch(
    id: string,
    change: { messages?: number; toolInvocations?: number; lastMessageAt?: number; updatedAt: number },
  ): Promise<void> {
    const p = {
      ws: this.b.ws,
      id,
      messages: change.messages ?? 0,
      tools: change.toolInvocations ?? 0,
      updatedAt: change.updatedAt,
    };
    if (change.lastMessageAt !== undefined) await stmt(this.b, touchWithLast, { ...p, last: change.lastMessageAt });
    else await stmt(this.b, touchOnly, p);
  }

  async hide(ids: readonly string[], state: 'trash' | 'erasing', at: number, purgeAt: number): Promise<Conversation[]> {
    const taken: Conversation[] = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      let q = this.b.db
        .selectFrom('conversations as c')
        .select(CONVERSATION_COLUMNS)
        .where('c.workspace_id', '=', this.b.ws)
        .where('c.id', 'in', chunk)
        .where('c.deleted_state', 'is', null);
      if (this.b.lockRows) q = q.forUpdate();
      const rows = await q.execute();
      if (rows.length === 0) continue;
      await this.b.db
        .updateTable('conversations')
        .set({ deleted_state: state, trashed_at: at, purge_at: purgeAt })
        .where('workspace_id', '=', this.b.ws)
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      taken.push(...rows.map(toConversation));
    }
    await this.countOut(taken, -1);
    return taken;
  }

  async restore(id: string): Promise<Conversation | null> {
    const r = await this.b.db
      .updateTable('conversations')
      .set({ deleted_state: null, trashed_at: null, purge_at: null })
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .where('deleted_state', '=', 'trash')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return null;
    const c = await this.get(id);
    if (c) await this.countOut([c], 1);
    return c;
  }

  /** Moves the counters behind totals by `delta` for each conversation, summed per counter. */
  private async countOut(cs: readonly Conversation[], delta: number): Promise<void> {
    const sums = new Map<string, number>();
    for (const c of cs) {
      const names = [...counterNames(c, false), ...(c.archived ? counterNames(c, true) : [])];
      for (const n of names) sums.set(n, (sums.get(n) ?? 0) + delta);
    }
    if (sums.size === 0) return;
    await this.b.db
      .insertInto('counters')
      .values([...sums].map(([name, value]) => ({ workspace_id: this.b.ws, name, value })))
      .onConflict((oc) =>
        oc.columns(['workspace_id', 'name']).doUpdateSet({ value: sql<number>`counters.value + excluded.value` }),
      )
      .execute();
  }

  /** The counters behind O(1) totals move in the write's own transaction. */
  private async bumpCounters(names: string[], delta: number): Promise<void> {
    if (names.length === 0) return;
    await this.b.db
      .insertInto('counters')
      .values(names.map((name) => ({ workspace_id: this.b.ws, name, value: delta })))
      .onConflict((oc) =>
        oc.columns(['workspace_id', 'name']).doUpdateSet({ value: sql<number>`counters.value + excluded.value` }),
      )
      .execute();
  }
}
