import { ParleyConnectionError } from './errors.js';
import { type Transport, toParleyError } from './transport.js';
import type { CallOptions, QueryOf, ResultOf } from './types.js';

const enc = encodeURIComponent;
type Q = Record<string, string | number | boolean | null | undefined>;

export type ExportFormat = 'jsonl' | 'json' | 'markdown';
export type ExportQuery = QueryOf<'/v1/export', 'get'>;
export type ImportReport = ResultOf<'/v1/import', 'post'>['data'];

/** One line of a JSONL export: `type` says which record it is (see the README's Export and import). */
export type ExportRecord =
  | { type: 'export'; format: 'parley.export'; version: number; exported_at: string }
  | ({ type: 'conversation' } & Record<string, unknown>)
  | ({ type: 'message' } & Record<string, unknown>)
  | ({ type: 'tool_invocation' } & Record<string, unknown>)
  | { type: 'end'; conversations: number; messages: number; tool_invocations: number };

/** A streamed export as the server sends it. */
export interface ExportDownload {
  /** The bytes as they arrive; read it (or cancel it) to free the connection. */
  body: ReadableStream<Uint8Array>;
  /** The file name the server proposes (Content-Disposition). */
  filename: string | null;
  contentType: string;
  requestId: string | undefined;
}

/**
 * What an import reads: JSONL text or bytes, a stream of JSONL bytes (a file as it is read), or
 * records (export records or chats) sent one line each.
 */
export type ImportInput = string | Uint8Array | ReadableStream<Uint8Array> | Iterable<object> | AsyncIterable<object>;

function filenameOf(header: string | null): string | null {
  if (header === null) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) return decodeURIComponent(star[1]);
  return /filename="([^"]*)"/i.exec(header)?.[1] ?? null;
}

/**
 * Exports, streamed: `conversation` / `workspace` hand back the body as it arrives; `records` /
 * `conversationRecords` parse a JSONL export line by line (constant memory), and throw a
 * ParleyConnectionError when the stream ends without its closing `end` line (it was cut).
 */
export class Exports {
  constructor(private readonly t: Transport) {}

  /** One conversation (`format`: jsonl by default, json, markdown). */
  conversation(id: string, params: { format?: ExportFormat } = {}, opts: CallOptions = {}) {
    return this.download(`/v1/conversations/${enc(id)}/export`, params, opts);
  }

  /** The workspace's conversations, or those the filters select (`user_id`, `bot_id`, `archived`, times…). */
  workspace(params: ExportQuery = {}, opts: CallOptions = {}) {
    return this.download('/v1/export', params, opts);
  }

  /** The JSONL file an erase with `exportFirst` wrote before erasing (404 before it is written and after it expires). */
  eraseExport(jobId: string, opts: CallOptions = {}) {
    return this.download(`/v1/jobs/${enc(jobId)}/export`, {}, opts);
  }

  /** Every record of an erase job's export file. */
  eraseExportRecords(jobId: string, opts: CallOptions = {}): AsyncGenerator<ExportRecord> {
    return this.parse(() => this.eraseExport(jobId, opts));
  }

  /** Every record of a JSONL export of the workspace (with the filters). */
  records(params: Omit<ExportQuery, 'format'> = {}, opts: CallOptions = {}): AsyncGenerator<ExportRecord> {
    return this.parse(() => this.workspace({ ...params, format: 'jsonl' }, opts));
  }

  /** Every record of one conversation's JSONL export. */
  conversationRecords(id: string, opts: CallOptions = {}): AsyncGenerator<ExportRecord> {
    return this.parse(() => this.conversation(id, { format: 'jsonl' }, opts));
  }

  private async download(path: string, params: object, opts: CallOptions): Promise<ExportDownload> {
    const url = this.t.url(path, params as Q);
    const res = await this.t.attempt(
      url,
      { method: 'GET', headers: this.t.headers({ accept: '*/*' }) },
      opts.timeoutMs ?? this.t.timeoutMs,
      opts.signal,
      true,
    );
    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (!res.ok || res.body === null) throw toParleyError(res, await res.text(), requestId);
    return {
      body: res.body,
      filename: filenameOf(res.headers.get('content-disposition')),
      contentType: res.headers.get('content-type') ?? '',
      requestId,
    };
  }

  private async *parse(open: () => Promise<ExportDownload>): AsyncGenerator<ExportRecord> {
    const d = await open();
    const reader = d.body.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    let ended = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
        let at = 0;
        for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n', at)) {
          const line = rest.slice(at, nl);
          at = nl + 1;
          if (line.length > 0) {
            const record = JSON.parse(line) as ExportRecord;
            if (record.type === 'end') ended = true;
            yield record;
          }
        }
        rest = rest.slice(at);
      }
    } catch (err) {
      throw err instanceof SyntaxError ? err : new ParleyConnectionError('The export stream was cut', { cause: err });
    } finally {
      reader.releaseLock();
    }
    if (!ended) throw new ParleyConnectionError('The export stream ended without its end line: it was cut');
  }
}

/** Imports: JSONL in the export format, or OpenAI-style chats. Idempotent, so retries are safe. */
export class Imports {
  constructor(private readonly t: Transport) {}

  /**
   * Sends the lines and answers the report. Text and bytes are sent as they are (and retried like
   * any call: the import skips what exists); a byte stream is sent as it is read, and records one
   * JSON line each, as a stream, once.
   */
  async send(input: ImportInput, opts: CallOptions = {}): Promise<ImportReport> {
    if (typeof input === 'string' || input instanceof Uint8Array) {
      const r = await this.t.request<ResultOf<'/v1/import', 'post'>>(
        { method: 'POST', path: '/v1/import', raw: { body: input, contentType: 'application/x-ndjson' } },
        opts,
      );
      return r.data.data;
    }
    if (input instanceof ReadableStream) return this.stream(input, opts);
    const encoder = new TextEncoder();
    const iterator =
      Symbol.asyncIterator in input
        ? (input as AsyncIterable<object>)[Symbol.asyncIterator]()
        : (input as Iterable<object>)[Symbol.iterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const next = await iterator.next();
        if (next.done) c.close();
        else c.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    return this.stream(body, opts);
  }

  /** One attempt (a stream cannot be sent twice) with the body sent as it is read. */
  private async stream(body: ReadableStream<Uint8Array>, opts: CallOptions): Promise<ImportReport> {
    const res = await this.t.attempt(
      this.t.url('/v1/import'),
      {
        method: 'POST',
        headers: this.t.headers({ 'content-type': 'application/x-ndjson' }),
        body,
        duplex: 'half',
      } as RequestInit,
      opts.timeoutMs ?? this.t.timeoutMs,
      opts.signal,
    );
    const text = await res.text();
    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (!res.ok) throw toParleyError(res, text, requestId);
    return (JSON.parse(text) as ResultOf<'/v1/import', 'post'>).data;
  }
}
