import WebSocket from 'ws';

/**
 * How long any wait in a live-stream test may last before it fails, naming what it awaited. A
 * lost event must fail its test with a reason, not hang the run until the runner's per-test
 * timeout (scripts/run-tests.mjs) cancels it without one. A bound, not a timing claim.
 */
export const WAIT_MS = 30_000;

/** `p`, or a rejection naming `what` once `ms` have passed (the timer never outlives the wait). */
export function bounded<T>(p: Promise<T>, what: string | (() => string), ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)),
      ms,
    );
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** A predicate's source, shortened, to say in a timeout what a test was waiting for. */
export function describePredicate(pred: (...args: never[]) => unknown): string {
  const src = pred.toString().replace(/\s+/g, ' ');
  return src.length > 160 ? `${src.slice(0, 157)}...` : src;
}

export interface Frame {
  type: string;
  seq?: number;
  data?: any;
  created_at?: string;
}

/** A real `ws` client on a live stream, recording every frame and how it closed. */
export class LiveSocket {
  readonly frames: Frame[] = [];
  private readonly closing: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  /** How the socket closed; fails after WAIT_MS naming the wait (a getter: each await gets its own bound). */
  get closed(): Promise<{ code: number; reason: string }> {
    return bounded(this.closing, () => `the socket to close (frames so far: ${this.frameTypes()})`);
  }

  private frameTypes(): string {
    return JSON.stringify(this.frames.map((f) => f.type));
  }

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closing = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        for (const w of this.waiters.splice(0)) w();
      });
    });
    ws.on('error', () => {});
  }

  /** Opens a stream; resolves once the upgrade succeeded (rejects with the HTTP status if refused). */
  static open(url: string, opts: { headers?: Record<string, string>; protocols?: string[]; autoPong?: boolean } = {}) {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocols ?? [], {
      headers: opts.headers,
      autoPong: opts.autoPong ?? true,
    });
    const live = new LiveSocket(ws);
    const opened = new Promise<LiveSocket>((resolve, reject) => {
      ws.once('open', () => resolve(live));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () =>
          reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body })),
        );
      });
      ws.once('error', reject);
    });
    return bounded(opened, `the upgrade of ${url}`);
  }

  /** Opens and waits for stream.ready. */
  static async ready(url: string, opts: Parameters<typeof LiveSocket.open>[1] = {}) {
    const s = await LiveSocket.open(url, opts);
    await s.waitFor((f) => f.type === 'stream.ready');
    return s;
  }

  events(): Frame[] {
    return this.frames.filter((f) => typeof f.seq === 'number');
  }

  /**
   * Waits until a frame matching `pred` has arrived; throws if the socket closes first, or after
   * `ms`, naming the predicate and the frames seen.
   */
  waitFor(
    pred: (f: Frame) => boolean,
    ms = WAIT_MS,
    what = `a frame matching ${describePredicate(pred)}`,
  ): Promise<Frame> {
    const wait = async () => {
      for (;;) {
        const hit = this.frames.find(pred);
        if (hit) return hit;
        if (this.ws.readyState === WebSocket.CLOSED) {
          throw new Error(`socket closed while waiting for ${what}`);
        }
        await new Promise<void>((r) => this.waiters.push(r));
      }
    };
    return bounded(wait(), () => `${what} (frames so far: ${this.frameTypes()})`, ms);
  }

  async waitForEvents(n: number): Promise<Frame[]> {
    await this.waitFor(() => this.events().length >= n, WAIT_MS, `${n} events`);
    return this.events();
  }

  send(v: unknown): void {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a stream that must be refused before the upgrade; returns the HTTP status and body. */
export async function refusal(url: string, opts: Parameters<typeof LiveSocket.open>[1] = {}) {
  try {
    const s = await LiveSocket.open(url, opts);
    s.close();
  } catch (err) {
    const e = err as { status?: number; body?: string };
    if (e.status !== undefined) return { status: e.status, body: JSON.parse(e.body ?? '{}') };
    throw err;
  }
  throw new Error('the stream was opened; expected a refusal');
}

/** Polls `read` until it returns `want`, at most `tries` times (no timing assertion: a bound on waiting). */
export async function eventually<T>(read: () => Promise<T>, want: T, tries = 200): Promise<T> {
  let last: T = await read();
  for (let i = 0; i < tries && last !== want; i++) {
    await new Promise((r) => setTimeout(r, 25));
    last = await read();
  }
  return last;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: any;
}

/** A Server-Sent Events reader over fetch. */
export class SseStream {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  private buf = '';
  private waiters: Array<() => void> = [];
  private done = false;
  private readonly ctrl = new AbortController();

  static async open(url: string, headers: Record<string, string>): Promise<SseStream> {
    const s = new SseStream();
    const res = await bounded(fetch(url, { headers, signal: s.ctrl.signal }), `the response headers of ${url}`);
    s.status = res.status;
    if (!res.ok || !res.body) {
      (s as { body?: unknown }).body = await res.json().catch(() => null);
      return s;
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          s.feed(dec.decode(value, { stream: true }));
        }
      } catch {}
      s.done = true;
      for (const w of s.waiters.splice(0)) w();
    })();
    return s;
  }

  private feed(text: string): void {
    this.buf += text;
    let i = this.buf.indexOf('\n\n');
    while (i >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const ev: SseEvent = {};
      let isEvent = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line);
        else if (line.startsWith('id: ')) ev.id = line.slice(4);
        else if (line.startsWith('event: ')) {
          ev.event = line.slice(7);
          isEvent = true;
        } else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
      }
      if (isEvent) this.events.push(ev);
      i = this.buf.indexOf('\n\n');
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds; throws if the stream ends first, or after `ms`, naming the predicate. */
  waitFor(pred: () => boolean, ms = WAIT_MS): Promise<void> {
    const wait = async () => {
      while (!pred()) {
        if (this.done) throw new Error(`stream ended while waiting for ${describePredicate(pred)}`);
        await new Promise<void>((r) => this.waiters.push(r));
      }
    };
    return bounded(
      wait(),
      () =>
        `${describePredicate(pred)} on the event stream (events so far: ${JSON.stringify(this.events.map((e) => e.event))})`,
      ms,
    );
  }

  get ended(): boolean {
    return this.done;
  }

  close(): void {
    this.ctrl.abort();
  }
}
