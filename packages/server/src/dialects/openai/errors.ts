import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ParleyError } from '../../errors.js';
import { publicMessage } from '../../http/surface-errors.js';

/** OpenAI's error body: `{error: {message, type, param, code}}`; the official client reads it. */
export const OpenAIError = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String(),
      param: Type.Union([Type.String(), Type.Null()]),
      code: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { description: 'OpenAI error body; `code` is the Parley error code (docs/errors.md)' },
);

/** OpenAI's error `type` for a status: its client picks the error class by status alone. */
function typeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** `/body/items/0/type` → `items[0].type`, OpenAI's way of naming the offending parameter. */
export function paramOf(field: string | undefined): string | null {
  if (field === undefined) return null;
  const parts = field.split('/').filter(Boolean).slice(1);
  if (parts.length === 0) return null;
  return parts.reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '');
}

export function openaiError(e: ParleyError) {
  return {
    error: {
      message: publicMessage(e),
      type: typeFor(e.status),
      param: paramOf(e.details?.[0]?.field),
      code: e.code,
    },
  };
}

export function openaiNotFound(req: FastifyRequest) {
  return {
    error: {
      message: `Invalid URL (${req.method} ${req.url.split('?')[0]})`,
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
  };
}
