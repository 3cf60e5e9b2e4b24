import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { ParleyError } from '../../errors.js';
import { publicMessage } from '../../http/surface-errors.js';
import type { AppDeps } from '../../http/types.js';
import { errorSchemas } from '../common.js';

/** Botpress error types by HTTP status, as its generated client names them. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'InvalidPayload',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'ResourceNotFound',
  405: 'MethodNotFound',
  409: 'ResourceLockedConflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'InvalidPayload',
  429: 'RateLimited',
  500: 'Internal',
  503: 'Internal',
  507: 'Internal',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** `err_<YYYYMMDDHHMMSS>x<8 hex>`, the id format of Botpress errors. */
export function botpressErrorId(now: number): string {
  const d = new Date(now);
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `err_${stamp}x${randomBytes(4).toString('hex')}`;
}

export const BotpressError = Type.Object({
  id: Type.String({ description: 'err_<YYYYMMDDHHMMSS>x<8 hex>' }),
  code: Type.Integer(),
  type: Type.String(),
  message: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
});
export const errors = errorSchemas(BotpressError, [400, 401, 403, 429, 500]);

export const botpressError = (e: ParleyError, _req: unknown, deps: Pick<AppDeps, 'clock'>) => ({
  body: {
    id: botpressErrorId(deps.clock.now()),
    code: e.status,
    type: TYPE_BY_STATUS[e.status] ?? 'Unknown',
    message: publicMessage(e),
    metadata: {},
  },
});

export const botpressNotFound = (req: { method: string; url: string }, deps: Pick<AppDeps, 'clock'>) => ({
  id: botpressErrorId(deps.clock.now()),
  code: 404,
  type: 'MethodNotFound',
  message: `No route for ${req.method} ${req.url.split('?')[0]}`,
  metadata: {},
});
