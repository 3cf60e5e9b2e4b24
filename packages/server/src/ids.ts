import { randomFillSync } from 'node:crypto';

/** Every id Parley mints carries one of these prefixes over a ULID. */
export const ID_PREFIX = {
  workspace: 'ws_',
  conversation: 'conv_',
  message: 'msg_',
  toolInvocation: 'tool_',
  apiKey: 'key_',
  request: 'req_',
  event: 'evt_',
  audit: 'aud_',
  hold: 'hold_',
  webhook: 'wh_',
  webhookDelivery: 'dlv_',
  job: 'job_',
} as const;
export type IdKind = keyof typeof ID_PREFIX;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let lastTime = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

// Random bytes drawn from a pooled buffer: one CSPRNG call per 409 ids instead of one per id
// (a request id is minted for every request).
const pool = Buffer.allocUnsafe(4090);
let poolAt = pool.length;
function randomTen(): Uint8Array {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  // a copy: the monotonic increment mutates it, and the pool is refilled later
  const out = new Uint8Array(10);
  out.set(pool.subarray(poolAt, poolAt + 10));
  poolAt += 10;
  return out;
}

/**
 * Fixes the UUIDv7 bits inside a ULID's 80 random bits, so that the same 128 bits written as a
 * UUID are a valid RFC 9562 version 7 UUID: the ULID's 48-bit millisecond time is already
 * unix_ts_ms; byte 0's high nibble becomes the version (7) and byte 2's two high bits the
 * variant (10). 74 random bits remain (12 rand_a + 62 rand_b).
 */
export function setUuidV7Bits(rnd: Uint8Array): Uint8Array {
  rnd[0] = 0x70 | ((rnd[0] ?? 0) & 0x0f);
  rnd[2] = 0x80 | ((rnd[2] ?? 0) & 0x3f);
  return rnd;
}

/** The bits of each random byte that are not fixed by setUuidV7Bits. */
const FREE_BITS = [0x0f, 0xff, 0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/**
 * Adds one to the 74 free bits (the fixed version and variant bits are skipped by the carry).
 * Returns false on overflow, which needs 2^74 ids in one millisecond.
 */
export function incrementFree(rnd: Uint8Array): boolean {
  for (let i = 9; i >= 0; i--) {
    const free = FREE_BITS[i] ?? 0xff;
    const b = rnd[i] ?? 0;
    if ((b & free) === free) {
      rnd[i] = b & ~free;
    } else {
      rnd[i] = b + 1;
      return true;
    }
  }
  return false;
}

/**
 * Monotonic ULID whose UUID spelling is a UUIDv7: ids minted in the same millisecond still sort
 * in minting order (the free random bits count up from the first id's).
 */
export function ulid(now: number = Date.now()): string {
  let rnd: Uint8Array;
  if (now <= lastTime) {
    rnd = lastRandom;
    if (!incrementFree(rnd)) throw new Error('ULID random bits overflowed within one millisecond');
    now = lastTime;
  } else {
    rnd = setUuidV7Bits(randomTen());
    lastTime = now;
  }
  lastRandom = rnd;
  return encodeUlid(now, rnd);
}

/** The 26-character ULID for a millisecond time and 10 random bytes. */
export function encodeUlid(time: number, rnd: Uint8Array): string {
  let out = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  // 80 random bits -> 16 base32 chars
  let bits = 0;
  let value = 0;
  for (const byte of rnd) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export function newId(kind: IdKind, now?: number): string {
  return ID_PREFIX[kind] + ulid(now);
}

export function isUlid(s: string): boolean {
  return ULID_RE.test(s);
}

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** The 128 bits of a ULID written as a UUID (8-4-4-4-12 hex; a UUIDv7 for ids minted now), and back. */
export function ulidToUuid(u: string): string {
  let n = 0n;
  for (const ch of u) n = n * 32n + BigInt(CROCKFORD.indexOf(ch));
  const hex = n.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidToUlid(uuid: string): string {
  let n = BigInt(`0x${uuid.replace(/-/g, '')}`);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(n % 32n)] + out;
    n /= 32n;
  }
  return out;
}

/**
 * Normalises a caller-supplied id of `kind`: `conv_<ULID>` as minted, or the same 128 bits
 * as a plain UUID (the seeds document UUIDs). Ids minted before the UUIDv7 bits were fixed have
 * arbitrary version/variant bits, so any ULID and any 8-4-4-4-12 hex spelling is accepted. Returns null for anything else, so lookups of
 * malformed ids answer exactly like lookups of missing ones.
 */
export function parseId(kind: IdKind, raw: string): string | null {
  const prefix = ID_PREFIX[kind];
  if (raw.startsWith(prefix)) {
    const body = raw.slice(prefix.length).toUpperCase();
    return isUlid(body) ? prefix + body : null;
  }
  if (isUuid(raw)) return prefix + uuidToUlid(raw.toLowerCase());
  return null;
}

/** A printable request id an upstream proxy may hand us; anything else gets a fresh one. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
export function acceptRequestId(raw: unknown): string {
  return typeof raw === 'string' && REQUEST_ID_RE.test(raw) ? raw : newId('request');
}
