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
  DeleteCounts,
  SearchRow,
  TotalAnswer,
} from '../types.js';
import { type Bound, hot, sameWorkspace } from './bound.js';
import { listConversations, searchConversations, totalConversations } from './conversation-lists.js';
import { ERASED_ANSWER_STATUS } from './idempotency.js';
import { CONVERSATION_COLUMNS, contextColumns, toConversation } from './rows.js';

const byId = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id),
);

const byIdForUpdate = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id)
    .forUpdate(),
);

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

  list(q: ConversationListQuery): Promise<Conversation[]> {
    return listConversations(this.b, q);
  }

  total(f: ConversationFilter, cap: number): Promise<TotalAnswer> {
    return totalConversations(this.b, f, cap);
  }

  search(q: ConversationListQuery): Promise<SearchRow[]> {
    return searchConversations(this.b, q);
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
    const set: Partial<Omit<ConversationsTable, 'event_seq'>> = { updated_at: patch.updatedAt };
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

  async delete(id: string): Promise<DeleteCounts | null> {
    const { db, search, ws } = this.b;
    const before = await this.get(id);
    if (!before) return null;
    // derived rows first: the external-content index needs the rows it indexed
    const searchEntries = await search.removeConversation(db, ws, id);
    const tools = await db
      .deleteFrom('tool_invocations')
      .where('workspace_id', '=', ws)
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    const messages = await db
      .deleteFrom('messages')
      .where('workspace_id', '=', ws)
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    await db
      .deleteFrom('conversation_events')
      .where('workspace_id', '=', ws)
      .where('conversation_id', '=', id)
      .execute();
    await db.deleteFrom('conversations').where('workspace_id', '=', ws).where('id', '=', id).execute();
    // stored answers of writes to it carry its content: kept as content-free tombstones, so a retry
    // with the same key is told the conversation is gone instead of running again (services/idempotency.ts)
    await db
      .updateTable('idempotency_records')
      .set({ response_body: null, status_code: ERASED_ANSWER_STATUS, conversation_id: null })
      .where('workspace_id', '=', ws)
      .where('conversation_id', '=', id)
      .execute();
    await this.bumpCounters(counterNames(before, false), -1);
    if (before.archived) await this.bumpCounters(counterNames(before, true), -1);
    return {
      messages: Number(messages.numDeletedRows),
      tool_invocations: Number(tools.numDeletedRows),
      search_entries: searchEntries,
    };
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
    if (change.lastMessageAt !== undefined)
      await touchWithLast.execute(this.b.db, { ...p, last: change.lastMessageAt });
    else await touchOnly.execute(this.b.db, p);
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
