import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { AuthContext, Conversation, Message, ToolInvocation } from '../domain/types.js';
import { notFound } from '../errors.js';
import { newId, parseId } from '../ids.js';
import type { ConversationFilter, KeysetPosition } from '../store/types.js';
import { actingUser, actorKeyId, canReach, requireScope } from './context.js';
import type { ListConversationsInput } from './conversations.js';
import type { TransferReader, TransferStore } from './transfer-store.js';

/** Rows read per statement: each page is one short read, so the memory an export holds never grows with its size. */
const CONVERSATION_PAGE = 100;
const ITEM_PAGE = 200;

export interface ExportCounts {
  conversations: number;
  messages: number;
  tool_invocations: number;
}

/** What an export yields, in order; a format writer turns each into text. */
export type ExportItem =
  | { kind: 'conversation'; conversation: Conversation }
  | { kind: 'message'; message: Message }
  | { kind: 'tool'; tool: ToolInvocation }
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
  /** Pulled as the response drains: nothing is read ahead of what the client takes. */
  items: AsyncGenerator<ExportItem, void, undefined>;
}

export interface ExportOptions {
  /** Tool invocations among the messages in time order (Markdown) instead of after them. */
  interleave: boolean;
  /** Recorded in the audit row's counts as format_<name>: 1. */
  format: string;
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
    const first = await reader.conversationsAfter(filter, undefined, CONVERSATION_PAGE);
    const pages = async function* () {
      let page = first;
      while (page.length > 0) {
        yield page;
        if (page.length < CONVERSATION_PAGE) return;
        const last = page[page.length - 1] as Conversation;
        const after: KeysetPosition = { value: last.createdAt, id: last.id };
        page = await reader.conversationsAfter(filter, after, CONVERSATION_PAGE);
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
    const counts: ExportCounts = { conversations: 0, messages: 0, tool_invocations: 0 };
    const self = this;
    async function* items(): AsyncGenerator<ExportItem, void, undefined> {
      let complete = false;
      let failed = false;
      try {
        for await (const page of pages) {
          for (const conversation of page) {
            counts.conversations++;
            yield { kind: 'conversation', conversation };
            for await (const item of self.contents(reader, conversation, opts.interleave)) {
              if (item.kind === 'message') counts.messages++;
              else counts.tool_invocations++;
              yield item;
            }
            yield { kind: 'conversation_end' };
          }
        }
        complete = true;
        yield { kind: 'end', counts: { ...counts } };
      } catch (err) {
        failed = true;
        self.logger.error(
          { err, workspace_id: auth.workspaceId, target_type: target.type, ...counts },
          'export failed mid-stream; the response was cut',
        );
        throw err;
      } finally {
        // also when the client went away (the stream was destroyed): what it took is on record
        await self.record(auth, target, counts, opts.format, complete, failed);
      }
    }
    return { target, items: items() };
  }

  /** A conversation's messages then tool invocations, or both in time order (interleave). */
  private async *contents(
    reader: TransferReader,
    c: Conversation,
    interleave: boolean,
  ): AsyncGenerator<{ kind: 'message'; message: Message } | { kind: 'tool'; tool: ToolInvocation }> {
    // the counters are kept in the same transactions as the rows: an empty side costs no read
    const messages: AsyncGenerator<Message, void, undefined> =
      c.messageCount > 0 ? pagesOf((after) => reader.messagesAfter(c.id, after, ITEM_PAGE)) : none();
    const tools: AsyncGenerator<ToolInvocation, void, undefined> =
      c.toolInvocationCount > 0 ? pagesOf((after) => reader.toolInvocationsAfter(c.id, after, ITEM_PAGE)) : none();
    if (!interleave) {
      for await (const message of messages) yield { kind: 'message', message };
      for await (const tool of tools) yield { kind: 'tool', tool };
      return;
    }
    // a merge of two ordered streams: one row of each is held, never a whole side
    let m = await messages.next();
    let t = await tools.next();
    while (!m.done || !t.done) {
      if (!m.done && (t.done || ulidOf(m.value.id) <= ulidOf(t.value.id))) {
        yield { kind: 'message', message: m.value };
        m = await messages.next();
      } else if (!t.done) {
        yield { kind: 'tool', tool: t.value };
        t = await tools.next();
      }
    }
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

async function* none<T>(): AsyncGenerator<T, void, undefined> {}

/** Every row of a keyset-paged read by id, one page in memory at a time. */
async function* pagesOf<T extends { id: string }>(
  read: (afterId: string | undefined) => Promise<T[]>,
): AsyncGenerator<T, void, undefined> {
  let after: string | undefined;
  for (;;) {
    const page = await read(after);
    for (const row of page) yield row;
    if (page.length < ITEM_PAGE) return;
    after = (page[page.length - 1] as T).id;
  }
}
