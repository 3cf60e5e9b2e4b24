import type { Selectable } from 'kysely';
import type { JsonObject, Message, Role } from '../../domain/types.js';
import { TemplateFamily } from '../query-template.js';
import type { MessagesTable } from '../schema.js';
import type { MessageReads, MessageWrites, PageQuery } from '../types.js';
import { type Bound, hot, stmt } from './bound.js';
import { type ManyParams, manyKeys, manyParams } from './many.js';
import { MESSAGE_COLUMNS, toMessage } from './rows.js';

type MessagePageParams = { ws: string; conv: string; limit: number; after?: string; offset?: number };
const messagePages = new TemplateFamily<MessagePageParams, Selectable<MessagesTable>>();
const messagesOfMany = new TemplateFamily<ManyParams, Selectable<MessagesTable>>();

type InsertParams = {
  ws: string;
  conv: string;
  id: string;
  role: string;
  content: string;
  metadata: string;
  at: number;
} & Record<string, unknown>;
/** Every append's INSERT, compiled once per engine (its search columns: SearchIndex.messageInsert). */
const messageInserts = new TemplateFamily<InsertParams, never>();

export class MessagesReader implements MessageReads {
  constructor(protected readonly b: Bound) {}

  async list(conversationId: string, q: PageQuery): Promise<Message[]> {
    const params: MessagePageParams = { ws: this.b.ws, conv: conversationId, limit: q.limit };
    if (q.after !== undefined) params.after = q.after;
    if (q.offset) params.offset = q.offset;
    const shape = `${q.order}|${q.after !== undefined}|${Boolean(q.offset)}`;
    const template = messagePages.get(shape, () => (db, p) => {
      let query = db
        .selectFrom('messages')
        .select(MESSAGE_COLUMNS)
        .where('workspace_id', '=', p.ws)
        .where('conversation_id', '=', p.conv);
      if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', p.after as string);
      const page = query.orderBy('id', q.order).limit(p.limit);
      return q.offset ? page.offset(p.offset as number) : page;
    });
    const rows = await hot(this.b, template, params);
    return rows.map(toMessage);
  }

  async listMany(conversationIds: readonly string[], limit: number): Promise<Message[]> {
    const { size, params } = manyParams(this.b.ws, conversationIds, limit);
    const template = messagesOfMany.get(
      String(size),
      () => (db, p) =>
        db
          .selectFrom('messages')
          .select(MESSAGE_COLUMNS)
          .where('workspace_id', '=', p.ws)
          .where(
            'conversation_id',
            'in',
            manyKeys(size).map((k) => p[k] as string),
          )
          .orderBy('conversation_id')
          .orderBy('id')
          .limit(p.limit),
    );
    const rows = await hot(this.b, template, params);
    return rows.map(toMessage);
  }

  private ofConversation(conversationId: string) {
    return this.b.db
      .selectFrom('messages')
      .select(MESSAGE_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('conversation_id', '=', conversationId);
  }

  async get(conversationId: string, id: string): Promise<Message | null> {
    const r = await this.ofConversation(conversationId).where('id', '=', id).executeTakeFirst();
    return r ? toMessage(r) : null;
  }

  async firstOfRole(conversationId: string, role: Role): Promise<Message | null> {
    const r = await this.ofConversation(conversationId)
      .where('role', '=', role)
      .orderBy('id', 'asc')
      .limit(1)
      .executeTakeFirst();
    return r === undefined ? null : toMessage(r);
  }

  async find(id: string): Promise<Message | null> {
    const r = await this.b.db
      .selectFrom('messages')
      .select(MESSAGE_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toMessage(r) : null;
  }

  async exists(conversationId: string, id: string): Promise<boolean> {
    const r = await this.b.db
      .selectFrom('messages')
      .select('id')
      .where('workspace_id', '=', this.b.ws)
      .where('conversation_id', '=', conversationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r !== undefined;
  }
}

export class MessagesWriter extends MessagesReader implements MessageWrites {
  async insert(m: Message): Promise<void> {
    const { db, search, ws } = this.b;
    const columns = search.messageInsert;
    const template = messageInserts.get(
      columns.shape,
      () => (db, p) =>
        db.insertInto('messages').values({
          workspace_id: p.ws,
          conversation_id: p.conv,
          id: p.id,
          role: p.role,
          content: p.content,
          metadata: p.metadata,
          created_at: p.at,
          ...(columns.values(p) as object),
        }),
    );
    const inserted = await stmt(this.b, template, {
      ws,
      conv: m.conversationId,
      id: m.id,
      role: m.role,
      content: m.content,
      metadata: JSON.stringify(m.metadata),
      at: m.createdAt,
      ...columns.params(m.content),
    });
    await search.indexMessage(db, ws, {
      rowid: inserted.insertId,
      conversationId: m.conversationId,
      content: m.content,
    });
  }

  async update(
    conversationId: string,
    id: string,
    patch: { content: string; metadata: JsonObject },
  ): Promise<Message | null> {
    const { db, search, ws } = this.b;
    if (!(await this.exists(conversationId, id))) return null;
    await db
      .updateTable('messages')
      .set({
        content: patch.content,
        metadata: JSON.stringify(patch.metadata),
        ...(search.messageValues(patch.content) as object),
      })
      .where('workspace_id', '=', ws)
      .where('id', '=', id)
      .execute();
    await search.reindexMessage(db, ws, id, patch.content);
    return this.find(id);
  }

  async delete(
    conversationId: string,
    id: string,
    updatedAt: number,
  ): Promise<{ search_entries: number; tool_invocations_detached: number } | null> {
    const { db, search, ws } = this.b;
    if (!(await this.exists(conversationId, id))) return null;
    // the external-content index needs the row it indexed, so the entry goes first
    const searchEntries = await search.removeMessage(db, ws, id);
    // tool invocations outlive the message that asked for them: they belong to the conversation
    const detached = await db
      .updateTable('tool_invocations')
      .set({ message_id: null })
      .where('workspace_id', '=', ws)
      .where('message_id', '=', id)
      .executeTakeFirst();
    await db.deleteFrom('messages').where('workspace_id', '=', ws).where('id', '=', id).execute();
    await db
      .updateTable('conversations')
      .set((eb) => ({
        message_count: eb('message_count', '-', 1),
        updated_at: updatedAt,
        last_message_at: eb
          .selectFrom('messages')
          .select((m) => m.fn.max('created_at').as('m'))
          .where('workspace_id', '=', ws)
          .where('conversation_id', '=', conversationId),
      }))
      .where('workspace_id', '=', ws)
      .where('id', '=', conversationId)
      .execute();
    return { search_entries: searchEntries, tool_invocations_detached: Number(detached.numUpdatedRows) };
  }
}
