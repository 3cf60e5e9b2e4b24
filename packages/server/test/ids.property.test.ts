import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodeUlid,
  ID_PREFIX,
  incrementFree,
  newId,
  parseId,
  setUuidV7Bits,
  ulid,
  ulidToUuid,
  uuidToUlid,
} from '../src/ids.js';

/**
 * Ids are a prefix over a ULID whose 128 bits, written as a UUID, are an RFC 9562 UUIDv7:
 * unix_ts_ms (48) · ver 7 (4) · rand_a (12) · var 10 (2) · rand_b (62).
 */
const SEED = Number(process.env.PARLEY_PROPERTY_SEED ?? 20_261_129);
const RUNS = Number(process.env.PARLEY_PROPERTY_RUNS ?? 200);
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The RFC 9562 fields of a UUID spelling, read independently of ids.ts. */
function fields(uuid: string) {
  const hex = uuid.replace(/-/g, '');
  const n = BigInt(`0x${hex}`);
  return {
    unixTsMs: Number(n >> 80n),
    version: Number((n >> 76n) & 0xfn),
    variant: Number((n >> 62n) & 0x3n),
  };
}

/** The 74 free random bits of a v7 ULID body as one number, for checking "+1". */
function freeValue(rnd: Uint8Array): bigint {
  let n = 0n;
  n = (n << 4n) | BigInt((rnd[0] ?? 0) & 0x0f);
  n = (n << 8n) | BigInt(rnd[1] ?? 0);
  n = (n << 6n) | BigInt((rnd[2] ?? 0) & 0x3f);
  for (let i = 3; i < 10; i++) n = (n << 8n) | BigInt(rnd[i] ?? 0);
  return n;
}

// ulid() keeps its last millisecond; tests use times far ahead of the clock, each above the last
let future = Date.now() + 10 * 365 * 86_400_000;
const nextMs = (step = 1) => {
  future += step;
  return future;
};

describe('ids as UUIDv7', () => {
  test('every minted id of every kind has a UUID spelling that is a valid RFC 9562 version 7 UUID', () => {
    for (const kind of Object.keys(ID_PREFIX) as Array<keyof typeof ID_PREFIX>) {
      for (let i = 0; i < 2000; i++) {
        const id = newId(kind);
        const body = id.slice(ID_PREFIX[kind].length);
        const uuid = ulidToUuid(body);
        assert.match(uuid, V7, `${id} → ${uuid}`);
        const f = fields(uuid);
        assert.equal(f.version, 7);
        assert.equal(f.variant, 0b10);
        assert.ok(Math.abs(f.unixTsMs - Date.now()) < 60_000, 'unix_ts_ms is the minting time');
        assert.equal(uuidToUlid(uuid), body, 'the UUID spelling round-trips');
        assert.equal(parseId(kind, uuid), id, 'and parses to the same id');
      }
    }
  });

  test('the UUID timestamp is the millisecond the id was minted at', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (step) => {
        const t = nextMs(step);
        const f = fields(ulidToUuid(ulid(t)));
        return f.unixTsMs === t && f.version === 7 && f.variant === 2;
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('within one millisecond ids sort in minting order and stay v7 (the carry skips the fixed bits)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3000 }), (n) => {
        const t = nextMs();
        const ids = Array.from({ length: n }, () => ulid(t));
        for (let i = 1; i < ids.length; i++) {
          assert.ok((ids[i - 1] as string) < (ids[i] as string), `${ids[i - 1]} < ${ids[i]}`);
        }
        for (const id of ids) assert.match(ulidToUuid(id), V7);
        // a clock that steps back keeps counting up from the last id
        const back = ulid(t - 5);
        assert.ok((ids.at(-1) as string) < back);
        return true;
      }),
      { seed: SEED, numRuns: 50 },
    );
  });

  test('incrementing adds exactly one to the 74 free bits, never touching version or variant', () => {
    // bytes biased towards 0xff and the fixed-bit boundaries, so carries across them are exercised
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xff, 0xbf, 0x3f, 0x7f, 0x8f, 0x0f));
    fc.assert(
      fc.property(fc.array(byte, { minLength: 10, maxLength: 10 }), fc.integer({ min: 0, max: 2 ** 40 }), (raw, t) => {
        const rnd = setUuidV7Bits(Uint8Array.from(raw));
        if (freeValue(rnd) === 2n ** 74n - 1n) return true; // the overflow case, tested below
        const before = freeValue(rnd);
        const prev = encodeUlid(t, rnd);
        const next = Uint8Array.from(rnd);
        assert.equal(incrementFree(next), true);
        assert.equal(freeValue(next), before + 1n);
        assert.match(ulidToUuid(encodeUlid(t, next)), V7);
        assert.ok(prev < encodeUlid(t, next));
        return true;
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
    // the longest carry: every free bit set but the lowest of rand_a
    const edge = setUuidV7Bits(Uint8Array.from([0x7f, 0xff, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    edge[0] = 0x7e;
    assert.equal(incrementFree(edge), true);
    assert.deepEqual([...edge], [0x7f, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    const full = setUuidV7Bits(new Uint8Array(10).fill(0xff));
    assert.equal(incrementFree(full), false, '2^74 ids in one millisecond overflow');
  });

  test('ids minted before (any ULID, any UUID spelling) still parse as they did', () => {
    // a ULID whose UUID spelling has version 0 and variant 11: not v7, still accepted
    const old = '01HY1K0E7V8Q0YXH7DSTX5B3CA';
    assert.doesNotMatch(ulidToUuid(old), V7);
    assert.equal(parseId('conversation', `conv_${old}`), `conv_${old}`);
    assert.equal(parseId('conversation', `conv_${old.toLowerCase()}`), `conv_${old}`);
    assert.equal(parseId('conversation', ulidToUuid(old)), `conv_${old}`);
    assert.equal(parseId('conversation', ulidToUuid(old).toUpperCase()), `conv_${old}`);
    fc.assert(
      fc.property(fc.uuid({ version: [1, 2, 3, 4, 5] }), (uuid) => {
        const id = parseId('message', uuid);
        assert.ok(id !== null);
        return ulidToUuid(id.slice('msg_'.length)) === uuid.toLowerCase();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
