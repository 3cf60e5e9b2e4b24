import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { AuthContext, Conversation, Message, ToolInvocation } from '../domain/types.js';
import { notFound } from '../errors.js';
import { newId, parseId } from '../ids.js';
import { type ConversationFilter, type KeysetPosition, MANY_CONVERSATIONS } from '../store/types.js';
import { actingUser, actorKeyId, canReach, requireScope } from './context.js';
import type { ListConversationsInput } from './conversations.js';
import type { ExportLines, LineRun, TransferReader, TransferStore } from './transfer-store.js';

/**
 * Rows read per statement, and so what an export holds at once: a page of conversations, then
 * either a batch of small conversations whose counted messages and tool invocations fit in a read
 * (one read per table for the whole batch, at most MANY_CONVERSATIONS conversations), or one big
 * conversation's keyset pages of that many rows. Memory never grows with the export's size. The
 * sizes are the reader's (`TransferReader.pages`, transfer-store.ts: larger on PostgreSQL, where
 * each read is a round trip).
 */

export interface ExportCounts {
  conversations: number;
  messages: number;
  tool_invocations: number;
}

/**
 * What an export yields, in order; a format writer turns each record into text. Messages and tool
 * invocations come in runs (consecutive records of one kind), and the items in batches: one step of
 * the stream per read, not per record (a step of an async generator costs more than a record's text).
 */
export type ExportItem =
  | { kind: 'conversation'; conversation: Conversation }
  | { kind: 'messages'; messages: readonly Message[] }
  | { kind: 'tools'; tools: readonly ToolInvocation[] }
  /** JSONL lines of messages or tool invocations written by the database (ExportLines), as UTF-8 bytes. */
  | { kind: 'lines'; bytes: Uint8Array }
  | { kind: 'conversation_end' }
  | { kind: 'end'; counts: ExportCounts };

/** The list filters an export of many conversations takes (the list endpoint's, but archived ones are in by default). */
export type ExportFilterInput = Pick<
  ListConversationsInput,
  | 'userId'
  | 'botId'
  | 'contactId'
  | 'dealId'
  | 'matterId'
  | 'archived'
  | 'createdAfter'
  | 'createdBefore'
  | 'updatedAfter'
  | 'updatedBefore'
>;

export interface OpenedExport {
  /** What the audit row names: one conversation, one user's conversations, or the workspace's. */
  target: { type: 'conversation' | 'user' | 'workspace'; id: string };
  workspaceId: string;
  /**
   * Batches of items read here, pulled as the response drains: nothing is read ahead of what the
   * client takes. Audited when it ends. Use either this or `batches`, not both.
   */
  items: AsyncGenerator<ExportItem[], void, undefined>;
  /**
   * The same export as batches of conversations, in order, for a reader elsewhere (the export
   * workers) that reads each batch's rows with `readBatch`; the caller audits with `record`.
   */
  batches(): AsyncGenerator<ExportBatch, void, undefined>;
  /** Writes the audit row (never throws: a failure is logged) and, when `failed`, logs the cut stream. */
  record(counts: ExportCounts, complete: boolean, failed: unknown): Promise<void>;
}

/** Conversations read together: a run of small ones (one read per table), or one big one alone (keyset pages). */
export interface ExportBatch {
  small: boolean;
  conversations: Conversation[];
}

/** The reads an export makes of a batch's rows (TransferReader's, also served by an export worker's own connection). */
export type RowReader = Pick<
  TransferReader,
  'messagesAfter' | 'toolInvocationsAfter' | 'messagesOf' | 'toolInvocationsOf' | 'lines' | 'pages'
>;

export interface ExportOptions {
  /** Tool invocations among the messages in time order (Markdown) instead of after them. */
  interleave: boolean;
  /** Recorded in the audit row's counts as format_<name>: 1. */
  format: string;
  /**
   * JSONL: message and tool invocation lines come written by the database ('lines' items, a
   * conversation's at a time), byte for byte what the JSONL writer writes from the objects.
   */
  lines?: boolean;
}

/** How a batch is read: interleaved (Markdown), and/or as JSONL lines (JSONL). */
export interface ReadShape {
  interleave: boolean;
  lines: boolean;
}

/** The ULID part of a prefixed id: messages and tool invocations sort together by it (both are time-ordered). */
const ulidOf = (id: string) => id.slice(id.indexOf('_') + 1);

/**
 * Export: one conversation, a user's, or a workspace's (list filters), streamed from keyset pages.
 * Everything that can refuse (scope, a missing or unreachable conversation, the first read) does
 * so in `open`, before the caller sends anything; a failure later cuts the stream and is logged.
 * Not a point-in-time snapshot: each page is read when the client has taken the previous one.
 */
export class ExportService {
  constructor(
    private readonly store: TransferStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async openConversation(auth: AuthContext, rawId: string, opts: ExportOptions): Promise<OpenedExport> {
    requireScope(auth, 'read:ai');
    const reader = this.store.reader(auth.workspaceId);
    const id = parseId('conversation', rawId);
    const c = id === null ? null : await reader.conversation(id);
    if (!c || !canReach(auth, c)) throw notFound();
    const pages = async function* () {
      yield [c];
    };
    return this.open(auth, reader, { type: 'conversation', id: c.id }, pages(), opts);
  }

  async openMany(auth: AuthContext, input: ExportFilterInput, opts: ExportOptions): Promise<OpenedExport> {
    requireScope(auth, 'read:ai');
    const reader = this.store.reader(auth.workspaceId);
    const userId = actingUser(auth, input.userId, '/query/user_id');
    const filter: ConversationFilter = {
      userId: userId ?? undefined,
      botId: input.botId,
      contactId: input.contactId,
      dealId: input.dealId,
      matterId: input.matterId,
      archived: input.archived === 'false' ? 'exclude' : input.archived === 'only' ? 'only' : 'include',
      createdAfter: input.createdAfter,
      createdBefore: input.createdBefore,
      updatedAfter: input.updatedAfter,
      updatedBefore: input.updatedBefore,
    };
    // the first page is read now, so that a database that is down answers 503 instead of a cut stream
    const size = reader.pages.conversations;
    const first = await reader.conversationsAfter(filter, undefined, size);
    const pages = async function* () {
      let page = first;
      while (page.length > 0) {
        yield page;
        if (page.length < size) return;
        const last = page[page.length - 1] as Conversation;
        const after: KeysetPosition = { value: last.createdAt, id: last.id };
        page = await reader.conversationsAfter(filter, after, size);
      }
    };
    const target =
      userId !== null ? { type: 'user' as const, id: userId } : { type: 'workspace' as const, id: auth.workspaceId };
    return this.open(auth, reader, target, pages(), opts);
  }

  private open(
    auth: AuthContext,
    reader: TransferReader,
    target: OpenedExport['target'],
    pages: AsyncGenerator<Conversation[]>,
    opts: ExportOptions,
  ): OpenedExport {
    const record = async (counts: ExportCounts, complete: boolean, failed: unknown) => {
      if (failed !== undefined) {
        this.logger.error(
          { err: failed, workspace_id: auth.workspaceId, target_type: target.type, ...counts },
          'export failed mid-stream; the response was cut',
        );
      }
      await this.record(auth, target, counts, opts.format, complete, failed !== undefined);
    };
    async function* batches(): AsyncGenerator<ExportBatch, void, undefined> {
      for await (const page of pages) yield* batchesOf(page, reader.pages.rows);
    }
    async function* items(): AsyncGenerator<ExportItem[], void, undefined> {
      const counts: ExportCounts = { conversations: 0, messages: 0, tool_invocations: 0 };
      let complete = false;
      let failed: unknown;
      try {
        const shape = { interleave: opts.interleave, lines: opts.lines === true };
        for await (const batch of batches()) yield* readBatch(reader, batch, shape, counts);
        complete = true;
        yield [{ kind: 'end', counts: { ...counts } }];
      } catch (err) {
        failed = err;
        throw err;
      } finally {
        // also when the client went away (the stream was destroyed): what it took is on record
        await record(counts, complete, failed);
      }
    }
    return { target, workspaceId: auth.workspaceId, items: items(), batches, record };
  }

  private async record(
    auth: AuthContext,
    target: OpenedExport['target'],
    counts: ExportCounts,
    format: string,
    complete: boolean,
    failed: boolean,
  ): Promise<void> {
    const now = this.clock.now();
    try {
      await this.store.audit({
        id: newId('audit', now),
        workspaceId: auth.workspaceId,
        actorKeyId: actorKeyId(auth),
        action: 'conversations.exported',
        targetType: target.type,
        targetId: target.id,
        counts: { ...counts, complete: complete ? 1 : 0, failed: failed ? 1 : 0, [`format_${format}`]: 1 },
        createdAt: now,
      });
    } catch (err) {
      this.logger.error({ err, workspace_id: auth.workspaceId }, 'could not record the export in the audit log');
    }
  }
}

const at = <T>(rows: readonly T[], i: number) => rows[i] as T;

/**
 * A batch's items, read with `reader`, added to `counts`: one step for a batch of small
 * conversations, keyset pages for a big one (or for small ones whose read came back full).
 */
export async function* readBatch(
  reader: RowReader,
  batch: ExportBatch,
  shape: ReadShape,
  counts: ExportCounts,
): AsyncGenerator<ExportItem[], void, undefined> {
  const lines = shape.lines && !shape.interleave ? reader.lines : undefined;
  let read: ExportItem[] | null | undefined = null;
  if (batch.small) {
    if (lines !== undefined) read = await smallBatchLines(lines, batch.conversations, reader.pages.rows, counts);
    if (read === undefined || lines === undefined)
      read = await smallBatch(reader, batch.conversations, shape.interleave, counts);
  }
  if (read !== null) yield read;
  else
    for (const c of batch.conversations) {
      if (lines !== undefined) yield* bigConversationLines(reader, lines, c, counts);
      else yield* bigConversation(reader, c, shape.interleave, counts);
    }
}

/**
 * smallBatch (not interleaved) as JSONL lines written by the database, a conversation's at a time;
 * undefined when they cannot be had so (SQLite's connection is inside a transaction, or a row has
 * a time out of the database's line range): the caller reads objects.
 */
async function smallBatchLines(
  lines: ExportLines,
  conversations: readonly Conversation[],
  rowPage: number,
  counts: ExportCounts,
): Promise<ExportItem[] | null | undefined> {
  const withMessages = conversations.filter((c) => c.messageCount > 0).map((c) => c.id);
  const withTools = conversations.filter((c) => c.toolInvocationCount > 0).map((c) => c.id);
  // both reads at once (PostgreSQL: two connections; SQLite answers each at once)
  const [messages, tools] = await Promise.all([
    withMessages.length > 0 ? lines.messagesOf(withMessages, rowPage + 1) : [],
    withTools.length > 0 ? lines.toolsOf(withTools, rowPage + 1) : [],
  ]);
  if (messages === undefined || tools === undefined) return undefined;
  if (rowsIn(messages) > rowPage || rowsIn(tools) > rowPage) return null;
  const out: ExportItem[] = [];
  // both runs are ordered by conversation id, as the page's conversations are not: look them up
  const messagesOf = new Map(messages.map((r) => [r.conversationId, r]));
  const toolsOf = new Map(tools.map((r) => [r.conversationId, r]));
  for (const c of conversations) {
    out.push({ kind: 'conversation', conversation: c });
    const ms = messagesOf.get(c.id);
    const ts = toolsOf.get(c.id);
    counts.conversations++;
    if (ms !== undefined) {
      counts.messages += ms.rows;
      out.push({ kind: 'lines', bytes: ms.bytes });
    }
    if (ts !== undefined) {
      counts.tool_invocations += ts.rows;
      out.push({ kind: 'lines', bytes: ts.bytes });
    }
    out.push({ kind: 'conversation_end' });
  }
  return out;
}

const rowsIn = (runs: readonly LineRun[]) => runs.reduce((n, r) => n + r.rows, 0);

/** bigConversation (not interleaved) as JSONL lines written by the database, page by page; a page that cannot be had so is read as objects. */
async function* bigConversationLines(
  reader: RowReader,
  lines: ExportLines,
  c: Conversation,
  counts: ExportCounts,
): AsyncGenerator<ExportItem[], void, undefined> {
  const rowPage = reader.pages.rows;
  counts.conversations++;
  yield [{ kind: 'conversation', conversation: c }];
  for (const table of ['messages', 'tool_invocations'] as const) {
    if ((table === 'messages' ? c.messageCount : c.toolInvocationCount) === 0) continue;
    let after: string | undefined;
    for (;;) {
      let item: ExportItem;
      let n: number;
      let last: string | undefined;
      const page = await (table === 'messages'
        ? lines.messagesAfter(c.id, after, rowPage)
        : lines.toolsAfter(c.id, after, rowPage));
      if (page !== undefined) {
        item = { kind: 'lines', bytes: page.bytes };
        n = page.rows;
        last = page.lastId;
      } else if (table === 'messages') {
        const objects = await reader.messagesAfter(c.id, after, rowPage);
        item = { kind: 'messages', messages: objects };
        n = objects.length;
        last = objects[n - 1]?.id;
      } else {
        const objects = await reader.toolInvocationsAfter(c.id, after, rowPage);
        item = { kind: 'tools', tools: objects };
        n = objects.length;
        last = objects[n - 1]?.id;
      }
      if (n === 0) break;
      if (table === 'messages') counts.messages += n;
      else counts.tool_invocations += n;
      yield [item];
      if (n < rowPage) break;
      after = last;
    }
  }
  yield [{ kind: 'conversation_end' }];
}

/**
 * Conversations whose counters add up to at most a read's rows: one read per table for all of
 * them, each conversation's rows then taken from it in order. The counters move in the same
 * transactions as the rows, but rows may have been added since the page was read: a read that
 * comes back full was short of some: null, and the batch is read one conversation at a time.
 */
async function smallBatch(
  reader: RowReader,
  conversations: readonly Conversation[],
  interleave: boolean,
  counts: ExportCounts,
): Promise<ExportItem[] | null> {
  const rowPage = reader.pages.rows;
  // the counters are kept in the same transactions as the rows: an empty side costs no read
  const withMessages = conversations.filter((c) => c.messageCount > 0).map((c) => c.id);
  const withTools = conversations.filter((c) => c.toolInvocationCount > 0).map((c) => c.id);
  const [messages, tools] = await Promise.all([
    withMessages.length > 0 ? reader.messagesOf(withMessages, rowPage + 1) : [],
    withTools.length > 0 ? reader.toolInvocationsOf(withTools, rowPage + 1) : [],
  ]);
  if (messages.length > rowPage || tools.length > rowPage) return null;
  const messagesOf = byConversation(messages);
  const toolsOf = byConversation(tools);
  const out: ExportItem[] = [];
  for (const c of conversations) {
    out.push({ kind: 'conversation', conversation: c });
    const ms = messagesOf.get(c.id) ?? [];
    const ts = toolsOf.get(c.id) ?? [];
    counts.conversations++;
    counts.messages += ms.length;
    counts.tool_invocations += ts.length;
    if (!interleave) {
      if (ms.length > 0) out.push({ kind: 'messages', messages: ms });
      if (ts.length > 0) out.push({ kind: 'tools', tools: ts });
    } else {
      let i = 0;
      let j = 0;
      while (i < ms.length || j < ts.length) {
        const from = i;
        while (i < ms.length && (j === ts.length || ulidOf(at(ms, i).id) <= ulidOf(at(ts, j).id))) i++;
        if (i > from) out.push({ kind: 'messages', messages: ms.slice(from, i) });
        const fromTool = j;
        while (j < ts.length && (i === ms.length || ulidOf(at(ts, j).id) < ulidOf(at(ms, i).id))) j++;
        if (j > fromTool) out.push({ kind: 'tools', tools: ts.slice(fromTool, j) });
      }
    }
    out.push({ kind: 'conversation_end' });
  }
  return out;
}

/** One conversation read in keyset pages per table: messages then tool invocations, or both in time order (interleave). */
async function* bigConversation(
  reader: RowReader,
  c: Conversation,
  interleave: boolean,
  counts: ExportCounts,
): AsyncGenerator<ExportItem[], void, undefined> {
  const rowPage = reader.pages.rows;
  counts.conversations++;
  yield [{ kind: 'conversation', conversation: c }];
  const m = new PageCursor(rowPage, c.messageCount > 0 ? (after) => reader.messagesAfter(c.id, after, rowPage) : null);
  const t = new PageCursor(
    rowPage,
    c.toolInvocationCount > 0 ? (after) => reader.toolInvocationsAfter(c.id, after, rowPage) : null,
  );
  if (!interleave) {
    for (await m.next(); !m.done; await m.next()) {
      counts.messages += m.page.length;
      yield [{ kind: 'messages', messages: m.page }];
    }
    for (await t.next(); !t.done; await t.next()) {
      counts.tool_invocations += t.page.length;
      yield [{ kind: 'tools', tools: t.page }];
    }
    yield [{ kind: 'conversation_end' }];
    return;
  }
  // a merge of two ordered streams in runs: one page of each side is held, never a whole side
  await m.next();
  await t.next();
  let out: ExportItem[] = [];
  let rows = 0;
  while (!m.done || !t.done) {
    if (!m.done && (t.done || ulidOf(m.head.id) <= ulidOf(t.head.id))) {
      const bound = t.done ? null : ulidOf(t.head.id);
      const from = m.i;
      while (m.i < m.page.length && (bound === null || ulidOf(at(m.page, m.i).id) <= bound)) m.i++;
      out.push({ kind: 'messages', messages: m.page.slice(from, m.i) });
      counts.messages += m.i - from;
      rows += m.i - from;
      if (m.i === m.page.length) await m.next();
    } else {
      const bound = m.done ? null : ulidOf(m.head.id);
      const from = t.i;
      while (t.i < t.page.length && (bound === null || ulidOf(at(t.page, t.i).id) < bound)) t.i++;
      out.push({ kind: 'tools', tools: t.page.slice(from, t.i) });
      counts.tool_invocations += t.i - from;
      rows += t.i - from;
      if (t.i === t.page.length) await t.next();
    }
    if (rows >= rowPage) {
      yield out;
      out = [];
      rows = 0;
    }
  }
  out.push({ kind: 'conversation_end' });
  yield out;
}

/**
 * A page of conversations cut into batches in order: runs of small ones whose counted rows fit in
 * a read together (read with one statement per table), and each big one alone (read in pages).
 */
function batchesOf(page: readonly Conversation[], rowPage: number): ExportBatch[] {
  const out: ExportBatch[] = [];
  let run: Conversation[] = [];
  let rows = 0;
  for (const c of page) {
    const own = c.messageCount + c.toolInvocationCount;
    if (own > rowPage) {
      if (run.length > 0) out.push({ small: true, conversations: run });
      out.push({ small: false, conversations: [c] });
      run = [];
      rows = 0;
      continue;
    }
    if (rows + own > rowPage || run.length === MANY_CONVERSATIONS) {
      out.push({ small: true, conversations: run });
      run = [];
      rows = 0;
    }
    run.push(c);
    rows += own;
  }
  if (run.length > 0) out.push({ small: true, conversations: run });
  return out;
}

/** Rows ordered by conversation id, as lists per conversation. */
function byConversation<T extends { conversationId: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  let from = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i === rows.length || at(rows, i).conversationId !== at(rows, from).conversationId) {
      out.set(at(rows, from).conversationId, rows.slice(from, i));
      from = i;
    }
  }
  return out;
}

/** A keyset-paged read by id, a page at a time: `next` reads the following page, `done` once none is left. */
class PageCursor<T extends { id: string }> {
  page: readonly T[] = [];
  /** The position in `page` of the first row not yet taken (the interleaving merge's). */
  i = 0;
  done = false;
  private after: string | undefined;
  private last = false;

  constructor(
    private readonly size: number,
    private readonly read: ((afterId: string | undefined) => Promise<T[]>) | null,
  ) {}

  get head(): T {
    return at(this.page, this.i);
  }

  async next(): Promise<void> {
    if (this.read === null || this.last) {
      this.done = true;
      this.page = [];
      return;
    }
    this.page = await this.read(this.after);
    this.i = 0;
    if (this.page.length < this.size) this.last = true;
    if (this.page.length === 0) {
      this.done = true;
      return;
    }
    this.after = at(this.page, this.page.length - 1).id;
  }
}
