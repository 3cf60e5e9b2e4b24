import { Type } from 'typebox';
import type { Conversation } from '../../domain/types.js';
import { ParleyError, validation } from '../../errors.js';
import { requireAuth } from '../../http/credentials.js';
import type { App, AppDeps } from '../../http/types.js';
import { runWrite } from '../../http/write.js';
import { errors, finiBody } from './errors.js';
import { event, str, summary, uuidOf } from './presenters.js';
import {
  BulkBody,
  FINI_DEFAULT_WINDOW,
  FINI_MAX_WINDOW,
  FINI_SCAN_LIMIT,
  FINI_SOURCES,
  IdParams,
  ListQuery,
  Nullable,
  PublicConversation,
  SuccessAnswer,
  SummarySchema,
} from './schemas.js';

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

export function routes(app: App, deps: AppDeps): void {
  const svc = deps.conversations;

  app.delete(
    '/:id/public',
    {
      config: { scope: 'write:ai' },
      schema: {
        summary: 'Delete one conversation: 200 {"success":true}, also for unknown or foreign ids',
        params: IdParams,
        response: { 200: SuccessAnswer, ...errors(400) },
      },
    },
    async (req, reply) => {
      try {
        return await runWrite(req, reply, {
          status: 200,
          write: (inTx) => svc.delete(requireAuth(req), req.params.id, inTx),
          present: () => ({ success: true }),
        });
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
        summary: 'Delete 1–50 conversations by id, all or none: 406 (nothing deleted) when any is not found',
        body: BulkBody,
        response: { 200: SuccessAnswer, ...errors(400, 406, 409, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      try {
        return await runWrite(req, reply, {
          status: 200,
          write: (inTx) => deps.compat.deleteMany(requireAuth(req), req.body.ids, inTx),
          present: () => ({ success: true }),
        });
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
