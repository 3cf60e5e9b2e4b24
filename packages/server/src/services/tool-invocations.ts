import type { AuthContext, Json, ToolInvocation, ToolStatus } from '../domain/types.js';
import { notFound, ParleyError, validation } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { WorkspaceReader } from '../store/types.js';
import { type InTransaction, requireScope, type ServiceDeps } from './context.js';
import type { CursorCodec } from './cursor.js';
import { loadConversation } from './lookup.js';
import { conversationPage, type IdPageRequest, type Page } from './pages.js';
import type { UnitOfWork } from './unit-of-work.js';

export interface NewToolInvocationInput {
  toolName: string;
  input?: Json | undefined;
  output?: Json | undefined;
  status?: ToolStatus | undefined;
  messageId?: string | undefined;
  startedAt?: number | undefined;
  finishedAt?: number | undefined;
}

export interface UpdateToolInvocationInput {
  output?: Json | undefined;
  status?: ToolStatus | undefined;
  messageId?: string | null | undefined;
  startedAt?: number | null | undefined;
  finishedAt?: number | null | undefined;
}

const TERMINAL: ReadonlySet<ToolStatus> = new Set(['succeeded', 'failed', 'cancelled']);

function checkTimings(startedAt: number | null, finishedAt: number | null): void {
  if (startedAt !== null && finishedAt !== null && finishedAt < startedAt) {
    throw new ParleyError('validation_failed', 'finished_at is before started_at', {
      details: [{ field: '/body/finished_at', message: 'must not be before started_at' }],
    });
  }
}

/** A message id the body names must be a message of this conversation. */
async function checkMessage(r: WorkspaceReader, conversationId: string, raw: string): Promise<string> {
  const id = parseId('message', raw);
  if (id === null || !(await r.messages.exists(conversationId, id))) {
    throw validation('/body/message_id', 'message_id does not name a message of this conversation');
  }
  return id;
}

/** The tool steps of a conversation: recorded, updated as they run, read and paged. */
export class ToolInvocationsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly uow: UnitOfWork,
    private readonly cursors: CursorCodec,
  ) {}

  async create(
    auth: AuthContext,
    rawConversationId: string,
    input: NewToolInvocationInput,
    inTx?: InTransaction<ToolInvocation>,
  ): Promise<ToolInvocation> {
    requireScope(auth, 'write:ai');
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit }) => {
        const conversation = await loadConversation(w, auth, rawConversationId);
        const now = this.deps.clock.now();
        const status = input.status ?? 'pending';
        const messageId =
          input.messageId !== undefined ? await checkMessage(w, conversation.id, input.messageId) : null;
        const tool: ToolInvocation = {
          id: newId('toolInvocation', now),
          conversationId: conversation.id,
          messageId,
          toolName: input.toolName,
          input: input.input ?? null,
          output: input.output ?? null,
          status,
          startedAt: input.startedAt ?? (status === 'pending' ? null : now),
          finishedAt: input.finishedAt ?? (TERMINAL.has(status) ? now : null),
          createdAt: now,
          updatedAt: now,
        };
        checkTimings(tool.startedAt, tool.finishedAt);
        await w.toolInvocations.insert(tool);
        await w.conversations.touch(conversation.id, { toolInvocations: 1, updatedAt: now });
        await emit(conversation.id, { type: 'tool_invocation.created', data: tool }, now);
        return tool;
      },
      inTx,
    );
  }

  async get(auth: AuthContext, rawConversationId: string, rawId: string): Promise<ToolInvocation> {
    requireScope(auth, 'read:ai');
    return this.deps.store.read(auth.workspaceId, async (r) => {
      const conversation = await loadConversation(r, auth, rawConversationId);
      const id = parseId('toolInvocation', rawId);
      const tool = id ? await r.toolInvocations.get(conversation.id, id) : null;
      if (!tool) throw notFound('Tool invocation');
      return tool;
    });
  }

  async update(
    auth: AuthContext,
    rawConversationId: string,
    rawId: string,
    input: UpdateToolInvocationInput,
    inTx?: InTransaction<ToolInvocation>,
  ): Promise<ToolInvocation> {
    requireScope(auth, 'write:ai');
    if (Object.values(input).every((v) => v === undefined)) {
      throw validation('/body', 'Provide at least one of output, status, message_id, started_at, finished_at');
    }
    return this.uow.write(
      auth.workspaceId,
      async ({ w, emit }) => {
        const conversation = await loadConversation(w, auth, rawConversationId);
        const id = parseId('toolInvocation', rawId);
        const current = id ? await w.toolInvocations.get(conversation.id, id) : null;
        if (!current) throw notFound('Tool invocation');
        const now = this.deps.clock.now();
        const status = input.status ?? current.status;
        const startedAt =
          input.startedAt !== undefined ? input.startedAt : (current.startedAt ?? (status === 'pending' ? null : now));
        const finishedAt =
          input.finishedAt !== undefined
            ? input.finishedAt
            : (current.finishedAt ?? (TERMINAL.has(status) ? now : null));
        checkTimings(startedAt, finishedAt);
        const messageId =
          typeof input.messageId === 'string'
            ? await checkMessage(w, conversation.id, input.messageId)
            : input.messageId;
        const updated = await w.toolInvocations.update(conversation.id, current.id, {
          output: input.output,
          status: input.status,
          startedAt,
          finishedAt,
          messageId,
          updatedAt: now,
        });
        if (!updated) throw notFound('Tool invocation');
        await w.conversations.touch(conversation.id, { updatedAt: now });
        await emit(conversation.id, { type: 'tool_invocation.updated', data: updated }, now);
        return updated;
      },
      inTx,
    );
  }

  async list(auth: AuthContext, rawConversationId: string, q: IdPageRequest): Promise<Page<ToolInvocation>> {
    requireScope(auth, 'read:ai');
    return conversationPage(this.deps.store, this.cursors, auth, rawConversationId, 'tools', q, (r, id, p) =>
      r.toolInvocations.list(id, p),
    );
  }
}
