/**
 * Verifying a Parley webhook (Standard Webhooks layout) with Web Crypto only: works in Node,
 * Deno, Bun, workers and browsers.
 */

export interface VerifyOptions {
  /** Largest accepted distance between webhook-timestamp and now, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The current time in ms (tests); default Date.now(). */
  now?: number;
}

/** Thrown when a webhook's headers or signature do not verify. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v[0] : v;
}

function fromBase64(s: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bin = atob(s);
    const out = new Uint8Array(new ArrayBuffer(bin.length));
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * Checks a delivery: `webhook-timestamp` within the tolerance, and one of the `v1,` signatures in
 * `webhook-signature` (two while a rotated secret overlaps) being the HMAC-SHA256 of
 * `id.timestamp.body` under `secret` (`whsec_…`). The comparison is Web Crypto's `verify`
 * (constant time). Pass the raw body exactly as received, before any JSON parsing.
 * Returns the parsed event; throws WebhookVerificationError otherwise.
 */
export async function verifyWebhook<T = { id: string; type: string; timestamp: string; data: unknown }>(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  opts: VerifyOptions = {},
): Promise<T> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook headers');
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('invalid webhook-timestamp');
  const tolerance = opts.toleranceSeconds ?? 300;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError('webhook-timestamp outside the tolerance');
  }
  const keyBytes = fromBase64(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  if (!keyBytes) throw new WebhookVerificationError('the secret is not a whsec_ secret');
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${text}`);
  for (const part of signatures.split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const bytes = fromBase64(sig);
    if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, signed))) return JSON.parse(text) as T;
  }
  throw new WebhookVerificationError('no signature matches');
}
