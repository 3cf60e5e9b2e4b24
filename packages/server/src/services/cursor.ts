import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ParleyError } from '../errors.js';

/**
 * Opaque keyset cursors: base64url(JSON) plus an HMAC over (workspace, list kind, payload).
 * A cursor that was edited, is garbage, or was minted for another workspace or another list
 * fails the MAC and answers 400 invalid_cursor; it can never select another tenant's rows.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  private mac(workspaceId: string, kind: string, payload: string): Buffer {
    return createHmac('sha256', this.secret).update(`${workspaceId}|${kind}|${payload}`).digest().subarray(0, 16);
  }

  encode(workspaceId: string, kind: string, value: unknown): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(workspaceId, kind, payload).toString('base64url')}`;
  }

  decode<T>(workspaceId: string, kind: string, cursor: string, check: (v: unknown) => v is T): T {
    const bad = () => new ParleyError('invalid_cursor', 'The cursor is not valid for this list');
    const dot = cursor.indexOf('.');
    if (dot <= 0 || cursor.length > 1024) throw bad();
    const payload = cursor.slice(0, dot);
    const given = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const expected = this.mac(workspaceId, kind, payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (!check(value)) throw bad();
    return value;
  }
}

/** What defines a list (filters, sort): carried inside its cursors, under the MAC. */
export type ListParams = Record<string, string | number | null>;

const isParams = (v: unknown): v is ListParams =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => x === null || typeof x === 'string' || typeof x === 'number');

/** An id page's cursor: after this id, in this order (`o`), this many a page (`n`). */
export const isIdCursor = (v: unknown): v is { i: string; o: 'asc' | 'desc'; n: number } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { i?: unknown }).i === 'string' &&
  ((v as { o?: unknown }).o === 'asc' || (v as { o?: unknown }).o === 'desc') &&
  typeof (v as { n?: unknown }).n === 'number';

/** A keyset cursor: after (value, id), in the list `q` defines, `n` a page. */
export const isKeysetCursor = (v: unknown): v is { v: number; i: string; q: ListParams; n: number } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { i?: unknown }).i === 'string' &&
  typeof (v as { v?: unknown }).v === 'number' &&
  typeof (v as { n?: unknown }).n === 'number' &&
  isParams((v as { q?: unknown }).q);

const OTHER_FILTERS = 'This cursor belongs to a list with other filters; send the cursor alone or the same filters';
const RESEND_FILTERS =
  'This cursor belongs to a list whose filters are too long to carry (a long search); send it with the same filters';

const refused = (message: string) =>
  new ParleyError('invalid_cursor', message, { details: [{ field: '/query/cursor', message }] });

/** A cursor used with another list's filters or order. */
export const otherFilters = (): ParleyError => refused(OTHER_FILTERS);

/** Largest list description a cursor carries itself; longer ones (a long search) travel as a digest. */
const CARRIED_BYTES = 400;
const DIGEST = '#';
const digestOf = (params: ListParams) =>
  createHash('sha256').update(JSON.stringify(params)).digest('base64url').slice(0, 22);

/** What a cursor keeps of its list: the parameters, or for long ones their digest (cursors stay short). */
export function carriedParams(params: ListParams): ListParams {
  return Buffer.byteLength(JSON.stringify(params)) <= CARRIED_BYTES ? params : { [DIGEST]: digestOf(params) };
}

/**
 * The list a cursor continues. A request that sends none of the list's parameters continues the
 * cursor's list; one that sends them must send the same ones (defaults filled in), or it is
 * refused rather than answered with a page of some other list.
 */
export function continuedParams<P extends ListParams>(sent: Partial<P>, defaults: P, carried: ListParams): P {
  const none = Object.values(sent).every((v) => v === undefined);
  const digest = carried[DIGEST];
  if (digest !== undefined) {
    if (none) throw refused(RESEND_FILTERS);
    const asked = listParams(sent, defaults);
    if (digestOf(asked) !== digest) throw otherFilters();
    return asked as P;
  }
  if (none) return carried as P;
  const asked = listParams(sent, defaults);
  const keys = new Set([...Object.keys(asked), ...Object.keys(carried)]);
  for (const k of keys) if ((asked[k] ?? null) !== (carried[k] ?? null)) throw otherFilters();
  return carried as P;
}

/** Parameters as a cursor keeps them: defaults filled in, unset ones left out. */
export function listParams(sent: Record<string, string | number | null | undefined>, defaults: ListParams): ListParams {
  const out: ListParams = { ...defaults };
  for (const [k, v] of Object.entries(sent)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(out)) if (v === null) delete out[k];
  return out;
}
