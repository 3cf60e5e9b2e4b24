import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { ParleyError } from '../../errors.js';
import { ExportService, type OpenedExport } from '../../services/export.js';
import { IdempotencyService } from '../../services/idempotency.js';
import { type ImportLine, ImportService } from '../../services/import.js';
import { transferStore } from '../../services/transfer-store.js';
import { sqlitePath } from '../../store/sqlite/index.js';
import { findBadText } from '../bad-text.js';
import { requireAuth } from '../credentials.js';
import { EXPORT_MEDIA, type ExportFormat, renderExport, writerFor } from '../export-formats.js';
import { ExportPool } from '../export-pool.js';
import { parseImportLine, parseImportValue, parseStrictJson } from '../import-records.js';
import { readLines } from '../line-reader.js';
import { AUTHED_ERRORS, Closed, ConversationParams, errorResponses, OneOf, WRITE_ERRORS } from '../schemas.js';
import type { App, AppDeps } from '../types.js';

const tags = ['Export and import'];
const ms = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso));

/** The longest line an import accepts (one record: a conversation, a message, or a chat with its messages). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Media types an import body may be sent as, read line by line. */
export const JSONL_TYPES = [
  'application/x-ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
];

const Format = OneOf(['jsonl', 'json', 'markdown'], {
  description:
    'jsonl (default): typed lines, one record each, that POST /v1/import reads back; json: one document; markdown: a transcript to read',
});
const Timestamp = Type.String({ format: 'date-time' });
const ExportQuery = Closed({
  format: Type.Optional(Format),
  user_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Only this user’s conversations; a key bound to a user exports only its own',
    }),
  ),
  bot_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  contact_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  deal_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  matter_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  archived: Type.Optional(
    OneOf(['true', 'false', 'only'], {
      description: 'true (default): archived ones too; false: without them; only: just them',
    }),
  ),
  created_after: Type.Optional(Timestamp),
  created_before: Type.Optional(Timestamp),
  updated_after: Type.Optional(Timestamp),
  updated_before: Type.Optional(Timestamp),
});

/** The streamed answer, documented per media type (the body is never serialized from a schema). */
const EXAMPLE_JSONL = [
  '{"type":"export","format":"parley.export","version":1,"exported_at":"2026-01-15T10:00:00.000Z"}',
  '{"type":"conversation","id":"conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA","title":"Refund for order 1042","title_source":"user","user_id":"user_42","bot_id":"support-bot","context":{"contact_id":"contact_7"},"metadata":{},"archived":false,"message_count":1,"tool_invocation_count":0,"last_message_at":"2026-01-15T09:30:00.000Z","created_at":"2026-01-15T09:30:00.000Z","updated_at":"2026-01-15T09:30:00.000Z"}',
  '{"type":"message","id":"msg_01KF0Z8J1R5Q0V7M4T2B9XW3NB","conversation_id":"conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA","role":"user","content":"Can I get a refund for order 1042?","metadata":{},"created_at":"2026-01-15T09:30:00.000Z"}',
  '{"type":"end","conversations":1,"messages":1,"tool_invocations":0}',
].join('\n');

const exportResponse = {
  description:
    'The export, streamed. A failure after the first byte cuts the connection: a whole JSONL export ends with its {"type":"end"} line, a whole JSON one is valid JSON.',
  content: {
    'application/x-ndjson': {
      schema: { type: 'string', description: 'JSONL: one typed record per line (README, Export and import)' },
      example: `${EXAMPLE_JSONL}\n`,
    },
    'application/json': { schema: { type: 'string', description: 'One JSON document' } },
    'text/markdown': { schema: { type: 'string', description: 'A transcript' } },
  },
};

const Tally = Type.Object({ created: Type.Integer(), skipped: Type.Integer(), failed: Type.Integer() });
const ImportReportSchema = Type.Object({
  data: Type.Object({
    lines: Type.Integer({ description: 'Non-blank lines read' }),
    conversations: Tally,
    messages: Tally,
    tool_invocations: Tally,
    errors: Type.Integer(),
    results: Type.Array(
      Type.Object({
        line: Type.Integer(),
        type: Type.String({ description: 'conversation, chat, message, tool_invocation, or what the line claimed' }),
        status: OneOf(['created', 'skipped', 'error']),
        id: Type.Optional(Type.String({ description: 'The conversation’s id in this workspace' })),
        error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
      }),
      {
        description:
          'One entry per conversation or chat line and per line in error (message and tool invocation lines that went well are only counted), at most 10,000',
      },
    ),
    results_truncated: Type.Boolean(),
  }),
});

/** What the body parsers hand the import route: its lines, kept off the enumerable body so the generic body checks skip it. */
class ImportBody {
  readonly #lines: () => AsyncIterable<ImportLine>;
  constructor(lines: () => AsyncIterable<ImportLine>) {
    this.#lines = lines;
  }
  lines(): AsyncIterable<ImportLine> {
    return this.#lines();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function registerTransferRoutes(app: App, deps: AppDeps): void {
  const store = transferStore(deps.store);
  const exporter = new ExportService(store, deps.clock, deps.logger.child({ subsystem: 'export' }));
  const importer = new ImportService(store, deps.clock, deps.logger.child({ subsystem: 'import' }));

  // SQLite (a file) with PARLEY_EXPORT_WORKERS > 0: exports are read and rendered by worker threads
  // with their own read-only connections (off by default: it did not pay on a shared 2-core machine)
  const sqliteFile = deps.store.engine === 'sqlite' ? sqlitePath(deps.config.database.url) : null;
  const pool =
    sqliteFile !== null && sqliteFile !== ':memory:' && deps.config.database.exportWorkers > 0
      ? new ExportPool({
          file: sqliteFile,
          workers: deps.config.database.exportWorkers,
          youngGenerationMb: 16,
          logger: deps.logger.child({ subsystem: 'export' }),
        })
      : null;
  if (pool !== null) app.addHook('onClose', () => pool.close());

  /** The pool, started; null when there is none or it cannot start (the export then runs here). */
  const startedPool = async (): Promise<ExportPool | null> => {
    if (pool === null) return null;
    try {
      await pool.start();
      return pool;
    } catch (err) {
      deps.logger.warn(
        { err, subsystem: 'export' },
        'the export workers could not start; exporting on the main thread',
      );
      return null;
    }
  };

  const send = async (reply: FastifyReply, opened: OpenedExport, format: ExportFormat, filename: string) => {
    const media = EXPORT_MEDIA[format];
    const exportedAt = new Date(deps.clock.now()).toISOString();
    const workers = await startedPool();
    // what the response still holds of the chunks handed to it (the stream's buffer, then the
    // response's and the socket's): the chunk buffers are reused once it has let them go
    const pending = () => stream.readableLength + reply.raw.writableLength;
    const body =
      workers !== null
        ? workers.render(opened, format, exportedAt, format === 'jsonl')
        : renderExport(opened.items, writerFor(format), exportedAt, pending);
    const stream = Readable.from(body, { objectMode: false });
    reply.header('Content-Type', media.contentType);
    reply.header('Content-Disposition', contentDisposition(`${filename}.${media.extension}`));
    reply.header('Cache-Control', 'no-store');
    return reply.send(stream);
  };

  app.get(
    '/v1/conversations/:id/export',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags,
        summary: 'Export one conversation with its messages and tool invocations',
        description:
          'Streamed as it is read. Content-Disposition names a file; each export is recorded in the audit log (action conversations.exported, counts only).',
        params: ConversationParams,
        querystring: Closed({ format: Type.Optional(Format) }),
        response: { 200: exportResponse, ...errorResponses(...AUTHED_ERRORS, 'not_found') } as Record<number, TSchema>,
      },
    },
    async (req, reply) => {
      const format = req.query.format ?? 'jsonl';
      const opened = await exporter.openConversation(requireAuth(req), req.params.id, {
        interleave: format === 'markdown',
        format,
        lines: format === 'jsonl',
      });
      return send(reply, opened, format, `parley-${opened.target.id}`);
    },
  );

  app.get(
    '/v1/export',
    {
      config: { scope: 'read:ai' },
      schema: {
        tags,
        summary: 'Export the workspace’s conversations, or a user’s, or those the list filters select',
        description:
          'Oldest first (by created_at), each with its messages and tool invocations, streamed from keyset pages: ' +
          'memory stays flat whatever the size. Archived conversations are included unless archived=false. A key ' +
          'bound to a user exports only that user’s conversations. Not a point-in-time snapshot: each page is read ' +
          'when the client has taken the previous one. Recorded in the audit log (conversations.exported).',
        querystring: ExportQuery,
        response: { 200: exportResponse, ...errorResponses(...AUTHED_ERRORS) } as Record<number, TSchema>,
      },
    },
    async (req, reply) => {
      const q = req.query;
      const format = q.format ?? 'jsonl';
      const auth = requireAuth(req);
      const opened = await exporter.openMany(
        auth,
        {
          userId: q.user_id,
          botId: q.bot_id,
          contactId: q.contact_id,
          dealId: q.deal_id,
          matterId: q.matter_id,
          archived: q.archived,
          createdAfter: ms(q.created_after),
          createdBefore: ms(q.created_before),
          updatedAfter: ms(q.updated_after),
          updatedBefore: ms(q.updated_before),
        },
        { interleave: format === 'markdown', format, lines: format === 'jsonl' },
      );
      const stamp = new Date(deps.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, 'Z');
      const who = opened.target.type === 'user' ? `user-${opened.target.id}` : auth.workspaceId;
      return send(reply, opened, format, `parley-export-${who}-${stamp}`);
    },
  );

  // the import reads its own bodies: JSONL as a stream of lines, JSON (an array of lines) whole
  app.register(async (scope) => {
    const routes = scope as unknown as App;
    const limit = deps.config.http.importBodyLimit;
    routes.addContentTypeParser(JSONL_TYPES, (req: FastifyRequest, payload: NodeJS.ReadableStream, done) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        done(new ParleyError('payload_too_large', `The import body is larger than the ${limit}-byte limit`), undefined);
        return;
      }
      const source = payload as unknown as AsyncIterable<Buffer>;
      done(
        null,
        new ImportBody(async function* () {
          for await (const l of readLines(source, { maxBytes: limit, maxLineBytes: MAX_LINE_BYTES })) {
            if ('text' in l) yield parseImportLine(l.text, l.line);
            else if (l.error === 'too_long') {
              yield {
                line: l.line,
                kind: 'invalid',
                code: 'payload_too_large',
                message: `The line is longer than ${MAX_LINE_BYTES} bytes`,
              };
            } else
              yield { line: l.line, kind: 'invalid', code: 'invalid_json', message: 'The line is not valid UTF-8' };
          }
        }),
      );
    });
    routes.removeContentTypeParser('application/json');
    // a JSON body is checked as every JSON body is (charset, UTF-8, prototype keys, NUL, unsafe
    // numbers: 4xx for the whole request); its records are then checked one by one like lines
    routes.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: deps.config.http.bodyLimit },
      (req: FastifyRequest, body: Buffer | string, done) => {
        const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
        if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
          done(
            new ParleyError('unsupported_media_type', `Only UTF-8 JSON is accepted (got charset=${charset})`),
            undefined,
          );
          return;
        }
        let value: unknown;
        try {
          value = parseStrictJson(utf8.decode(body as Buffer));
        } catch {
          done(new ParleyError('invalid_json', 'The request body is not valid JSON (or not UTF-8)'), undefined);
          return;
        }
        const bad = findBadText(value, '/body');
        if (bad) {
          done(new ParleyError('validation_failed', `${bad.field} ${bad.message}`, { details: [bad] }), undefined);
          return;
        }
        const items = Array.isArray(value) ? value : [value];
        if (!items.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
          const message = 'must be an array of records (export records or chats), each a JSON object';
          done(
            new ParleyError('validation_failed', `/body ${message}`, { details: [{ field: '/body', message }] }),
            undefined,
          );
          return;
        }
        done(
          null,
          new ImportBody(async function* () {
            for (let i = 0; i < items.length; i++) yield parseImportValue(items[i], i + 1);
          }),
        );
      },
    );

    routes.post(
      '/v1/import',
      {
        config: { scope: 'write:ai' },
        // the import is idempotent by what it holds (see ImportService): an Idempotency-Key adds nothing,
        // and its fingerprint could not cover a body that is read after the key is claimed
        onRequest: (req, _reply, done) => {
          const key = req.headers['idempotency-key'];
          if (key !== undefined) {
            // a malformed key is still refused, as on every write
            IdempotencyService.validateKey(Array.isArray(key) ? (key[0] ?? '') : key);
            delete req.headers['idempotency-key'];
          }
          done();
        },
        schema: {
          tags,
          summary: 'Import conversations: export JSONL, or OpenAI-style chats; idempotent, with a report per line',
          description:
            'Send JSONL (Content-Type application/x-ndjson or application/jsonl; up to PARLEY_IMPORT_BODY_LIMIT bytes, ' +
            'read line by line) or a JSON array of the same records (up to PARLEY_BODY_LIMIT). A line is a record of ' +
            'GET /v1/export?format=jsonl, or a chat: {"messages":[{"role":"user","content":"…"}],"title"?,"user_id"?,' +
            '"bot_id"?,"external_id"?,"metadata"?,"context"?}. Written in transactions of at most 500 lines. Nothing ' +
            'that exists is changed: a conversation, message or tool invocation already here is skipped, so the same ' +
            'file twice creates nothing the second time. Ids are kept where they are free in this workspace; a chat ' +
            'gets an id derived from its external_id (else its content) and its user. A line in error is reported and ' +
            'the others go on; the answer is 200 with the report. Idempotency-Key is ignored. Recorded in the audit ' +
            'log (conversations.imported, counts only).',
          body: {
            content: {
              // no type: the parsers above hand the route its lines, which these schemas only describe
              'application/x-ndjson': {
                schema: { description: 'One record per line (a string of JSON lines)' },
                example: `${EXAMPLE_JSONL}\n{"messages":[{"role":"user","content":"Hello"},{"role":"assistant","content":"Hi!"}],"external_id":"thread-9"}\n`,
              },
              'application/json': {
                schema: { description: 'An array of the same records' },
                example: [
                  {
                    messages: [
                      { role: 'user', content: 'Hello' },
                      { role: 'assistant', content: 'Hi!' },
                    ],
                    external_id: 'thread-9',
                    user_id: 'user_42',
                  },
                ],
              },
            },
          } as unknown as TSchema,
          response: { 200: ImportReportSchema, ...errorResponses(...WRITE_ERRORS) },
        },
      },
      async (req) => {
        const auth = requireAuth(req);
        const body = req.body as unknown;
        if (!(body instanceof ImportBody)) {
          throw new ParleyError(
            'unsupported_media_type',
            'Send the import as JSONL (Content-Type: application/x-ndjson) or as a JSON array (application/json)',
          );
        }
        return { data: await importer.run(auth, body.lines()) };
      },
    );
  });
}
