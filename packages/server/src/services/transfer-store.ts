import type BetterSqlite3 from 'better-sqlite3';
import type { AuditEvent, Conversation, Message, ToolInvocation } from '../domain/types.js';
import { PgExportLines } from '../store/postgres/export-lines.js';
import type { PostgresStore } from '../store/postgres/index.js';
import { SqliteExportLines } from '../store/sqlite/export-lines.js';
import type { ConversationFilter, KeysetPosition, Store } from '../store/types.js';

/**
 * Everything export and import ask of storage, bound to one workspace: a narrow port, so that the
 * store's own shape can change under it with this file as the one place to adapt. Reads are each
 * one short statement; writes happen only inside `transact`, one bounded batch at a time.
 */
export interface TransferReader {
  conversation(id: string): Promise<Conversation | null>;
  /** Conversations by (created_at, id) ascending, strictly after `after`: created_at never changes, so each is met once. */
  conversationsAfter(
    filter: ConversationFilter,
    after: KeysetPosition | undefined,
    limit: number,
  ): Promise<Conversation[]>;
  /** A conversation's messages by id (time-ordered ULIDs) ascending, strictly after `afterId`. */
  messagesAfter(conversationId: string, afterId: string | undefined, limit: number): Promise<Message[]>;
  toolInvocationsAfter(conversationId: string, afterId: string | undefined, limit: number): Promise<ToolInvocation[]>;
  /** The messages of several conversations (at most MANY_CONVERSATIONS), by conversation id then id, at most `limit`. */
  messagesOf(conversationIds: readonly string[], limit: number): Promise<Message[]>;
  toolInvocationsOf(conversationIds: readonly string[], limit: number): Promise<ToolInvocation[]>;
  /** The same reads of messages and tool invocations as their JSONL lines, written by the database (an export's). */
  lines?: ExportLines;
  /** How much an export reads at once with this reader: rows per read, conversations per page (EXPORT_PAGES). */
  pages: ExportPages;
}

export interface ExportPages {
  rows: number;
  conversations: number;
}

/**
 * An export's read sizes per engine. SQLite's reads are function calls into this thread; on
 * PostgreSQL each read is a statement and a round trip whatever its size, so it reads more at
 * once: 1,000 rows and 500 conversations rather than 200 and 100 took the 1 M export's CPU per
 * message from 10-11 to 6-7 us there; on SQLite they made the first export's RSS growth 45 -> 62 MB
 * for a few percent (bench/RESULTS.md).
 */
export const EXPORT_PAGES: Record<Store['engine'], ExportPages> = {
  sqlite: { rows: 200, conversations: 100 },
  postgres: { rows: 1000, conversations: 500 },
};

/** One conversation's JSONL lines of one table (messages or tool invocations) as UTF-8 bytes in an ArrayBuffer of their own, each line ending in \n, in id order. */
export interface LineRun {
  conversationId: string;
  rows: number;
  bytes: Uint8Array;
}

/** A keyset page of one conversation's JSONL lines of one table: how many rows, the last one's id, and the lines as UTF-8 bytes. */
export interface LinePage {
  rows: number;
  lastId: string | undefined;
  bytes: Uint8Array;
}

/** An answer now (SQLite, synchronous) or later (PostgreSQL). */
type Maybe<T> = T | Promise<T>;

/**
 * The reads of messagesOf / messagesAfter (and the tool invocations') as the JSONL lines the
 * export writes, built by the database (store/sqlite/export-lines.ts, store/postgres/export-lines.ts),
 * not as domain objects. Each answers undefined when it cannot read so now (SQLite's connection
 * is inside a transaction, or a row has a time the database's line cannot write): read the
 * objects instead.
 */
export interface ExportLines {
  messagesOf(conversationIds: readonly string[], limit: number): Maybe<LineRun[] | undefined>;
  toolsOf(conversationIds: readonly string[], limit: number): Maybe<LineRun[] | undefined>;
  messagesAfter(conversationId: string, afterId: string | undefined, limit: number): Maybe<LinePage | undefined>;
  toolsAfter(conversationId: string, afterId: string | undefined, limit: number): Maybe<LinePage | undefined>;
}

export interface TransferWriter {
  conversation(id: string): Promise<Conversation | null>;
  /** The conversation out of view here (in the trash, or being erased) that holds this id: it cannot be taken. */
  hiddenConversation(id: string): Promise<{ hidden: true; userId: string | null } | null>;
  /** The conversation a message id belongs to in this workspace, or null when the id is free. */
  messageOwner(id: string): Promise<string | null>;
  toolInvocationOwner(id: string): Promise<string | null>;
  insertConversation(c: Conversation): Promise<void>;
  insertMessage(m: Message): Promise<void>;
  insertToolInvocation(t: ToolInvocation): Promise<void>;
  /** Adds to a conversation's counters and sets its times, after messages or tool invocations went in. */
  touch(
    conversationId: string,
    change: { messages: number; toolInvocations: number; lastMessageAt: number | null; updatedAt: number },
  ): Promise<void>;
}

export interface TransferStore {
  reader(workspaceId: string): TransferReader;
  transact<T>(workspaceId: string, fn: (w: TransferWriter) => Promise<T>): Promise<T>;
  audit(e: AuditEvent): Promise<void>;
}

export function transferStore(store: Store): TransferStore {
  // SQLite (the server's store and an export worker's read-only one both hold their connection as `raw`)
  const raw = store.engine === 'sqlite' ? (store as unknown as { raw?: BetterSqlite3.Database }).raw : undefined;
  const sqliteLines = raw !== undefined ? new SqliteExportLines(raw) : null;
  const pgLines = store.engine === 'postgres' ? new PgExportLines((store as PostgresStore).pool) : null;
  return {
    reader: (ws) => ({
      pages: EXPORT_PAGES[store.engine],
      ...(pgLines !== null
        ? {
            lines: {
              messagesOf: (ids, limit) => pgLines.linesOf('messages', ws, ids, limit),
              toolsOf: (ids, limit) => pgLines.linesOf('tool_invocations', ws, ids, limit),
              messagesAfter: (conversationId, afterId, limit) =>
                pgLines.linesAfter('messages', ws, conversationId, afterId, limit),
              toolsAfter: (conversationId, afterId, limit) =>
                pgLines.linesAfter('tool_invocations', ws, conversationId, afterId, limit),
            },
          }
        : {}),
      ...(sqliteLines !== null
        ? {
            lines: {
              messagesOf: (ids, limit) =>
                sqliteLines.usable ? sqliteLines.linesOf('messages', ws, ids, limit) : undefined,
              toolsOf: (ids, limit) =>
                sqliteLines.usable ? sqliteLines.linesOf('tool_invocations', ws, ids, limit) : undefined,
              messagesAfter: (conversationId, afterId, limit) =>
                sqliteLines.usable ? sqliteLines.linesAfter('messages', ws, conversationId, afterId, limit) : undefined,
              toolsAfter: (conversationId, afterId, limit) =>
                sqliteLines.usable
                  ? sqliteLines.linesAfter('tool_invocations', ws, conversationId, afterId, limit)
                  : undefined,
            },
          }
        : {}),
      conversation: (id) => store.read(ws, (r) => r.conversations.get(id)),
      conversationsAfter: (filter, after, limit) =>
        store.read(ws, (r) => r.conversations.list({ ...filter, orderBy: 'created_at', order: 'asc', after, limit })),
      messagesAfter: (conversationId, afterId, limit) =>
        store.read(ws, (r) => r.messages.list(conversationId, { after: afterId, order: 'asc', limit })),
      toolInvocationsAfter: (conversationId, afterId, limit) =>
        store.read(ws, (r) => r.toolInvocations.list(conversationId, { after: afterId, order: 'asc', limit })),
      messagesOf: (ids, limit) => store.read(ws, (r) => r.messages.listMany(ids, limit)),
      toolInvocationsOf: (ids, limit) => store.read(ws, (r) => r.toolInvocations.listMany(ids, limit)),
    }),
    transact: (ws, fn) =>
      store.transact(ws, (w) =>
        fn({
          conversation: (id) => w.conversations.get(id),
          hiddenConversation: async (id) => {
            const h = await w.conversations.hiddenState(id);
            return h && { hidden: true, userId: h.userId };
          },
          messageOwner: async (id) => (await w.messages.find(id))?.conversationId ?? null,
          toolInvocationOwner: async (id) => (await w.toolInvocations.find(id))?.conversationId ?? null,
          insertConversation: (c) => w.conversations.insert({ ...c, workspaceId: ws }),
          insertMessage: (m) => w.messages.insert(m),
          insertToolInvocation: (t) => w.toolInvocations.insert(t),
          touch: (conversationId, change) =>
            w.conversations.touch(conversationId, {
              messages: change.messages,
              toolInvocations: change.toolInvocations,
              ...(change.lastMessageAt !== null ? { lastMessageAt: change.lastMessageAt } : {}),
              updatedAt: change.updatedAt,
            }),
        }),
      ),
    audit: (e) => store.transact(e.workspaceId, (w) => w.audit.insert(e)),
  };
}
