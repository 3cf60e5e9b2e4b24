import { STATUS_CODES } from 'node:http';
import { Type } from 'typebox';
import type { ParleyError } from '../../errors.js';
import { publicMessage } from '../../http/surface-errors.js';
import { errorSchemas } from '../common.js';

/** NestJS's HttpException body, which Fini's pages show for 401 and 403. */
export const FiniError = Type.Object({
  statusCode: Type.Integer(),
  message: Type.String(),
  error: Type.String(),
});
export const errors = errorSchemas(FiniError, [401, 403, 429, 500]);

export function finiBody(status: number, message: string) {
  return { statusCode: status, message, error: STATUS_CODES[status] ?? 'Error' };
}

function finiMessage(e: ParleyError): string {
  if (e.code === 'invalid_key') return 'Invalid or revoked API key';
  if (e.code === 'insufficient_permissions') return 'API key does not have the required scope for this operation';
  return publicMessage(e);
}

export const finiError = (e: ParleyError) => ({ body: finiBody(e.status, finiMessage(e)) });

export const finiNotFound = (req: { method: string; url: string }) =>
  finiBody(404, `Cannot ${req.method} ${req.url.split('?')[0]}`);
