import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type {
  AuthContext,
  Conversation,
  ConversationContext,
  Json,
  JsonObject,
  Role,
  ToolStatus,
} from '../domain/types.js';
import { type ErrorCode, ParleyError } from '../errors.js';
import { encodeUlid, ID_PREFIX, type IdKind, newId, setUuidV7Bits } from '../ids.js';
import { actingUser, actorKeyId, canReach, requireScope } from './context.js';
import { autoTitle, type NewMessageInput } from './messages.js';
import type { TransferStore, TransferWriter } from './transfer-store.js';

/**
 * One line of an import, already parsed and checked against its record's shape (the HTTP layer
 * does that: http/import-records.ts). Ids are normalised (`conv_…`, `msg_…`, `tool_…`); times are
 * epoch ms, or undefined for "the time of the import".
 */
export type ImportLine =
  | { line: number; kind: 'header' | 'end' }
  | {
      line: number;
      kind: 'conversation';
      id: string;
      userId: string | null | undefined;
      botId: string | null;
      title: string | null;
      titleSource: 'auto' | 'user' | null;
      context: ConversationContext;
      metadata: JsonObject;
      archived: boolean;
      createdAt: number | undefined;
      updatedAt: number | undefined;
    }
  | {
      line: number;
      kind: 'message';
      id: string;
      conversationId: string;
      role: Role;
      content: string;
      metadata: JsonObject;
      createdAt: number | undefined;
    }
  | {
      line: number;
      kind: 'tool_invocation';
      id: string;
      conversationId: string;
      messageId: string | null;
      toolName: string;
      input: Json;
      output: Json;
      status: ToolStatus;
      startedAt: number | null;
      finishedAt: number | null;
      createdAt: number | undefined;
      updatedAt: number | undefined;
    }
  | {
      line: number;
      kind: 'chat';
      /** The caller's own stable name for the chat; else `contentHash` identifies it. */
      externalId: string | undefined;
      contentHash: string;
      userId: string | undefined;
      botId: string | undefined;
      title: string | undefined;
      context: ConversationContext | undefined;
      metadata: JsonObject | undefined;
      messages: NewMessageInput[];
    }
  | {
      line: number;
      kind: 'invalid';
      code: ErrorCode;
      message: string;
      /** What the line claimed to be, when it said; a failed conversation line fails its messages too. */
      recordType?: string | undefined;
      /** A failed conversation line's id (normalised), so that its message lines are told why they fail. */
      conversationId?: string | undefined;
    };

export type ImportStatus = 'created' | 'skipped' | 'error';
export interface ImportResult {
  line: number;
  type: string;
  status: ImportStatus;
  id?: string;
  error?: { code: ErrorCode; message: string };
}
interface Tally {
  created: number;
  skipped: number;
  failed: number;
}
type TallyKind = 'conversations' | 'messages' | 'tool_invocations';
export interface ImportReport {
  lines: number;
  conversations: Tally;
  messages: Tally;
  tool_invocations: Tally;
  errors: number;
  /** One entry per conversation (or chat) line and per line in error, at most RESULTS_MAX. */
  results: ImportResult[];
  results_truncated: boolean;
}

/** Lines per transaction, and characters of content per transaction: a batch holds the writer a few ms. */
export const IMPORT_BATCH_LINES = 500;
const IMPORT_BATCH_CHARS = 1_000_000;
/** Report entries kept; totals stay exact past it. */
export const RESULTS_MAX = 10_000;

const IN_TRASH =
  'the id names a conversation of this workspace that is in the trash (or being erased): restore it to have this line skipped, or import again after it is purged';

/** A unique violation: another import of the same rows committed first. */
const isUniqueViolation = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
};

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** The millisecond time of a prefixed ULID id. */
function ulidTime(id: string): number {
  const u = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  let t = 0;
  for (const ch of u) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

/**
 * A stable id from a seed: the same seed gives the same id on every run, which is what makes an
 * import that cannot keep an id still idempotent. The time part is given (the original id's time,
 * so order by id is kept as far as it can be), the rest is a SHA-256 of the seed.
 */
export function derivedId(kind: IdKind, seed: string, time: number): string {
  const h = createHash('sha256').update(seed).digest();
  return ID_PREFIX[kind] + encodeUlid(time, setUuidV7Bits(Uint8Array.from(h.subarray(0, 10))));
}

interface CurrentConversation {
  line: number;
  /** The id the file gives it. */
  originalId: string;
  /** The id it has here (differs when the file's id names a conversation the caller cannot reach). */
  id: string;
  /** Child ids are derived from the file's (never kept) once the conversation's own id was. */
  derive: boolean;
  failed: boolean;
  updatedAt: number;
  lastMessageAt: number | null;
  /** File message ids that had to take another id here, for the tool invocations that name them. */
  remap: Map<string, string>;
}

interface Pending {
  messages: number;
  tools: number;
}

/**
 * Import: export-format JSONL (typed lines) and OpenAI-style chats, in transactions of at most
 * IMPORT_BATCH_LINES lines, each line reported. Idempotent: existing objects are never changed;
 * an object whose id is already here is skipped, a new one keeps the file's id when it is free in
 * the workspace, and otherwise takes an id derived from it (so a second run finds it again). A
 * chat's id is derived from its external_id, or from its content, and its user.
 */
export class ImportService {
  constructor(
    private readonly store: TransferStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async run(auth: AuthContext, lines: AsyncIterable<ImportLine>): Promise<ImportReport> {
    requireScope(auth, 'write:ai');
    const report: ImportReport = {
      lines: 0,
      conversations: { created: 0, skipped: 0, failed: 0 },
      messages: { created: 0, skipped: 0, failed: 0 },
      tool_invocations: { created: 0, skipped: 0, failed: 0 },
      errors: 0,
      results: [],
      results_truncated: false,
    };
    let current: CurrentConversation | null = null;
    let batch: ImportLine[] = [];
    let batchChars = 0;
    let complete = false;

    const flush = async () => {
      if (batch.length === 0) return;
      const lines = batch;
      batch = [];
      batchChars = 0;
      // a concurrent import of the same rows may commit between a check and an insert (PostgreSQL):
      // the batch then runs again from the same state, and finds those rows
      for (let attempt = 0; ; attempt++) {
        const state = current ? { ...current, remap: new Map(current.remap) } : null;
        try {
          const out = await this.store.transact(auth.workspaceId, (w) => this.applyBatch(auth, w, lines, state));
          current = out.current;
          for (const r of out.results) this.note(report, r);
          for (const [kind, status, n] of out.tally) report[kind][status] += n;
          break;
        } catch (err) {
          if (attempt < 2 && isUniqueViolation(err)) continue;
          throw err;
        }
      }
      // other requests run between batches
      await new Promise((resolve) => setImmediate(resolve));
    };

    try {
      for await (const line of lines) {
        report.lines++;
        batch.push(line);
        if (line.kind === 'message') batchChars += line.content.length;
        else if (line.kind === 'chat') for (const m of line.messages) batchChars += m.content.length;
        if (batch.length >= IMPORT_BATCH_LINES || batchChars >= IMPORT_BATCH_CHARS) await flush();
      }
      await flush();
      complete = true;
      return report;
    } finally {
      await this.record(auth, report, complete);
    }
  }

  private note(report: ImportReport, r: ImportResult): void {
    if (r.status === 'error') report.errors++;
    if (report.results.length < RESULTS_MAX) report.results.push(r);
    else report.results_truncated = true;
  }

  /** One transaction's worth of lines; returns what to merge into the report once it has committed. */
  private async applyBatch(
    auth: AuthContext,
    w: TransferWriter,
    lines: ImportLine[],
    start: CurrentConversation | null,
  ): Promise<{
    current: CurrentConversation | null;
    results: ImportResult[];
    tally: Array<[TallyKind, keyof Tally, number]>;
  }> {
    let current = start;
    const results: ImportResult[] = [];
    const counts = new Map<string, number>();
    const count = (kind: 'conversations' | 'messages' | 'tool_invocations', status: keyof Tally) => {
      const k = `${kind}|${status}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    };
    const pending = new Map<string, Pending & { conversation: CurrentConversation }>();
    const pendingOf = (c: CurrentConversation) => {
      let p = pending.get(c.id);
      if (!p) {
        p = { messages: 0, tools: 0, conversation: c };
        pending.set(c.id, p);
      }
      p.conversation = c;
      return p;
    };
    const now = this.clock.now();
    const fail = (
      line: number,
      type: string,
      code: ErrorCode,
      message: string,
      kind?: 'conversations' | 'messages' | 'tool_invocations',
    ) => {
      results.push({ line, type, status: 'error', error: { code, message } });
      if (kind) count(kind, 'failed');
    };
    const kindOf = (type: string | undefined) =>
      type === 'conversation' || type === 'chat'
        ? ('conversations' as const)
        : type === 'message'
          ? ('messages' as const)
          : type === 'tool_invocation'
            ? ('tool_invocations' as const)
            : undefined;
    /** The conversation a message or tool invocation line belongs to: the latest conversation line's. */
    const owner = (line: number, type: string, conversationId: string): CurrentConversation | null => {
      const kind = kindOf(type);
      if (!current || current.originalId !== conversationId) {
        fail(
          line,
          type,
          'validation_failed',
          '/conversation_id must name the conversation of the latest conversation line (each conversation line is followed by its messages and tool invocations)',
          kind,
        );
        return null;
      }
      if (current.failed) {
        fail(line, type, 'validation_failed', `its conversation (line ${current.line}) was not imported`, kind);
        return null;
      }
      return current;
    };

    for (const rec of lines) {
      switch (rec.kind) {
        case 'header':
        case 'end':
          break;
        case 'invalid': {
          fail(rec.line, rec.recordType ?? 'unknown', rec.code, rec.message, kindOf(rec.recordType));
          if (rec.recordType === 'conversation' || rec.recordType === 'chat') {
            current =
              rec.recordType === 'conversation' && rec.conversationId !== undefined
                ? {
                    line: rec.line,
                    originalId: rec.conversationId,
                    id: rec.conversationId,
                    derive: false,
                    failed: true,
                    updatedAt: now,
                    lastMessageAt: null,
                    remap: new Map(),
                  }
                : null;
          }
          break;
        }
        case 'conversation': {
          current = null;
          const user = this.userFor(auth, rec.userId);
          if (user instanceof ParleyError) {
            fail(rec.line, 'conversation', user.code, user.message, 'conversations');
            current = this.failedConversation(rec.line, rec.id, now);
            break;
          }
          const placed = await this.place(auth, w, rec.id, `conversation\0${auth.userId ?? ''}\0${rec.id}`);
          if (placed === 'hidden') {
            fail(rec.line, 'conversation', 'conversation_in_trash', IN_TRASH, 'conversations');
            current = this.failedConversation(rec.line, rec.id, now);
            break;
          }
          if (placed === null) {
            fail(
              rec.line,
              'conversation',
              'validation_failed',
              '/id cannot be placed in this workspace; leave this conversation out or give it another id',
              'conversations',
            );
            current = this.failedConversation(rec.line, rec.id, now);
            break;
          }
          const createdAt = rec.createdAt ?? now;
          const updatedAt = Math.max(rec.updatedAt ?? now, createdAt);
          if (placed.existing) {
            results.push({ line: rec.line, type: 'conversation', status: 'skipped', id: placed.id });
            count('conversations', 'skipped');
          } else {
            const c: Conversation = {
              id: placed.id,
              workspaceId: auth.workspaceId,
              userId: user,
              botId: rec.botId,
              title: rec.title,
              titleSource: rec.titleSource ?? (rec.title === null ? null : 'user'),
              context: rec.context,
              metadata: rec.metadata,
              archived: rec.archived,
              messageCount: 0,
              toolInvocationCount: 0,
              lastMessageAt: null,
              createdAt,
              updatedAt,
            };
            await w.insertConversation(c);
            results.push({ line: rec.line, type: 'conversation', status: 'created', id: placed.id });
            count('conversations', 'created');
          }
          current = {
            line: rec.line,
            originalId: rec.id,
            id: placed.id,
            derive: placed.derived,
            failed: false,
            updatedAt: placed.existing ? Math.max(placed.existing.updatedAt, updatedAt) : updatedAt,
            lastMessageAt: placed.existing?.lastMessageAt ?? null,
            remap: new Map(),
          };
          break;
        }
        case 'message': {
          const c = owner(rec.line, 'message', rec.conversationId);
          if (!c) break;
          const id = await this.childId(c, rec.id, 'message', (x) => w.messageOwner(x));
          if (id === null) {
            fail(rec.line, 'message', 'validation_failed', '/id cannot be placed in this workspace', 'messages');
            break;
          }
          if (id.existing) {
            count('messages', 'skipped');
            break;
          }
          const createdAt = rec.createdAt ?? now;
          await w.insertMessage({
            id: id.id,
            conversationId: c.id,
            role: rec.role,
            content: rec.content,
            metadata: rec.metadata,
            createdAt,
          });
          pendingOf(c).messages++;
          c.lastMessageAt = Math.max(c.lastMessageAt ?? createdAt, createdAt);
          count('messages', 'created');
          break;
        }
        case 'tool_invocation': {
          const c = owner(rec.line, 'tool_invocation', rec.conversationId);
          if (!c) break;
          let messageId: string | null = null;
          if (rec.messageId !== null) {
            const m = c.derive
              ? derivedId('message', `${c.id}\0${rec.messageId}`, ulidTime(rec.messageId))
              : (c.remap.get(rec.messageId) ?? rec.messageId);
            if ((await w.messageOwner(m)) !== c.id) {
              fail(
                rec.line,
                'tool_invocation',
                'validation_failed',
                '/message_id names no message of this conversation (its message line must come first)',
                'tool_invocations',
              );
              break;
            }
            messageId = m;
          }
          const id = await this.childId(c, rec.id, 'toolInvocation', (x) => w.toolInvocationOwner(x));
          if (id === null) {
            fail(
              rec.line,
              'tool_invocation',
              'validation_failed',
              '/id cannot be placed in this workspace',
              'tool_invocations',
            );
            break;
          }
          if (id.existing) {
            count('tool_invocations', 'skipped');
            break;
          }
          const createdAt = rec.createdAt ?? now;
          await w.insertToolInvocation({
            id: id.id,
            conversationId: c.id,
            messageId,
            toolName: rec.toolName,
            input: rec.input,
            output: rec.output,
            status: rec.status,
            startedAt: rec.startedAt,
            finishedAt: rec.finishedAt,
            createdAt,
            updatedAt: Math.max(rec.updatedAt ?? createdAt, createdAt),
          });
          pendingOf(c).tools++;
          count('tool_invocations', 'created');
          break;
        }
        case 'chat': {
          current = null;
          const user = this.userFor(auth, rec.userId);
          if (user instanceof ParleyError) {
            fail(rec.line, 'chat', user.code, user.message, 'conversations');
            break;
          }
          const key = rec.externalId !== undefined ? `external\0${rec.externalId}` : `content\0${rec.contentHash}`;
          const id = derivedId('conversation', `chat\0${user ?? ''}\0${key}`, 0);
          const existing = await w.conversation(id);
          const hidden = existing ? null : await w.hiddenConversation(id);
          if (hidden && canReach(auth, hidden)) {
            fail(rec.line, 'chat', 'conversation_in_trash', IN_TRASH, 'conversations');
            for (let i = 0; i < rec.messages.length; i++) count('messages', 'failed');
            break;
          }
          if (existing || hidden) {
            if (existing && canReach(auth, existing)) {
              results.push({ line: rec.line, type: 'chat', status: 'skipped', id });
              count('conversations', 'skipped');
              for (let i = 0; i < rec.messages.length; i++) count('messages', 'skipped');
            } else {
              fail(
                rec.line,
                'chat',
                'validation_failed',
                'this chat cannot be placed in this workspace',
                'conversations',
              );
            }
            break;
          }
          const firstUser = rec.messages.find((m) => m.role === 'user');
          const generated = rec.title === undefined && firstUser ? autoTitle(firstUser.content) : null;
          const c: Conversation = {
            id,
            workspaceId: auth.workspaceId,
            userId: user,
            botId: rec.botId ?? null,
            title: rec.title ?? generated,
            titleSource: rec.title !== undefined ? 'user' : generated !== null ? 'auto' : null,
            context: rec.context ?? {},
            metadata: rec.metadata ?? {},
            archived: false,
            messageCount: 0,
            toolInvocationCount: 0,
            lastMessageAt: null,
            createdAt: now,
            updatedAt: now,
          };
          await w.insertConversation(c);
          const state: CurrentConversation = {
            line: rec.line,
            originalId: id,
            id,
            derive: false,
            failed: false,
            updatedAt: now,
            lastMessageAt: now,
            remap: new Map(),
          };
          for (const m of rec.messages) {
            await w.insertMessage({
              id: newId('message', now),
              conversationId: id,
              role: m.role,
              content: m.content,
              metadata: m.metadata ?? {},
              createdAt: now,
            });
          }
          pendingOf(state).messages += rec.messages.length;
          results.push({ line: rec.line, type: 'chat', status: 'created', id });
          count('conversations', 'created');
          for (let i = 0; i < rec.messages.length; i++) count('messages', 'created');
          break;
        }
      }
    }
    for (const [id, p] of pending) {
      await w.touch(id, {
        messages: p.messages,
        toolInvocations: p.tools,
        lastMessageAt: p.messages > 0 ? p.conversation.lastMessageAt : null,
        updatedAt: p.conversation.updatedAt,
      });
    }
    const tally = [...counts].map(([k, n]) => {
      const [kind, status] = k.split('|') as [TallyKind, keyof Tally];
      return [kind, status, n] as [TallyKind, keyof Tally, number];
    });
    return { current, results, tally };
  }

  private failedConversation(line: number, id: string, now: number): CurrentConversation {
    return {
      line,
      originalId: id,
      id,
      derive: false,
      failed: true,
      updatedAt: now,
      lastMessageAt: null,
      remap: new Map(),
    };
  }

  /** The owner an imported conversation gets: the line's, else the key's; a user-bound key may name only its own. */
  private userFor(auth: AuthContext, requested: string | null | undefined): string | null | ParleyError {
    try {
      return actingUser(auth, requested ?? undefined, '/user_id');
    } catch (err) {
      if (err instanceof ParleyError) return err;
      throw err;
    }
  }

  /**
   * Where a conversation of the file goes: its own id when that is free here (created) or names a
   * conversation the caller reaches (skipped: it is there already); when it names one the caller
   * cannot reach (another user's), an id derived from it, by the same rules. Null: nowhere.
   */
  private async place(
    auth: AuthContext,
    w: TransferWriter,
    fileId: string,
    seed: string,
  ): Promise<{ id: string; existing: Conversation | null; derived: boolean } | null | 'hidden'> {
    // out of view is not free: a trashed (or erasing) conversation still holds its id. The caller
    // is told so only about a conversation it could reach; another user's is passed over as a
    // visible one is, so a user-bound key learns nothing of it
    const own = (await w.conversation(fileId)) ?? (await w.hiddenConversation(fileId));
    if (!own) return { id: fileId, existing: null, derived: false };
    if (canReach(auth, own)) return 'hidden' in own ? 'hidden' : { id: fileId, existing: own, derived: false };
    const id = derivedId('conversation', seed, ulidTime(fileId));
    const there = (await w.conversation(id)) ?? (await w.hiddenConversation(id));
    if (!there) return { id, existing: null, derived: true };
    if (!canReach(auth, there)) return null;
    return 'hidden' in there ? 'hidden' : { id, existing: there, derived: true };
  }

  /**
   * The id a message or tool invocation of the file takes in conversation `c`: the file's when it
   * is free (or already this conversation's: then it exists), else one derived from it and `c`.
   */
  private async childId(
    c: CurrentConversation,
    fileId: string,
    kind: 'message' | 'toolInvocation',
    ownerOf: (id: string) => Promise<string | null>,
  ): Promise<{ id: string; existing: boolean } | null> {
    const derive = () => derivedId(kind, `${c.id}\0${fileId}`, ulidTime(fileId));
    const first = c.derive ? derive() : fileId;
    const owner = await ownerOf(first);
    if (owner === c.id) return { id: first, existing: true };
    if (owner === null) return { id: first, existing: false };
    if (c.derive) return null;
    // the file's id belongs to another conversation here
    const other = derive();
    const otherOwner = await ownerOf(other);
    if (otherOwner !== null && otherOwner !== c.id) return null;
    if (kind === 'message') c.remap.set(fileId, other);
    return { id: other, existing: otherOwner === c.id };
  }

  private async record(auth: AuthContext, r: ImportReport, complete: boolean): Promise<void> {
    const now = this.clock.now();
    try {
      await this.store.audit({
        id: newId('audit', now),
        workspaceId: auth.workspaceId,
        actorKeyId: actorKeyId(auth),
        action: 'conversations.imported',
        targetType: 'workspace',
        targetId: auth.workspaceId,
        counts: {
          lines: r.lines,
          conversations_created: r.conversations.created,
          conversations_skipped: r.conversations.skipped,
          messages_created: r.messages.created,
          messages_skipped: r.messages.skipped,
          tool_invocations_created: r.tool_invocations.created,
          tool_invocations_skipped: r.tool_invocations.skipped,
          errors: r.errors,
          complete: complete ? 1 : 0,
        },
        createdAt: now,
      });
    } catch (err) {
      this.logger.error({ err, workspace_id: auth.workspaceId }, 'could not record the import in the audit log');
    }
  }
}
