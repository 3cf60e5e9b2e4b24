import { type ExpressionBuilder, type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import type {
  ActorType,
  ApiKey,
  AuditEvent,
  Conversation,
  ConversationContext,
  Json,
  JsonObject,
  Message,
  Role,
  Scope,
  ToolInvocation,
  ToolStatus,
  Workspace,
} from '../domain/types.js';
import { counterNames } from './counters.js';
import { type DirectRead, QueryTemplate, TemplateFamily } from './query-template.js';
import type {
  ApiKeysTable,
  AuditEventsTable,
  ConversationsTable,
  Database,
  IdempotencyRecordsTable,
  MessagesTable,
  ToolInvocationsTable,
} from './schema.js';
import type {
  AuditListQuery,
  ConversationFilter,
  ConversationListQuery,
  ConversationPatch,
  DeleteCounts,
  IdempotencyRecord,
  NewStoredEvent,
  PageQuery,
  Repo,
  SearchRow,
  StoredEvent,
  ToolInvocationPatch,
  TotalAnswer,
} from './types.js';

/**
 * The parts of storage that differ per engine: full-text indexing and search. Everything else
 * is one set of Kysely queries shared by SQLite and PostgreSQL.
 */
export interface SearchIndex {
  /** True when a row's score depends only on the row and the query (not on other rows). */
  readonly stableScores: boolean;
  /** Extra column values for a message's INSERT (an engine that keeps its index in the row). */
  messageValues(content: string): Record<string, unknown>;
  /** Extra column values for a conversation's INSERT, or its UPDATE when the title changes. */
  titleValues(title: string | null): Record<string, unknown>;
  /** Loads what queries of this workspace need (awaited before matchCondition / ranked). */
  prepare(db: Kysely<Database>, workspaceId: string): Promise<void>;
  /** Indexes a message just inserted (`rowid` as the insert reported it, where the engine has one). */
  indexMessage(
    db: Kysely<Database>,
    workspaceId: string,
    m: { rowid: number | bigint | undefined; conversationId: string; content: string },
  ): Promise<void>;
  /** (Re-)indexes a conversation's title after its INSERT/UPDATE; null removes it. */
  indexTitle(db: Kysely<Database>, workspaceId: string, conversationId: string, title: string | null): Promise<void>;
  /** Re-indexes a message whose content was just updated (after its UPDATE, which carried messageValues). */
  reindexMessage(db: Kysely<Database>, workspaceId: string, messageId: string, content: string): Promise<void>;
  /** Removes a message's index entry (before its row goes); returns how many went (0 or 1). */
  removeMessage(db: Kysely<Database>, workspaceId: string, messageId: string): Promise<number>;
  /** Removes every index entry of a conversation; returns how many went. */
  removeConversation(db: Kysely<Database>, workspaceId: string, conversationId: string): Promise<number>;
  /** A condition on `conversations` (aliased `c`) that keeps rows matching the text, or null for "matches nothing". */
  matchCondition(
    eb: ExpressionBuilder<Database & { c: ConversationsTable }, 'c'>,
    workspaceId: string,
    text: string,
  ): ReturnType<typeof sql<boolean>> | null;
  /**
   * The matching conversations' best hits, as a derived table joined as `best` with columns
   * `score` (lower is better) and `hit` (the best message's key, or null when the title is the
   * best hit), and the join condition onto `c`; null when the text matches nothing. With
   * `candidates`, only the newest `candidates` matching messages and the newest `candidates`
   * matching titles are ranked (taken from the index before any score is computed); null ranks
   * every match.
   */
  ranked(
    workspaceId: string,
    text: string,
    candidates: number | null,
  ): { source: RawBuilder<RankedHit>; on: RawBuilder<boolean> } | null;
  /** The messages behind `hit` keys, by String(key). */
  hitMessages(
    db: Kysely<Database>,
    workspaceId: string,
    hits: Array<number | string | null>,
  ): Promise<Map<string, { id: string; content: string }>>;
}

/**
 * Ranked search scores at most this many matching messages (and as many matching titles), the
 * newest, so a very common word costs a bounded amount: results are the best matches among the
 * newest hits (docs/search.md, "Candidate window").
 */
export const SEARCH_CANDIDATES = 2_000;

/**
 * The status a stored idempotent answer takes when its conversation is deleted: the body (which
 * held the conversation's content) is erased, and a replay answers 410 conversation_deleted.
 */
export const ERASED_ANSWER_STATUS = 410;

/** A row of SearchIndex.ranked's derived table. */
export interface RankedHit {
  score: number | string;
  hit: number | string | null;
}

const CONVERSATION_COLUMNS = [
  'c.workspace_id',
  'c.id',
  'c.user_id',
  'c.bot_id',
  'c.title',
  'c.title_source',
  'c.contact_id',
  'c.deal_id',
  'c.matter_id',
  'c.context_extra',
  'c.metadata',
  'c.archived',
  'c.message_count',
  'c.tool_invocation_count',
  'c.last_message_at',
  'c.created_at',
  'c.updated_at',
] as const;

const KEY_COLUMNS = [
  'workspace_id',
  'id',
  'name',
  'prefix',
  'scopes',
  'user_id',
  'instance_admin',
  'rate_limit',
  'expires_at',
  'revoked_at',
  'created_at',
  'last_used_at',
] as const;

const num = (v: number | string | bigint): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : num(v));

function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function toConversation(r: Omit<Selectable<ConversationsTable>, 'event_seq' | 'search_tsv'>): Conversation {
  const context: ConversationContext = parseJson<JsonObject>(r.context_extra);
  if (r.contact_id !== null) context.contact_id = r.contact_id;
  if (r.deal_id !== null) context.deal_id = r.deal_id;
  if (r.matter_id !== null) context.matter_id = r.matter_id;
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    userId: r.user_id,
    botId: r.bot_id,
    title: r.title,
    titleSource: r.title_source as Conversation['titleSource'],
    context,
    metadata: parseJson<JsonObject>(r.metadata),
    archived: num(r.archived) === 1,
    messageCount: num(r.message_count),
    toolInvocationCount: num(r.tool_invocation_count),
    lastMessageAt: numOrNull(r.last_message_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function contextColumns(ctx: ConversationContext) {
  const { contact_id, deal_id, matter_id, ...extra } = ctx;
  return {
    contact_id: typeof contact_id === 'string' ? contact_id : null,
    deal_id: typeof deal_id === 'string' ? deal_id : null,
    matter_id: typeof matter_id === 'string' ? matter_id : null,
    context_extra: JSON.stringify(extra),
  };
}

function toMessage(r: Omit<Selectable<MessagesTable>, 'search_tsv'>): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role as Role,
    content: r.content,
    metadata: parseJson<JsonObject>(r.metadata),
    createdAt: num(r.created_at),
  };
}

function toTool(r: Selectable<ToolInvocationsTable>): ToolInvocation {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    messageId: r.message_id,
    toolName: r.tool_name,
    input: parseJson<Json>(r.input),
    output: parseJson<Json>(r.output),
    status: r.status as ToolStatus,
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toKey(r: Omit<Selectable<ApiKeysTable>, 'key_hash'>): ApiKey {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes.split(' ').filter(Boolean) as Scope[],
    userId: r.user_id,
    instanceAdmin: num(r.instance_admin) === 1,
    rateLimit: numOrNull(r.rate_limit),
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
    createdAt: num(r.created_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

function toAudit(r: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    actorKeyId: r.actor_key_id,
    actorType: r.actor_type as ActorType,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    counts: parseJson<Record<string, number>>(r.counts),
    createdAt: num(r.created_at),
  };
}

function toIdem(r: Omit<Selectable<IdempotencyRecordsTable>, 'conversation_id'>): IdempotencyRecord {
  return {
    workspaceId: r.workspace_id,
    key: r.idem_key,
    fingerprint: r.fingerprint,
    state: r.state as IdempotencyRecord['state'],
    statusCode: numOrNull(r.status_code),
    responseBody: r.response_body,
    createdAt: num(r.created_at),
    lockedUntil: num(r.locked_until),
  };
}

// ---- hot reads, compiled once (see query-template.ts) ---------------------------------------

const keyByHash = new QueryTemplate((db, p: { hash: string }) =>
  db.selectFrom('api_keys').select(KEY_COLUMNS).where('key_hash', '=', p.hash),
);

const conversationById = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id),
);

const conversationByIdForUpdate = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.workspace_id', '=', p.ws)
    .where('c.id', '=', p.id)
    .forUpdate(),
);

// ---- the append path's writes, compiled once (see query-template.ts) ----

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

/** Takes the next event seq and returns it in one statement (the row lock / write lock orders seqs). */
const nextEventSeq = new QueryTemplate((db, p: { ws: string; id: string }) =>
  db
    .updateTable('conversations')
    .set((eb) => ({ event_seq: eb('event_seq', '+', 1) }))
    .where('workspace_id', '=', p.ws)
    .where('id', '=', p.id)
    .returning('event_seq'),
);

const insertEvent = new QueryTemplate(
  (db, p: { ws: string; conv: string; seq: number; type: string; payload: string; at: number }) =>
    db.insertInto('conversation_events').values({
      workspace_id: p.ws,
      conversation_id: p.conv,
      seq: p.seq,
      type: p.type,
      payload: p.payload,
      created_at: p.at,
    }),
);

const completeIdem = new QueryTemplate(
  (db, p: { ws: string; key: string; status: number; body: string | null; conv: string | null }) =>
    db
      .updateTable('idempotency_records')
      .set({ state: 'done', status_code: p.status, response_body: p.body, conversation_id: p.conv })
      .where('workspace_id', '=', p.ws)
      .where('idem_key', '=', p.key),
);

const countersByName = new QueryTemplate((db, p: { ws: string; a: string; b: string }) =>
  db.selectFrom('counters').select(['name', 'value']).where('workspace_id', '=', p.ws).where('name', 'in', [p.a, p.b]),
);

type MessagePageParams = { ws: string; conv: string; limit: number; after?: string; offset?: number };
const messagePages = new TemplateFamily<MessagePageParams, Selectable<MessagesTable>>();

/** The filter fields that bind a value; which of them are present is part of a list query's shape. */
const FILTER_VALUES = [
  'userId',
  'botId',
  'contactId',
  'dealId',
  'matterId',
  'createdAfter',
  'createdBefore',
  'updatedAfter',
  'updatedBefore',
] as const;
type ListParams = Record<string, unknown>;
const conversationPages = new TemplateFamily<ListParams, Selectable<ConversationsTable>>();

function filteredOn(db: Kysely<Database>, search: SearchIndex, workspaceId: string, f: ConversationFilter) {
  let q = db.selectFrom('conversations as c').where('c.workspace_id', '=', workspaceId);
  if (f.userId !== undefined) q = q.where('c.user_id', '=', f.userId);
  if (f.botId !== undefined) q = q.where('c.bot_id', '=', f.botId);
  if (f.contactId !== undefined) q = q.where('c.contact_id', '=', f.contactId);
  if (f.dealId !== undefined) q = q.where('c.deal_id', '=', f.dealId);
  if (f.matterId !== undefined) q = q.where('c.matter_id', '=', f.matterId);
  if (f.archived === 'exclude') q = q.where('c.archived', '=', 0);
  else if (f.archived === 'only') q = q.where('c.archived', '=', 1);
  if (f.createdAfter !== undefined) q = q.where('c.created_at', '>=', f.createdAfter);
  if (f.createdBefore !== undefined) q = q.where('c.created_at', '<', f.createdBefore);
  if (f.updatedAfter !== undefined) q = q.where('c.updated_at', '>=', f.updatedAfter);
  if (f.updatedBefore !== undefined) q = q.where('c.updated_at', '<', f.updatedBefore);
  if (f.search !== undefined) {
    const text = f.search;
    q = q.where((eb) => search.matchCondition(eb, workspaceId, text) ?? sql<boolean>`1 = 0`);
  }
  return q;
}

function listQueryOn(db: Kysely<Database>, search: SearchIndex, workspaceId: string, q: ConversationListQuery) {
  const col = q.orderBy === 'created_at' ? ('c.created_at' as const) : ('c.updated_at' as const);
  let query = filteredOn(db, search, workspaceId, q).select(CONVERSATION_COLUMNS);
  if (q.after) {
    const { value, id } = q.after;
    const cmp = q.order === 'desc' ? '<' : '>';
    // A row-value comparison, not (col < v OR (col = v AND id < i)): both engines seek the
    // (workspace_id, col, id) index with it, so a page deep in a big workspace costs what the
    // first page costs; the OR form made SQLite merge two index scans and sort (~100x slower at 1 M).
    query = query.where((eb) => eb(eb.refTuple(col, 'c.id'), cmp, eb.tuple(value, id)));
  }
  query = query.orderBy(col, q.order).orderBy('c.id', q.order).limit(q.limit);
  if (q.offset) query = query.offset(q.offset);
  return query;
}

export class KyselyRepo implements Repo {
  constructor(
    protected readonly db: Kysely<Database>,
    protected readonly search: SearchIndex,
    /** Inside a PostgreSQL transaction: a loaded conversation is locked (FOR UPDATE) until commit. */
    protected readonly opts: { lockRows?: boolean; direct?: DirectRead } = {},
  ) {}

  /** A hot-read template, on the engine's direct path when it has one (see DirectRead). */
  protected read<P extends Record<string, unknown>, O>(t: QueryTemplate<P, O>, params: P): Promise<O[]> {
    return t.execute(this.db, params, this.opts.direct);
  }

  // ---- workspaces and keys -------------------------------------------------

  async insertWorkspace(ws: Workspace): Promise<void> {
    await this.db.insertInto('workspaces').values({ id: ws.id, name: ws.name, created_at: ws.createdAt }).execute();
  }

  async getWorkspace(id: string): Promise<Workspace | null> {
    const r = await this.db
      .selectFrom('workspaces')
      .select(['id', 'name', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? { id: r.id, name: r.name, createdAt: num(r.created_at) } : null;
  }

  async countWorkspaces(): Promise<number> {
    const r = await this.db
      .selectFrom('workspaces')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return num(r.n);
  }

  async listWorkspaces(q: PageQuery): Promise<Workspace[]> {
    let query = this.db.selectFrom('workspaces').select(['id', 'name', 'created_at']);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: num(r.created_at) }));
  }

  async renameWorkspace(id: string, name: string): Promise<boolean> {
    const r = await this.db.updateTable('workspaces').set({ name }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async findFirstWorkspaceId(): Promise<string | null> {
    const r = await this.db
      .selectFrom('workspaces')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return r?.id ?? null;
  }

  async insertApiKey(key: ApiKey, keyHash: string): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        workspace_id: key.workspaceId,
        id: key.id,
        name: key.name,
        key_hash: keyHash,
        prefix: key.prefix,
        scopes: key.scopes.join(' '),
        user_id: key.userId,
        instance_admin: key.instanceAdmin ? 1 : 0,
        rate_limit: key.rateLimit,
        expires_at: key.expiresAt,
        revoked_at: key.revokedAt,
        created_at: key.createdAt,
        last_used_at: key.lastUsedAt,
      })
      .execute();
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKey | null> {
    const [r] = await this.read(keyByHash, { hash: keyHash });
    return r ? toKey(r) : null;
  }

  async listApiKeys(workspaceId: string): Promise<ApiKey[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute();
    return rows.map(toKey);
  }

  async getApiKey(workspaceId: string, id: string): Promise<ApiKey | null> {
    const r = await this.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toKey(r) : null;
  }

  async activeAdminKeyIds(workspaceId: string, now: number): Promise<string[]> {
    let query = this.db
      .selectFrom('api_keys')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      // scopes are space-separated words; admin is one of them
      .where(sql<boolean>`(' ' || scopes || ' ') like '% admin %'`);
    // two admins revoking each other at once: the second waits here, then sees the first's revoke
    if (this.opts.lockRows) query = query.forUpdate();
    const rows = await query.orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  async touchApiKeyLastUsed(workspaceId: string, id: string, at: number, unlessAfter: number): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: at })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', unlessAfter)]))
      .execute();
  }

  async revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ---- conversations --------------------------------------------------------

  async insertConversation(c: Conversation): Promise<void> {
    await this.db
      .insertInto('conversations')
      .values({
        workspace_id: c.workspaceId,
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
        ...(this.search.titleValues(c.title) as object),
      })
      .execute();
    await this.bumpCounters(c.workspaceId, counterNames(c, false), 1);
    if (c.archived) await this.bumpCounters(c.workspaceId, counterNames(c, true), 1);
    if (c.title !== null) await this.search.indexTitle(this.db, c.workspaceId, c.id, c.title);
  }

  async getConversation(workspaceId: string, id: string): Promise<Conversation | null> {
    // writers of one conversation queue on its row, as they queue on the file lock on SQLite,
    // so counters and the auto title stay exact under concurrency
    const [r] = this.opts.lockRows
      ? await this.read(conversationByIdForUpdate, { ws: workspaceId, id })
      : await this.read(conversationById, { ws: workspaceId, id });
    return r ? toConversation(r) : null;
  }

  async updateConversation(workspaceId: string, id: string, patch: ConversationPatch): Promise<Conversation | null> {
    const before = await this.getConversation(workspaceId, id);
    if (!before) return null;
    const set: Partial<Omit<ConversationsTable, 'event_seq'>> = { updated_at: patch.updatedAt };
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.titleSource !== undefined) set.title_source = patch.titleSource;
    if (patch.archived !== undefined) set.archived = patch.archived ? 1 : 0;
    if (patch.context !== undefined) Object.assign(set, contextColumns(patch.context));
    if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
    const retitled = patch.title !== undefined && patch.title !== before.title;
    if (retitled) Object.assign(set, this.search.titleValues(patch.title ?? null));
    await this.db
      .updateTable('conversations')
      .set(set)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .execute();
    if (patch.archived !== undefined && patch.archived !== before.archived) {
      await this.bumpCounters(workspaceId, counterNames(before, true), patch.archived ? 1 : -1);
    }
    if (retitled) await this.search.indexTitle(this.db, workspaceId, id, patch.title ?? null);
    return this.getConversation(workspaceId, id);
  }

  async deleteConversation(workspaceId: string, id: string): Promise<DeleteCounts | null> {
    const before = await this.getConversation(workspaceId, id);
    if (!before) return null;
    // derived rows first: the external-content index needs the rows it indexed
    const searchEntries = await this.search.removeConversation(this.db, workspaceId, id);
    const tools = await this.db
      .deleteFrom('tool_invocations')
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    const messages = await this.db
      .deleteFrom('messages')
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    await this.db
      .deleteFrom('conversation_events')
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', id)
      .execute();
    await this.db.deleteFrom('conversations').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
    // stored answers of writes to it carry its content: kept as content-free tombstones, so a retry
    // with the same key is told the conversation is gone instead of running again (services/idempotency.ts)
    await this.db
      .updateTable('idempotency_records')
      .set({ response_body: null, status_code: ERASED_ANSWER_STATUS, conversation_id: null })
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', id)
      .execute();
    await this.bumpCounters(workspaceId, counterNames(before, false), -1);
    if (before.archived) await this.bumpCounters(workspaceId, counterNames(before, true), -1);
    return {
      messages: Number(messages.numDeletedRows),
      tool_invocations: Number(tools.numDeletedRows),
      search_entries: searchEntries,
    };
  }

  private filtered(workspaceId: string, f: ConversationFilter) {
    return filteredOn(this.db, this.search, workspaceId, f);
  }

  async searchConversations(workspaceId: string, q: ConversationListQuery): Promise<SearchRow[]> {
    await this.search.prepare(this.db, workspaceId);
    // A narrowing filter applies after the candidate window, which could then miss every row it
    // keeps: such searches rank all matches (the filter bounds the answer, not the cost).
    const narrowed =
      q.userId !== undefined ||
      q.botId !== undefined ||
      q.contactId !== undefined ||
      q.dealId !== undefined ||
      q.matterId !== undefined ||
      q.createdAfter !== undefined ||
      q.createdBefore !== undefined ||
      q.updatedAfter !== undefined ||
      q.updatedBefore !== undefined;
    const ranked = this.search.ranked(workspaceId, q.search ?? '', narrowed ? null : SEARCH_CANDIDATES);
    if (ranked === null) return [];
    let query = filteredOn(this.db, this.search, workspaceId, { ...q, search: undefined })
      .innerJoin(ranked.source.as('best'), (j) => j.on(ranked.on))
      .select([...CONVERSATION_COLUMNS, 'best.score', 'best.hit']);
    if (q.orderBy === 'relevance') {
      if (q.after) {
        const { id } = q.after;
        let value = q.after.value;
        if (!this.search.stableScores) {
          // bm25 moves with corpus statistics: every write shifts every score a little, so the
          // page boundary is the anchor conversation's score now (its position among the others
          // holds), falling back to the cursor's value when the anchor no longer matches
          const anchor = await this.db
            .selectFrom('conversations as c')
            .innerJoin(ranked.source.as('best'), (j) => j.on(ranked.on))
            .select('best.score')
            .where('c.workspace_id', '=', workspaceId)
            .where('c.id', '=', id)
            .executeTakeFirst();
          if (anchor) value = num(anchor.score);
        }
        query = query.where(sql<boolean>`(best.score > ${value} OR (best.score = ${value} AND c.id > ${id}))`);
      }
      query = query.orderBy('best.score').orderBy('c.id');
    } else {
      const col = q.orderBy === 'created_at' ? ('c.created_at' as const) : ('c.updated_at' as const);
      if (q.after) {
        const { value, id } = q.after;
        const cmp = q.order === 'desc' ? '<' : '>';
        query = query.where((eb) => eb.or([eb(col, cmp, value), eb.and([eb(col, '=', value), eb('c.id', cmp, id)])]));
      }
      query = query.orderBy(col, q.order).orderBy('c.id', q.order);
    }
    query = query.limit(q.limit);
    if (q.offset) query = query.offset(q.offset);
    const rows = await query.execute();
    const messages = await this.search.hitMessages(
      this.db,
      workspaceId,
      rows.map((r) => r.hit),
    );
    return rows.map((r) => {
      const conversation = toConversation(r);
      const m = r.hit === null ? undefined : messages.get(String(r.hit));
      const hit: SearchRow['hit'] = m
        ? { field: 'content', messageId: m.id, text: m.content }
        : { field: 'title', messageId: null, text: conversation.title ?? '' };
      return { conversation, score: num(r.score), hit };
    });
  }

  async listConversations(workspaceId: string, q: ConversationListQuery): Promise<Conversation[]> {
    if (q.search !== undefined || q.orderBy === 'relevance') {
      return (await this.searchConversations(workspaceId, q)).map((r) => r.conversation);
    }
    const present = FILTER_VALUES.filter((k) => q[k] !== undefined);
    const shape = [present.join(','), q.archived, q.orderBy, q.order, q.after ? 'after' : '', q.offset ? 'offset' : ''];
    const params: ListParams = { ws: workspaceId, limit: q.limit };
    for (const k of present) params[k] = q[k];
    if (q.after) {
      params.afterValue = q.after.value;
      params.afterId = q.after.id;
    }
    if (q.offset) params.offset = q.offset;
    const search = this.search;
    const template = conversationPages.get(shape.join('|'), () => (db, p) => {
      const structure: ConversationListQuery = {
        archived: q.archived,
        orderBy: q.orderBy,
        order: q.order,
        limit: p.limit as number,
        after: q.after ? { value: p.afterValue as number, id: p.afterId as string } : undefined,
        offset: q.offset ? (p.offset as number) : undefined,
      };
      for (const k of present) (structure as unknown as Record<string, unknown>)[k] = p[k];
      return listQueryOn(db, search, p.ws as string, structure);
    });
    return (await this.read(template, params)).map(toConversation);
  }

  async totalConversations(workspaceId: string, f: ConversationFilter, cap: number): Promise<TotalAnswer> {
    const onlyCounted =
      f.contactId === undefined &&
      f.dealId === undefined &&
      f.matterId === undefined &&
      f.search === undefined &&
      f.createdAfter === undefined &&
      f.createdBefore === undefined &&
      f.updatedAfter === undefined &&
      f.updatedBefore === undefined &&
      !(f.userId !== undefined && f.botId !== undefined);
    if (onlyCounted) {
      const [all, archived] =
        f.userId !== undefined
          ? [`user:${f.userId}`, `user_archived:${f.userId}`]
          : f.botId !== undefined
            ? [`bot:${f.botId}`, `bot_archived:${f.botId}`]
            : ['all', 'archived'];
      const rows = await this.read(countersByName, { ws: workspaceId, a: all, b: archived });
      const get = (n: string) => num(rows.find((r) => r.name === n)?.value ?? 0);
      const total =
        f.archived === 'include' ? get(all) : f.archived === 'only' ? get(archived) : get(all) - get(archived);
      return { total, exact: true };
    }
    // Bounded: count at most `cap` matching rows.
    if (f.search !== undefined) await this.search.prepare(this.db, workspaceId);
    const inner = this.filtered(workspaceId, f)
      .select('c.id')
      .limit(cap + 1);
    const r = await this.db
      .selectFrom(inner.as('t'))
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    const n = num(r.n);
    return n > cap ? { total: cap, exact: false } : { total: n, exact: true };
  }

  private async bumpCounters(workspaceId: string, names: string[], delta: number): Promise<void> {
    if (names.length === 0) return;
    await this.db
      .insertInto('counters')
      .values(names.map((name) => ({ workspace_id: workspaceId, name, value: delta })))
      .onConflict((oc) =>
        oc.columns(['workspace_id', 'name']).doUpdateSet({ value: sql<number>`counters.value + excluded.value` }),
      )
      .execute();
  }

  // ---- messages and tool invocations ------------------------------------------

  async insertMessage(workspaceId: string, m: Message): Promise<void> {
    const inserted = await this.db
      .insertInto('messages')
      .values({
        workspace_id: workspaceId,
        conversation_id: m.conversationId,
        id: m.id,
        role: m.role,
        content: m.content,
        metadata: JSON.stringify(m.metadata),
        created_at: m.createdAt,
        ...(this.search.messageValues(m.content) as object),
      })
      .executeTakeFirst();
    await this.search.indexMessage(this.db, workspaceId, {
      rowid: inserted.insertId,
      conversationId: m.conversationId,
      content: m.content,
    });
  }

  async listMessages(workspaceId: string, conversationId: string, q: PageQuery): Promise<Message[]> {
    const params: MessagePageParams = { ws: workspaceId, conv: conversationId, limit: q.limit };
    if (q.after !== undefined) params.after = q.after;
    if (q.offset) params.offset = q.offset;
    const shape = `${q.order}|${q.after !== undefined}|${Boolean(q.offset)}`;
    const template = messagePages.get(shape, () => (db, p) => {
      let query = db
        .selectFrom('messages')
        .select(['workspace_id', 'conversation_id', 'id', 'role', 'content', 'metadata', 'created_at'])
        .where('workspace_id', '=', p.ws)
        .where('conversation_id', '=', p.conv);
      if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', p.after as string);
      const page = query.orderBy('id', q.order).limit(p.limit);
      return q.offset ? page.offset(p.offset as number) : page;
    });
    const rows = await this.read(template, params);
    return rows.map(toMessage);
  }

  async getMessage(workspaceId: string, conversationId: string, id: string): Promise<Message | null> {
    const r = await this.db
      .selectFrom('messages')
      .select(['workspace_id', 'conversation_id', 'id', 'role', 'content', 'metadata', 'created_at'])
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toMessage(r) : null;
  }

  async firstMessageOfRole(workspaceId: string, conversationId: string, role: Role): Promise<Message | null> {
    const r = await this.db
      .selectFrom('messages')
      .select(['workspace_id', 'conversation_id', 'id', 'role', 'content', 'metadata', 'created_at'])
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId)
      .where('role', '=', role)
      .orderBy('id', 'asc')
      .limit(1)
      .executeTakeFirst();
    return r === undefined ? null : toMessage(r);
  }

  async findMessage(workspaceId: string, id: string): Promise<Message | null> {
    const r = await this.db
      .selectFrom('messages')
      .select(['workspace_id', 'conversation_id', 'id', 'role', 'content', 'metadata', 'created_at'])
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toMessage(r) : null;
  }

  async deleteMessage(
    workspaceId: string,
    conversationId: string,
    id: string,
    updatedAt: number,
  ): Promise<{ search_entries: number; tool_invocations_detached: number } | null> {
    if (!(await this.messageExists(workspaceId, conversationId, id))) return null;
    // the external-content index needs the row it indexed, so the entry goes first
    const searchEntries = await this.search.removeMessage(this.db, workspaceId, id);
    // tool invocations outlive the message that asked for them: they belong to the conversation
    const detached = await this.db
      .updateTable('tool_invocations')
      .set({ message_id: null })
      .where('workspace_id', '=', workspaceId)
      .where('message_id', '=', id)
      .executeTakeFirst();
    await this.db.deleteFrom('messages').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
    await this.db
      .updateTable('conversations')
      .set((eb) => ({
        message_count: eb('message_count', '-', 1),
        updated_at: updatedAt,
        last_message_at: eb
          .selectFrom('messages')
          .select((m) => m.fn.max('created_at').as('m'))
          .where('workspace_id', '=', workspaceId)
          .where('conversation_id', '=', conversationId),
      }))
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', conversationId)
      .execute();
    return { search_entries: searchEntries, tool_invocations_detached: Number(detached.numUpdatedRows) };
  }

  async updateMessage(
    workspaceId: string,
    conversationId: string,
    id: string,
    patch: { content: string; metadata: JsonObject },
  ): Promise<Message | null> {
    if (!(await this.messageExists(workspaceId, conversationId, id))) return null;
    await this.db
      .updateTable('messages')
      .set({
        content: patch.content,
        metadata: JSON.stringify(patch.metadata),
        ...(this.search.messageValues(patch.content) as object),
      })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .execute();
    await this.search.reindexMessage(this.db, workspaceId, id, patch.content);
    return this.findMessage(workspaceId, id);
  }

  async messageExists(workspaceId: string, conversationId: string, id: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('messages')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r !== undefined;
  }

  async touchConversation(
    workspaceId: string,
    id: string,
    change: { messages?: number; toolInvocations?: number; lastMessageAt?: number; updatedAt: number },
  ): Promise<void> {
    const p = {
      ws: workspaceId,
      id,
      messages: change.messages ?? 0,
      tools: change.toolInvocations ?? 0,
      updatedAt: change.updatedAt,
    };
    if (change.lastMessageAt !== undefined) await touchWithLast.execute(this.db, { ...p, last: change.lastMessageAt });
    else await touchOnly.execute(this.db, p);
  }

  async insertToolInvocation(workspaceId: string, t: ToolInvocation): Promise<void> {
    await this.db
      .insertInto('tool_invocations')
      .values({
        workspace_id: workspaceId,
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

  private toolQuery(workspaceId: string, conversationId: string) {
    return this.db
      .selectFrom('tool_invocations')
      .select([
        'workspace_id',
        'conversation_id',
        'id',
        'message_id',
        'tool_name',
        'input',
        'output',
        'status',
        'started_at',
        'finished_at',
        'created_at',
        'updated_at',
      ])
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId);
  }

  async getToolInvocation(workspaceId: string, conversationId: string, id: string): Promise<ToolInvocation | null> {
    const r = await this.toolQuery(workspaceId, conversationId).where('id', '=', id).executeTakeFirst();
    return r ? toTool(r) : null;
  }

  async updateToolInvocation(
    workspaceId: string,
    conversationId: string,
    id: string,
    patch: ToolInvocationPatch,
  ): Promise<ToolInvocation | null> {
    const set: Partial<ToolInvocationsTable> = { updated_at: patch.updatedAt };
    if (patch.output !== undefined) set.output = JSON.stringify(patch.output);
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
    if (patch.messageId !== undefined) set.message_id = patch.messageId;
    const r = await this.db
      .updateTable('tool_invocations')
      .set(set)
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return null;
    return this.getToolInvocation(workspaceId, conversationId, id);
  }

  async listToolInvocations(workspaceId: string, conversationId: string, q: PageQuery): Promise<ToolInvocation[]> {
    let query = this.toolQuery(workspaceId, conversationId);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toTool);
  }

  // ---- idempotency -------------------------------------------------------------

  private idemValues(rec: IdempotencyRecord) {
    return {
      workspace_id: rec.workspaceId,
      idem_key: rec.key,
      fingerprint: rec.fingerprint,
      state: rec.state,
      status_code: rec.statusCode,
      response_body: rec.responseBody,
      created_at: rec.createdAt,
      locked_until: rec.lockedUntil,
    };
  }

  async getIdempotency(workspaceId: string, key: string): Promise<IdempotencyRecord | null> {
    const r = await this.db
      .selectFrom('idempotency_records')
      .select([
        'workspace_id',
        'idem_key',
        'fingerprint',
        'state',
        'status_code',
        'response_body',
        'created_at',
        'locked_until',
      ])
      .where('workspace_id', '=', workspaceId)
      .where('idem_key', '=', key)
      .executeTakeFirst();
    return r ? toIdem(r) : null;
  }

  async claimIdempotency(rec: IdempotencyRecord): Promise<boolean> {
    const r = await this.db
      .insertInto('idempotency_records')
      .values(this.idemValues(rec))
      .onConflict((oc) => oc.columns(['workspace_id', 'idem_key']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async reclaimIdempotency(
    rec: IdempotencyRecord,
    stale: { lockedUntil: number; createdBefore: number },
  ): Promise<boolean> {
    const { workspace_id, idem_key, ...rest } = this.idemValues(rec);
    const r = await this.db
      .updateTable('idempotency_records')
      .set(rest)
      .where('workspace_id', '=', workspace_id)
      .where('idem_key', '=', idem_key)
      .where((eb) =>
        eb.or([
          eb('created_at', '<', stale.createdBefore),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', stale.lockedUntil)]),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async completeIdempotency(
    workspaceId: string,
    key: string,
    statusCode: number,
    body: string | null,
    conversationId: string | null,
  ): Promise<void> {
    await completeIdem.execute(this.db, { ws: workspaceId, key, status: statusCode, body, conv: conversationId });
  }

  async releaseIdempotency(workspaceId: string, key: string, fingerprint: string): Promise<void> {
    await this.db
      .deleteFrom('idempotency_records')
      .where('workspace_id', '=', workspaceId)
      .where('idem_key', '=', key)
      .where('fingerprint', '=', fingerprint)
      .where('state', '=', 'running')
      .execute();
  }

  async purgeIdempotency(createdBefore: number, limit: number): Promise<number> {
    const victims = await this.db
      .selectFrom('idempotency_records')
      .select(['workspace_id', 'idem_key'])
      .where('created_at', '<', createdBefore)
      .limit(limit)
      .execute();
    for (const v of victims) {
      await this.db
        .deleteFrom('idempotency_records')
        .where('workspace_id', '=', v.workspace_id)
        .where('idem_key', '=', v.idem_key)
        .where('created_at', '<', createdBefore)
        .execute();
    }
    return victims.length;
  }

  // ---- audit ------------------------------------------------------------------------

  async insertAuditEvent(e: AuditEvent): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        workspace_id: e.workspaceId,
        id: e.id,
        actor_key_id: e.actorKeyId,
        actor_type: e.actorType ?? (e.actorKeyId === null ? 'operator' : 'api_key'),
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        counts: JSON.stringify(e.counts),
        created_at: e.createdAt,
      })
      .execute();
  }

  async listAuditEvents(workspaceId: string, q: AuditListQuery): Promise<AuditEvent[]> {
    let query = this.db
      .selectFrom('audit_events')
      .select([
        'workspace_id',
        'id',
        'actor_key_id',
        'actor_type',
        'action',
        'target_type',
        'target_id',
        'counts',
        'created_at',
      ])
      .where('workspace_id', '=', workspaceId);
    if (q.action !== undefined) query = query.where('action', '=', q.action);
    if (q.actorKeyId !== undefined) query = query.where('actor_key_id', '=', q.actorKeyId);
    if (q.targetType !== undefined) query = query.where('target_type', '=', q.targetType);
    if (q.targetId !== undefined) query = query.where('target_id', '=', q.targetId);
    if (q.createdAfter !== undefined) query = query.where('created_at', '>=', q.createdAfter);
    if (q.createdBefore !== undefined) query = query.where('created_at', '<', q.createdBefore);
    if (q.after !== undefined) query = query.where('id', q.order === 'desc' ? '<' : '>', q.after);
    const rows = await query.orderBy('id', q.order).limit(q.limit).execute();
    return rows.map(toAudit);
  }

  // ---- conversation event log -------------------------------------------------------------

  async appendConversationEvent(e: NewStoredEvent): Promise<number | null> {
    // The UPDATE takes the conversation's row lock (PostgreSQL) / the write lock (SQLite), so
    // seqs are handed out in commit order: seq n+1 cannot commit before seq n.
    const [bumped] = await nextEventSeq.execute(this.db, { ws: e.workspaceId, id: e.conversationId });
    if (!bumped) return null;
    const seq = num(bumped.event_seq ?? 0);
    await insertEvent.execute(this.db, {
      ws: e.workspaceId,
      conv: e.conversationId,
      seq,
      type: e.type,
      payload: e.payload,
      at: e.createdAt,
    });
    return seq;
  }

  async conversationEventSeq(workspaceId: string, conversationId: string): Promise<number | null> {
    const r = await this.db
      .selectFrom('conversations')
      .select('event_seq')
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', conversationId)
      .executeTakeFirst();
    return r ? num(r.event_seq ?? 0) : null;
  }

  async listConversationEvents(
    workspaceId: string,
    conversationId: string,
    q: { afterSeq: number; upTo?: number | undefined; limit: number },
  ): Promise<StoredEvent[]> {
    let query = this.db
      .selectFrom('conversation_events')
      .select(['workspace_id', 'conversation_id', 'seq', 'type', 'payload', 'created_at'])
      .where('workspace_id', '=', workspaceId)
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', q.afterSeq);
    if (q.upTo !== undefined) query = query.where('seq', '<=', q.upTo);
    const rows = await query.orderBy('seq').limit(q.limit).execute();
    return rows.map((r) => ({
      workspaceId: r.workspace_id,
      conversationId: r.conversation_id,
      seq: num(r.seq),
      type: r.type,
      payload: r.payload,
      createdAt: num(r.created_at),
    }));
  }

  // ---- instance ------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | null> {
    const r = await this.db.selectFrom('instance_meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('instance_meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }
}
