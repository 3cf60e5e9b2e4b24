import { createHmac, timingSafeEqual } from 'node:crypto';
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

export const isIdCursor = (v: unknown): v is { i: string } =>
  typeof v === 'object' && v !== null && typeof (v as { i?: unknown }).i === 'string';

export const isKeysetCursor = (v: unknown): v is { v: number; i: string } =>
  isIdCursor(v) && typeof (v as { v?: unknown }).v === 'number';
