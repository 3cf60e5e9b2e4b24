/**
 * The rows a bulk load writes, and the one list of their columns. Every bulk writer (SQLite
 * prepared INSERTs, PostgreSQL COPY, the benchmark's bare peer) builds its statements from these
 * lists, so a column is added or renamed here and nowhere else. Optional fields default to what the API writes for a
 * conversation created without them.
 */
export interface BulkMessage {
  id: string;
  role: string;
  content: string;
  createdAt: number;
  /** JSON text; `{}` when absent. */
  metadata?: string;
  /** The content's search tokens, space-separated, when analyzed already (off the writer's thread). */
  tokens?: string;
}

export interface BulkToolInvocation {
  id: string;
  messageId: string | null;
  toolName: string;
  /** JSON text. */
  input: string;
  /** JSON text. */
  output: string;
  /** `succeeded` when absent. */
  status?: string;
  startedAt: number | null;
  finishedAt: number | null;
  /** `startedAt` when absent. */
  createdAt?: number;
  /** `finishedAt` when absent. */
  updatedAt?: number;
}

export interface BulkConversation {
  workspaceId: string;
  id: string;
  userId: string | null;
  botId: string | null;
  title: string | null;
  /** `auto` when absent. */
  titleSource?: string | null;
  contactId: string | null;
  dealId: string | null;
  matterId: string | null;
  /** JSON text; `{}` when absent. */
  contextExtra?: string;
  /** JSON text; `{}` when absent. */
  metadata?: string;
  archived: boolean;
  createdAt: number;
  updatedAt: number;
  lastMessageAt: number | null;
  messages: BulkMessage[];
  /** The title's search tokens, space-separated, when analyzed already. */
  titleTokens?: string;
  tools: BulkToolInvocation[];
}

export type Value = string | number | null;

/** A column: its name, its PostgreSQL type (COPY and unnest need it), and how a row yields it. */
export interface Column<R> {
  name: string;
  pg: 'text' | 'int' | 'bigint';
  of: (row: R) => Value;
}

/** A message with the conversation it belongs to (its key columns come from there). */
export interface MessageRow {
  c: BulkConversation;
  m: BulkMessage;
}

export interface ToolRow {
  c: BulkConversation;
  t: BulkToolInvocation;
}

export const CONVERSATION_COLUMNS: ReadonlyArray<Column<BulkConversation>> = [
  { name: 'workspace_id', pg: 'text', of: (c) => c.workspaceId },
  { name: 'id', pg: 'text', of: (c) => c.id },
  { name: 'user_id', pg: 'text', of: (c) => c.userId },
  { name: 'bot_id', pg: 'text', of: (c) => c.botId },
  { name: 'title', pg: 'text', of: (c) => c.title },
  { name: 'title_source', pg: 'text', of: (c) => (c.titleSource === undefined ? 'auto' : c.titleSource) },
  { name: 'contact_id', pg: 'text', of: (c) => c.contactId },
  { name: 'deal_id', pg: 'text', of: (c) => c.dealId },
  { name: 'matter_id', pg: 'text', of: (c) => c.matterId },
  { name: 'context_extra', pg: 'text', of: (c) => c.contextExtra ?? '{}' },
  { name: 'metadata', pg: 'text', of: (c) => c.metadata ?? '{}' },
  { name: 'archived', pg: 'int', of: (c) => (c.archived ? 1 : 0) },
  { name: 'message_count', pg: 'int', of: (c) => c.messages.length },
  { name: 'tool_invocation_count', pg: 'int', of: (c) => c.tools.length },
  { name: 'last_message_at', pg: 'bigint', of: (c) => c.lastMessageAt },
  { name: 'created_at', pg: 'bigint', of: (c) => c.createdAt },
  { name: 'updated_at', pg: 'bigint', of: (c) => c.updatedAt },
];

export const MESSAGE_COLUMNS: ReadonlyArray<Column<MessageRow>> = [
  { name: 'workspace_id', pg: 'text', of: (r) => r.c.workspaceId },
  { name: 'conversation_id', pg: 'text', of: (r) => r.c.id },
  { name: 'id', pg: 'text', of: (r) => r.m.id },
  { name: 'role', pg: 'text', of: (r) => r.m.role },
  { name: 'content', pg: 'text', of: (r) => r.m.content },
  { name: 'metadata', pg: 'text', of: (r) => r.m.metadata ?? '{}' },
  { name: 'created_at', pg: 'bigint', of: (r) => r.m.createdAt },
];

export const TOOL_COLUMNS: ReadonlyArray<Column<ToolRow>> = [
  { name: 'workspace_id', pg: 'text', of: (r) => r.c.workspaceId },
  { name: 'conversation_id', pg: 'text', of: (r) => r.c.id },
  { name: 'id', pg: 'text', of: (r) => r.t.id },
  { name: 'message_id', pg: 'text', of: (r) => r.t.messageId },
  { name: 'tool_name', pg: 'text', of: (r) => r.t.toolName },
  { name: 'input', pg: 'text', of: (r) => r.t.input },
  { name: 'output', pg: 'text', of: (r) => r.t.output },
  { name: 'status', pg: 'text', of: (r) => r.t.status ?? 'succeeded' },
  { name: 'started_at', pg: 'bigint', of: (r) => r.t.startedAt },
  { name: 'finished_at', pg: 'bigint', of: (r) => r.t.finishedAt },
  { name: 'created_at', pg: 'bigint', of: (r) => r.t.createdAt ?? r.t.startedAt ?? 0 },
  { name: 'updated_at', pg: 'bigint', of: (r) => r.t.updatedAt ?? r.t.finishedAt ?? r.t.startedAt ?? 0 },
];

/** The messages of a batch, each with its conversation. */
export function messageRows(batch: readonly BulkConversation[]): MessageRow[] {
  const out: MessageRow[] = [];
  for (const c of batch) for (const m of c.messages) out.push({ c, m });
  return out;
}

export function toolRows(batch: readonly BulkConversation[]): ToolRow[] {
  const out: ToolRow[] = [];
  for (const c of batch) for (const t of c.tools) out.push({ c, t });
  return out;
}
