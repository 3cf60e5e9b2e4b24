import type { Selectable } from 'kysely';
import type { ToolInvocation } from '../../domain/types.js';
import { TemplateFamily } from '../query-template.js';
import type { ToolInvocationsTable } from '../schema.js';
import type { PageQuery, ToolInvocationPatch, ToolInvocationReads, ToolInvocationWrites } from '../types.js';
import { type Bound, hot } from './bound.js';
import { type ManyParams, manyKeys, manyParams } from './many.js';
import { TOOL_COLUMNS, toTool } from './rows.js';

const toolsOfMany = new TemplateFamily<ManyParams, Selectable<ToolInvocationsTable>>();

export class ToolInvocationsReader implements ToolInvocationReads {
  constructor(protected readonly b: Bound) {}

  private ofConversation(conversationId: string) {
    return this.b.db
      .selectFrom('tool_invocations')
      .select(TOOL_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('conversation_id', '=', conversationId);
  }

  async get(conversationId: string, id: string): Promise<ToolInvocation | null> {
    const r = await this.ofConversation(conversationId).where('id', '=', id).executeTakeFirst();
    return r ? toTool(r) : null;
  }

  async find(id: string): Promise<ToolInvocation | null> {
    const r = await this.b.db
      .selectFrom('tool_invocations')
      .select(TOOL_COLUMNS)
      .where('workspace_id', '=', this.b.ws)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toTool(r) : null;
  }

  async list(conversationId: string, q: PageQuery): Promise<ToolInvocation[]> {
    let query = this.ofConversation(conversationId);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toTool);
  }

  async listMany(conversationIds: readonly string[], limit: number): Promise<ToolInvocation[]> {
    const { size, params } = manyParams(this.b.ws, conversationIds, limit);
    const template = toolsOfMany.get(
      String(size),
      () => (db, p) =>
        db
          .selectFrom('tool_invocations')
          .select(TOOL_COLUMNS)
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
    return rows.map(toTool);
  }
}

export class ToolInvocationsWriter extends ToolInvocationsReader implements ToolInvocationWrites {
  async insert(t: ToolInvocation): Promise<void> {
    await this.b.db
      .insertInto('tool_invocations')
      .values({
        workspace_id: this.b.ws,
        conversation_id: t.conversationId,
        id: t.id,
        message_id: t.messageId,
        tool_name: t.toolName,
        input: JSON.stringify(t.input),
        output: JSON.stringify(t.output),
        status: t.status,
        started_at: t.startedAt,
        finished_at: t.finishedAt,
        created_at: t.createdAt,
        updated_at: t.updatedAt,
      })
      .execute();
  }

  async update(conversationId: string, id: string, patch: ToolInvocationPatch): Promise<ToolInvocation | null> {
    const set: Partial<ToolInvocationsTable> = { updated_at: patch.updatedAt };
    if (patch.output !== undefined) set.output = JSON.stringify(patch.output);
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
    if (patch.messageId !== undefined) set.message_id = patch.messageId;
    const r = await this.b.db
      .updateTable('tool_invocations')
      .set(set)
      .where('workspace_id', '=', this.b.ws)
      .where('conversation_id', '=', conversationId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return null;
    return this.get(conversationId, id);
  }
}
