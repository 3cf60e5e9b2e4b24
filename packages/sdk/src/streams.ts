import { ParleyConnectionError } from './errors.js';
import { sleep, type Transport, toParleyError } from './transport.js';
import type { BodyOf, CallOptions, Conversation, Message, ResultOf, ToolInvocation, WriteOptions } from './types.js';

// The frames of docs/realtime.md. The SSE endpoint's events are not described by the OpenAPI
// document (it only has the error answers), so their envelope is written here once.
export type StreamEvent = { seq: number; created_at: string } & (
  | { type: 'message.created'; data: Message }
  | { type: 'tool_invocation.created' | 'tool_invocation.updated'; data: ToolInvocation }
  | { type: 'conversation.updated' | 'conversation.archived'; data: Conversation }
  | { type: 'conversation.deleted'; data: { id: string } }
);

export interface SubscribeOptions {
  /** Replay every event after this seq first (default: only what happens from now on). */
  afterSeq?: number;
  signal?: AbortSignal;
  /** Called once per attachment, with the server's current last seq. */
  onReady?: (ready: { conversation_id: string; last_seq: number }) => void;
  /** Reconnect attempts in a row without receiving anything before giving up (default 5). */
  maxReconnects?: number;
  /**
   * A connection that sends nothing for this long is taken as dead and replaced (default 60 000 ms;
   * the server sends a heartbeat comment every `PARLEY_WS_HEARTBEAT_MS`, 25 s by default).
   */
  idleTimeoutMs?: number;
}

export type StreamToken = ResultOf<'/v1/conversations/{id}/stream-tokens', 'post'>['data'];

interface Frame {
  id: string | undefined;
  event: string;
  data: string;
}

/** Live streams: SSE over fetch (any runtime that streams response bodies) and WebSocket tokens. */
export class Streams {
  constructor(private readonly t: Transport) {}

  /** Mints a short-lived stream token for a browser's WebSocket or EventSource. */
  async token(
    conversationId: string,
    body: BodyOf<'/v1/conversations/{id}/stream-tokens', 'post'> = {},
    opts: WriteOptions = {},
  ): Promise<StreamToken> {
    const r = await this.t.request<ResultOf<'/v1/conversations/{id}/stream-tokens', 'post'>>(
      { method: 'POST', path: `/v1/conversations/${enc(conversationId)}/stream-tokens`, body },
      opts,
    );
    return r.data.data;
  }

  /**
   * The WebSocket URL of a conversation: `new WebSocket(url, ['parley.v1', 'parley.token.' + token])`
   * (the token in the subprotocol keeps it out of URLs; see docs/realtime.md).
   */
  websocketUrl(conversationId: string, opts: { afterSeq?: number; token?: string } = {}): string {
    const http = this.t.url(`/v1/conversations/${enc(conversationId)}/stream`, {
      after_seq: opts.afterSeq,
      token: opts.token,
    });
    return http.replace(/^http/, 'ws');
  }

  /**
   * Every event of a conversation, live, as an async iterator. After a dropped connection it
   * reconnects with `Last-Event-ID` = the last seq it yielded, so nothing is missed or repeated.
   * Ends after `conversation.deleted`, when the server closes the stream for good (`stream.closed`
   * other than 1001 "shutting down", which reconnects), or when `signal` aborts (or the loop breaks).
   */
  async *events(conversationId: string, opts: SubscribeOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const { signal } = opts;
    const maxReconnects = opts.maxReconnects ?? 5;
    const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    let lastSeq = opts.afterSeq;
    let retryMs = 1000;
    let failures = 0;
    for (;;) {
      signal?.throwIfAborted();
      const local = new AbortController();
      const onAbort = () => local.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      // a half-open connection (a vanished peer, a NAT that forgot it) never errors: watch for silence
      let idle: ReturnType<typeof setTimeout> | undefined;
      const alive = () => {
        clearTimeout(idle);
        idle = setTimeout(() => local.abort(new ParleyConnectionError('The event stream went silent')), idleTimeoutMs);
      };
      try {
        const headers = this.t.headers({ accept: 'text/event-stream' });
        if (lastSeq !== undefined) headers['last-event-id'] = String(lastSeq);
        let res: Response;
        try {
          res = await this.t.attempt(
            this.t.url(`/v1/conversations/${enc(conversationId)}/events`),
            { method: 'GET', headers },
            this.t.timeoutMs,
            local.signal,
            true,
          );
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          if (++failures > maxReconnects) throw err;
          await sleep(retryMs, signal);
          continue;
        }
        if (!res.ok) {
          const err = toParleyError(res, await res.text(), res.headers.get('x-request-id') ?? undefined);
          if (!(res.status === 429 || res.status === 503) || ++failures > maxReconnects) throw err;
          await sleep((err.retryAfter ?? retryMs / 1000) * 1000, signal);
          continue;
        }
        if (res.body === null) throw new ParleyConnectionError('The event stream has no body');
        try {
          alive();
          for await (const frame of frames(res.body, alive)) {
            if (frame.event === 'retry') {
              retryMs = Number(frame.data);
              continue;
            }
            if (frame.event === 'stream.ready') {
              failures = 0;
              const ready = JSON.parse(frame.data) as { conversation_id: string; last_seq: number };
              // a stream opened without afterSeq starts live at last_seq: resume from there after a drop
              lastSeq ??= ready.last_seq;
              opts.onReady?.(ready);
              continue;
            }
            if (frame.event === 'stream.closed') {
              const { code } = JSON.parse(frame.data) as { code: number };
              // 1001: that instance is shutting down (another may answer); anything else is final
              if (code === GOING_AWAY) break;
              return;
            }
            if (frame.id === undefined) continue;
            const event = JSON.parse(frame.data) as StreamEvent;
            if (lastSeq !== undefined && event.seq <= lastSeq) continue;
            lastSeq = event.seq;
            yield event;
            if (event.type === 'conversation.deleted') return;
          }
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          if (++failures > maxReconnects) throw new ParleyConnectionError('The event stream broke', { cause: err });
        }
        // the body ended without a final stream.closed (a slow consumer, a restart, 1001): reconnect
        await sleep(retryMs, signal);
      } finally {
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        local.abort();
      }
    }
  }

  /**
   * Callback form of `events()`: `onEvent` for each event; resolves when the stream ends, rejects
   * with what ended it otherwise (an aborted `signal` resolves).
   */
  async subscribe(
    conversationId: string,
    opts: SubscribeOptions & { onEvent: (event: StreamEvent) => void | Promise<void> },
  ): Promise<void> {
    try {
      for await (const e of this.events(conversationId, opts)) await opts.onEvent(e);
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    }
  }
}

const enc = encodeURIComponent;
const GOING_AWAY = 1001;

/** Server-Sent Events frames from a byte stream (the WHATWG parsing rules, minus what Parley never sends). */
async function* frames(body: ReadableStream<Uint8Array>, onChunk: () => void): AsyncGenerator<Frame, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk();
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\n|\r/.exec(buffer);
        // a lone \r at the end may be the first half of \r\n: wait for more
        if (m === null || (m[0] === '\r' && m.index === buffer.length - 1)) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length > 0 || event !== '') yield { id, event: event || 'message', data: data.join('\n') };
          id = undefined;
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) yield { id: undefined, event: 'retry', data: value };
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

export type { CallOptions };
