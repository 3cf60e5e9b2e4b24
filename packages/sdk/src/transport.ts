import { type ErrorDetail, ParleyConnectionError, ParleyError, ParleyTimeoutError } from './errors.js';
import type { CallOptions, ErrorCode, WriteOptions } from './types.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: FetchLike | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
  userAgent?: string | undefined;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** A body sent as it is (not JSON-encoded), with its media type. */
  raw?: { body: string | Uint8Array; contentType: string } | undefined;
  headers?: Record<string, string> | undefined;
}

export interface Answer<T> {
  data: T;
  status: number;
  requestId: string | undefined;
  headers: Headers;
}

const BASE_DELAY_MS = 500;
const MAX_BACKOFF_MS = 8_000;
/** Longest Retry-After honoured; a longer one ends the retries with the error instead. */
const MAX_RETRY_AFTER_MS = 60_000;
const FALLBACK_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'invalid_key',
  403: 'insufficient_permissions',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  502: 'service_unavailable',
  503: 'service_unavailable',
  504: 'service_unavailable',
};

export class Transport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  private readonly apiKey: string;
  private readonly fetchImpl: FetchLike;
  private readonly userAgent: string | undefined;

  constructor(opts: TransportOptions) {
    if (!opts.baseUrl) throw new TypeError('Parley: baseUrl is required');
    if (!opts.apiKey) throw new TypeError('Parley: apiKey is required');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    // bound: some runtimes' fetch refuses to be called as a method of another object
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxRetries = opts.maxRetries ?? 2;
    this.userAgent = opts.userAgent;
  }

  url(path: string, query?: Query): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) qs.set(k, String(v));
    const s = qs.toString();
    return `${this.baseUrl}${path}${s ? `?${s}` : ''}`;
  }

  headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: 'application/json' };
    // browsers refuse to let a page set User-Agent; send it only where asked
    if (this.userAgent !== undefined) h['user-agent'] = this.userAgent;
    return { ...h, ...extra };
  }

  /**
   * One logical call: attempts until an answer that is not worth retrying, at most 1 + maxRetries.
   * Writes carry one Idempotency-Key across all attempts, so a retried write happens once.
   */
  async request<T>(call: Call, opts: CallOptions & WriteOptions = {}): Promise<Answer<T>> {
    const signal = opts.signal;
    const maxRetries = opts.maxRetries ?? this.maxRetries;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const headers = this.headers(call.headers);
    if (call.method !== 'GET') headers['idempotency-key'] = opts.idempotencyKey ?? randomUuid();
    let body: string | Uint8Array | undefined;
    if (call.raw !== undefined) {
      body = call.raw.body;
      headers['content-type'] = call.raw.contentType;
    } else if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers['content-type'] = 'application/json';
    }
    const url = this.url(call.path, call.query);
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let failure: Error;
      let retryAfterMs: number | undefined;
      try {
        const res = await this.attempt(
          url,
          { method: call.method, headers, body: body as RequestInit['body'] },
          timeoutMs,
          signal,
        );
        const requestId = res.headers.get('x-request-id') ?? undefined;
        const text = await res.text();
        if (res.ok) {
          const data = (text.length > 0 ? JSON.parse(text) : undefined) as T;
          return { data, status: res.status, requestId, headers: res.headers };
        }
        const err = toParleyError(res, text, requestId);
        if (!retryable(err)) throw err;
        failure = err;
        if (err.retryAfter !== undefined) retryAfterMs = err.retryAfter * 1000;
      } catch (err) {
        if (err instanceof ParleyError || signal?.aborted) throw err;
        failure = err instanceof ParleyConnectionError ? err : connectionError(err);
      }
      if (attempt >= maxRetries || (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS)) throw failure;
      // full jitter: a random wait up to an exponentially growing cap, unless the server said when
      const backoff = Math.random() * Math.min(MAX_BACKOFF_MS, BASE_DELAY_MS * 2 ** attempt);
      await sleep(retryAfterMs ?? backoff, signal);
    }
  }

  /**
   * One fetch with its own timeout, also ended by the caller's signal. The body is read under the
   * same deadline and handed back buffered, unless `stream` (the deadline then covers the headers).
   * A network failure is a ParleyConnectionError (its cause the runtime's error).
   */
  async attempt(
    url: string,
    init: RequestInit,
    timeoutMs: number,
    signal?: AbortSignal,
    stream = false,
  ): Promise<Response> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new ParleyTimeoutError(timeoutMs)), timeoutMs);
    try {
      const res = await this.fetchImpl(url, {
        ...init,
        signal: signal ? AbortSignal.any([signal, timer.signal]) : timer.signal,
      });
      if (stream) return res;
      const text = await res.text();
      return new Response(res.status === 204 || res.status === 304 ? null : text, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timer.signal.aborted && timer.signal.reason instanceof ParleyTimeoutError) throw timer.signal.reason;
      // typed for every caller, those that send once (streamed bodies, downloads) included
      throw err instanceof ParleyConnectionError ? err : connectionError(err);
    } finally {
      clearTimeout(timeout);
    }
  }
}

function retryable(e: ParleyError): boolean {
  return e.status === 429 || e.status === 503 || e.code === 'idempotency_in_progress';
}

function connectionError(err: unknown): ParleyConnectionError {
  const message = err instanceof Error ? err.message : String(err);
  return new ParleyConnectionError(`Request failed: ${message}`, { cause: err });
}

export function toParleyError(res: Response, text: string, requestId: string | undefined): ParleyError {
  const header = res.headers.get('retry-after');
  const seconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
  let error: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (parsed && typeof parsed.error === 'object' && parsed.error !== null) {
      error = parsed.error as Record<string, unknown>;
    }
  } catch {
    // not our shape (a proxy's HTML page): the status decides the code
  }
  const code = (
    typeof error?.code === 'string' ? error.code : (FALLBACK_CODES[res.status] ?? 'internal_error')
  ) as ErrorCode;
  return new ParleyError({
    code,
    status: res.status,
    message: typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`,
    requestId: (typeof error?.request_id === 'string' ? error.request_id : undefined) ?? requestId,
    details: Array.isArray(error?.details) ? (error.details as ErrorDetail[]) : undefined,
    retryAfter: seconds,
    body: error,
  });
}

/**
 * A random UUID v4. Browsers offer crypto.randomUUID only in secure contexts (https, localhost), so a
 * page served over plain http from another host builds one from crypto.getRandomValues, which they
 * always offer.
 */
export function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Waits ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
