import { STATUS_CODES } from 'node:http';
import { type TSchema, Type } from 'typebox';
import type { Conversation, Message, Role } from '../../domain/types.js';
import { ParleyError, validation } from '../../errors.js';
import { refuseWrongMethod } from '../../http/allowed-methods.js';
import { type App, type AppDeps, requireAuth, runWrite } from '../../http/route-kit.js';
import { Closed, OneOf } from '../../http/schemas.js';
import { ulidToUuid } from '../../ids.js';
import { publicMessage, useErrorShape } from '../common.js';

/**
 * Fini public conversations API (delete from its seed page; bulk delete, list and get from its sibling
 * pages). Fini scopes `read` / `write` are Parley's `read:ai` / `write:ai`.
 */
const TAGS = ['Fini'];
const DAY = 86_400_000;
export const FINI_DEFAULT_WINDOW = 7 * DAY;
export const FINI_MAX_WINDOW = 90 * DAY;
/** How many conversations one list request may look through for source/channel filters. */
export const FINI_SCAN_LIMIT = 1000;
export const FINI_SOURCES = [
  'api',
  'widget',
  'ui',
  'standalone',
  'testsuite',
  'replay',
  'zendesk',
  'intercom',
  'front',
  'hubspot',
  'salesforce',
  'gorgias',
  'livechat',
  'slack',
  'discord',
  'freshdesk',
  'freshchat',
] as const;

/** NestJS's HttpException body, which Fini's pages show for 401 and 403. */
export const FiniError = Type.Object({
  statusCode: Type.Integer(),
  message: Type.String(),
  error: Type.String(),
});
const errors = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries([...statuses, 401, 403, 429, 500].map((s) => [s, FiniError]));

export function finiBody(status: number, message: string) {
  return { statusCode: status, message, error: STATUS_CODES[status] ?? 'Error' };
}

function finiMessage(e: ParleyError): string {
  if (e.code === 'invalid_key') return 'Invalid or revoked API key';
  if (e.code === 'insufficient_permissions') return 'API key does not have the required scope for this operation';
  return publicMessage(e);
}

const uuidOf = (prefixed: string): string => ulidToUuid(prefixed.slice(prefixed.indexOf('_') + 1));

const FINI_ROLE: Record<Role, string> = { user: 'user', assistant: 'finibot', system: 'system', tool: 'tool' };

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function summary(c: Conversation) {
  const attrs = c.metadata.userAttributes;
  return {
    id: uuidOf(c.id),
    createdAt: c.createdAt,
    source: str(c.metadata.source) ?? 'api',
    channel: str(c.metadata.channel),
    status: c.archived ? 'archived' : 'open',
    externalId: str(c.metadata.externalId),
    url: str(c.metadata.url),
    subjectPreview: c.title,
    hasFeedback: false,
    resolved: c.metadata.resolved === true,
    userAttributes: attrs !== null && typeof attrs === 'object' && !Array.isArray(attrs) ? attrs : {},
    usedArticles: [] as unknown[],
    usedSubfolders: [] as unknown[],
  };
}

function event(m: Message) {
  return {
    id: uuidOf(m.id),
    createdAt: m.createdAt,
    role: FINI_ROLE[m.role],
    type: 'message' as const,
    message: m.content,
    externalId: str(m.metadata.externalId),
    externalCreatedAt: typeof m.metadata.externalCreatedAt === 'number' ? m.metadata.externalCreatedAt : null,
    csatRating: null,
    feedback: null,
    approved: null,
    resolved: null,
    attachments: [] as unknown[],
    tags: [] as unknown[],
    usedArticles: [] as unknown[],
  };
}

const Nullable = (t: TSchema) => Type.Union([t, Type.Null()]);
const SummarySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: Type.Integer({ description: 'Epoch milliseconds' }),
  source: Type.String(),
  channel: Nullable(Type.String()),
  status: Type.String(),
  externalId: Nullable(Type.String()),
  url: Nullable(Type.String()),
  subjectPreview: Nullable(Type.String()),
  hasFeedback: Type.Boolean(),
  resolved: Type.Boolean(),
  userAttributes: Type.Record(Type.String(), Type.Unknown()),
  usedArticles: Type.Array(Type.Unknown()),
  usedSubfolders: Type.Array(Type.Unknown()),
});
const EventSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.Integer(),
  role: Type.String({ description: 'user, finibot (assistant), system or tool' }),
  type: Type.Literal('message'),
  message: Type.String(),
  externalId: Nullable(Type.String()),
  externalCreatedAt: Nullable(Type.Integer()),
  csatRating: Type.Null(),
  feedback: Type.Null(),
  approved: Type.Null(),
  resolved: Type.Null(),
  attachments: Type.Array(Type.Unknown()),
  tags: Type.Array(Type.Unknown()),
  usedArticles: Type.Array(Type.Unknown()),
});
const PublicConversation = Type.Object({ ...SummarySchema.properties, events: Type.Array(EventSchema) });

const IdParams = Closed({ id: Type.String({ minLength: 1, maxLength: 255 }) });
const CsvList = Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 50, description: 'CSV or repeated' });
const ListQuery = Closed({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms; default until − 7 days' })),
  until: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms; default now' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'A conversation id' })),
  direction: Type.Optional(OneOf(['next', 'previous'], { description: 'next = older, previous = newer' })),
  botId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  source: Type.Optional(CsvList),
  channel: Type.Optional(CsvList),
});
const BulkBody = Closed({
  ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 50, uniqueItems: true }),
});

const csv = (values: string[] | undefined): Set<string> | null => {
  if (!values) return null;
  const out = new Set(
    values
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean),
  );
  return out.size > 0 ? out : null;
};

export function registerFini(app: App, deps: AppDeps): void {
  app.register(
    async (scope) => {
      const r = scope as unknown as App;
      useErrorShape(r, (e) => ({ body: finiBody(e.status, finiMessage(e)) }));
      r.setNotFoundHandler(async (req, reply) => {
        refuseWrongMethod(req);
        reply.code(404);
        return finiBody(404, `Cannot ${req.method} ${req.url.split('?')[0]}`);
      });
      routes(r, deps);
    },
    { prefix: '/v2/hc-interactions' },
  );
}

function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  app.delete(
    '/:id/public',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'Delete one conversation: 200 {"success":true}, also for unknown or foreign ids',
        params: IdParams,
        response: { 200: Type.Object({ success: Type.Boolean() }), ...errors(400) },
      },
    },
    async (req, reply) => {
      try {
        return await runWrite(
          req,
          reply,
          deps,
          200,
          (inTx) => svc.delete(requireAuth(req), req.params.id, inTx),
          () => ({ success: true }),
        );
      } catch (err) {
        // Fini's documented quirk: an id that matched nothing (or another workspace's) still succeeds
        if (err instanceof ParleyError && err.code === 'not_found') return { success: true };
        throw err;
      }
    },
  );

  app.delete(
    '/public',
    {
      config: { scope: 'write:ai' },
      schema: {
        tags: TAGS,
        summary: 'Delete 1–50 conversations by id, all or none: 406 (nothing deleted) when any is not found',
        body: BulkBody,
        response: { 200: Type.Object({ success: Type.Boolean() }), ...errors(400, 406, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      try {
        return await runWrite(
          req,
          reply,
          deps,
          200,
          (inTx) => deps.compat.deleteMany(requireAuth(req), req.body.ids, inTx),
          () => ({ success: true }),
        );
      } catch (err) {
        if (err instanceof ParleyError && err.code === 'not_found') {
          (reply as unknown as { code(n: number): void }).code(406);
          return finiBody(406, 'Some interactions were not found; nothing was deleted') as never;
        }
        throw err;
      }
    },
  );

  app.get(
    '/public',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'List conversations newest first by last activity; cursor pages (next = older)',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            interactions: Type.Array(SummarySchema),
            hasMore: Type.Boolean(),
            nextCursor: Nullable(Type.String()),
            prevCursor: Nullable(Type.String()),
          }),
          ...errors(400),
        },
      },
    },
    async (req) => {
      const auth = requireAuth(req);
      const q = req.query;
      const until = q.until ?? deps.clock.now();
      const since = q.since ?? until - FINI_DEFAULT_WINDOW;
      if (since >= until) throw validation('/query/since', 'since must be before until');
      if (until - since > FINI_MAX_WINDOW)
        throw validation('/query/since', 'the since–until window is at most 90 days');
      const sources = csv(q.source);
      const channels = csv(q.channel);
      for (const s of sources ?? []) {
        if (!(FINI_SOURCES as readonly string[]).includes(s)) throw validation('/query/source', `unknown source ${s}`);
      }
      const limit = q.limit ?? 50;
      const older = (q.direction ?? 'next') === 'next';
      const matches = (c: Conversation) =>
        (sources === null || sources.has(summary(c).source)) &&
        (channels === null || channels.has(str(c.metadata.channel) ?? ''));
      const window = { botId: q.botId, updatedAfter: since, updatedBefore: until, orderBy: 'updated_at' as const };
      const order = older ? ('desc' as const) : ('asc' as const);

      // walk from the cursor in the asked direction, keeping the matches
      const found: Conversation[] = [];
      let last = q.cursor;
      let scanned = 0;
      let exhausted = false;
      const filtering = sources !== null || channels !== null;
      while (found.length <= limit && !exhausted && (scanned === 0 || (filtering && scanned < FINI_SCAN_LIMIT))) {
        const want = filtering ? 100 : limit + 1;
        const batch = await deps.compat.listFrom(auth, { ...window, order, anchor: last, limit: want });
        for (const c of batch) {
          scanned++;
          last = c.id;
          if (matches(c)) found.push(c);
          if (found.length > limit) break;
        }
        if (batch.length < want && found.length <= limit) exhausted = true;
      }
      const page = found.slice(0, limit);
      const hasMore = found.length > limit || !exhausted;
      // the far edge: where the next page in this direction starts
      const far = found.length > limit ? page[page.length - 1]?.id : hasMore ? last : undefined;
      // the near edge: is there anything on the other side of where this page starts?
      const nearAnchor = page[0]?.id ?? q.cursor;
      const behind =
        nearAnchor !== undefined &&
        (await deps.compat.listFrom(auth, { ...window, order: older ? 'asc' : 'desc', anchor: nearAnchor, limit: 1 }))
          .length > 0;
      const near = behind && nearAnchor !== undefined ? nearAnchor : undefined;
      const newestFirst = older ? page : [...page].reverse();
      const cursorOf = (id: string | undefined) => (id === undefined ? null : uuidOf(id));
      return {
        interactions: newestFirst.map(summary),
        hasMore,
        nextCursor: cursorOf(older ? far : near),
        prevCursor: cursorOf(older ? near : far),
      };
    },
  );

  app.get(
    '/:id/public',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags: TAGS,
        summary: 'Get one conversation with its events (unknown id: 404, where Fini answers 500)',
        params: IdParams,
        response: { 200: PublicConversation, ...errors(400, 404) },
      },
    },
    async (req) => {
      const d = await svc.get(requireAuth(req), req.params.id, { limit: 1000, order: 'asc' });
      return { ...summary(d.conversation), events: d.messages.map(event) };
    },
  );
}
