import { Type } from 'typebox';
import type { ParleyError } from '../../errors.js';
import { publicMessage } from '../../http/surface-errors.js';
import { errorSchemas } from '../common.js';

/** LeadLex names one 400 code; every body/query problem of ours is that one. */
function leadlexCode(e: ParleyError): string {
  return e.status === 400 ? 'validation_error' : e.code;
}

export const LeadLexError = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String() }) },
  {
    description: 'LeadLex error body: invalid_key, insufficient_permissions, not_found, rate_limited, validation_error',
  },
);

export const errors = errorSchemas(LeadLexError, [429, 500]);

export const leadlexError = (e: ParleyError, req: { id: string }) => ({
  body: { error: { code: leadlexCode(e), message: publicMessage(e), request_id: req.id } },
});

export const leadlexNotFound = (req: { id: string }) => ({
  error: { code: 'not_found', message: 'Not found', request_id: req.id },
});
