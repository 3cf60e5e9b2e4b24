import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ClaimedDelivery, Store } from '../store/types.js';
import { guardedLookup, hostOf, isPublicAddress } from './address.js';
import { signWebhook } from './events.js';

export interface DeliverySettings {
  timeoutMs: number;
  pollMs: number;
  retryBaseMs: number;
  retryWindowMs: number;
  allowPrivate: boolean;
}

/** Longest wait between two attempts of one delivery. */
export const MAX_RETRY_DELAY_MS = 3_600_000;
const BATCH = 20;

/**
 * The delay before attempt `attempts + 1` after `attempts` failed ones: the base doubled per
 * attempt, capped at an hour, with "equal jitter" (half fixed, half random) so that receivers
 * coming back are not hit by every sender at once.
 */
export function retryDelay(attempts: number, baseMs: number, random: () => number = Math.random): number {
  const full = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  return Math.round(full / 2 + (random() * full) / 2);
}

/** The outcome of one POST: the status when an answer came, else the reason none did. */
interface Outcome {
  status: number | null;
  error: string | null;
}

/**
 * Sends one delivery with node:http(s): no redirects are followed (a 3xx is a failed attempt),
 * the whole attempt is bounded by `timeoutMs`, and unless private targets are allowed the
 * socket's own DNS lookup refuses non-public addresses (and a literal IP is checked first).
 */
export function postWebhook(
  target: string,
  headers: Record<string, string>,
  body: string,
  s: Pick<DeliverySettings, 'timeoutMs' | 'allowPrivate'>,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      resolve({ status: null, error: 'invalid url' });
      return;
    }
    const host = hostOf(url);
    if (!s.allowPrivate && net.isIP(host) !== 0 && !isPublicAddress(host)) {
      resolve({ status: null, error: `address not allowed: ${host}` });
      return;
    }
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const send = url.protocol === 'https:' ? https.request : http.request;
    const req = send(url, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      ...(s.allowPrivate ? {} : { lookup: guardedLookup as never }),
    });
    const timer = setTimeout(() => {
      finish({ status: null, error: `timed out after ${s.timeoutMs} ms` });
      req.destroy();
    }, s.timeoutMs);
    req.on('response', (res) => {
      // the answer's body is not kept: read and dropped
      res.on('error', () => undefined);
      res.resume();
      const status = res.statusCode ?? 0;
      finish({ status, error: status >= 200 && status < 300 ? null : `HTTP ${status}` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRNOTALLOWED' ? `address not allowed: ${err.message}` : (err.code ?? err.message);
      finish({ status: null, error: reason });
    });
    req.end(body);
  });
}

/**
 * The delivery worker: claims due outbox rows under a lease (several instances share the
 * table safely), POSTs each signed, and records the outcome: 2xx delivered; otherwise retried
 * with backoff until the delivery is `retryWindowMs` old, then failed. Woken after each commit
 * that wrote deliveries, and polling every `pollMs` for retries and other instances' rows.
 */
export class DeliveryWorker {
  readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly settings: DeliverySettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.poke(), this.settings.pollMs);
    this.timer.unref();
    this.poke();
  }

  /** Runs a pass now (or right after the one running). */
  poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Runs passes until nothing is due; resolves when done (tests await it after moving the clock). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    this.poke();
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // deliveries in flight end within the attempt timeout; their outcome is still recorded
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.closed && (await this.pass()) === BATCH) {
          // a full batch: more may be due
        }
      } catch (err) {
        this.logger.warn({ err }, 'webhook delivery pass failed');
      }
    } while (this.again && !this.closed);
  }

  private async pass(): Promise<number> {
    const now = this.clock.now();
    const leaseUntil = now + 2 * this.settings.timeoutMs + 1000;
    const claimed = await this.store.transactInstance((i) =>
      i.claimDeliveries({ now, limit: BATCH, owner: this.owner, leaseUntil }),
    );
    await Promise.all(claimed.map((d) => this.deliver(d)));
    return claimed.length;
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const at = this.clock.now();
    const timestamp = Math.floor(at / 1000);
    const signatures = [signWebhook(d.secret, d.id, timestamp, d.payload)];
    if (d.previousSecret !== null && d.previousSecretUntil !== null && d.previousSecretUntil > at) {
      signatures.push(signWebhook(d.previousSecret, d.id, timestamp, d.payload));
    }
    const outcome = await postWebhook(
      d.url,
      {
        'user-agent': 'Parley-Webhooks/1',
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatures.join(' '),
      },
      d.payload,
      this.settings,
    );
    const done = this.clock.now();
    const attempts = d.attempts + 1;
    const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    const expired = done - d.createdAt >= this.settings.retryWindowMs;
    const state = ok ? 'delivered' : expired ? 'failed' : 'pending';
    const nextAttemptAt = state === 'pending' ? done + retryDelay(attempts, this.settings.retryBaseMs) : done;
    const kept = await this.store.transactInstance((i) =>
      i.settleDelivery({
        workspaceId: d.workspaceId,
        id: d.id,
        owner: this.owner,
        at: done,
        status: outcome.status,
        error: outcome.error,
        state,
        nextAttemptAt,
      }),
    );
    if (!kept) this.logger.warn({ delivery: d.id }, 'webhook delivery lease lost before its outcome was recorded');
  }
}
