import type { FastifyError } from 'fastify';
import { type ErrorCode, ParleyError } from '../errors.js';

/**
 * Any error a request ends with, as a Parley error from the catalog: our own as they are,
 * Fastify's validation and body refusals as the caller's 4xx, a busy or unreachable backing
 * service as 503, anything else as 500. Each surface then answers it in its own shape.
 */

/** Body problems that are the caller's: Fastify's own codes mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

interface AjvIssue {
  keyword?: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv's words, except where they hide what the caller should send: name the allowed values. */
function validationMessage(v: AjvIssue): string {
  if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) {
    return `must be one of ${v.params.allowedValues.map(String).join(', ')}`;
  }
  if (v.keyword === 'const' && v.params && 'allowedValue' in v.params) {
    return `must be ${String(v.params.allowedValue)}`;
  }
  return v.message ?? 'is invalid';
}

export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const fe = err as FastifyError & {
    validation?: AjvIssue[];
    validationContext?: string;
  };
  if (fe.validation) {
    const part =
      fe.validationContext === 'querystring'
        ? 'query'
        : fe.validationContext === 'params'
          ? 'path'
          : (fe.validationContext ?? 'body');
    // a value outside a closed list also fails its `type`; the list of allowed values says more
    const listed = new Set(fe.validation.filter((v) => v.keyword === 'enum').map((v) => v.instancePath));
    const details = fe.validation
      .filter((v) => !(v.keyword === 'type' && listed.has(v.instancePath)))
      .slice(0, 20)
      .map((v) => {
        const extra = v.params && 'additionalProperty' in v.params ? `/${String(v.params.additionalProperty)}` : '';
        const field = `/${part}${v.instancePath}${extra}`;
        const message = extra ? 'is not a known field' : validationMessage(v);
        return { field, message };
      });
    const first = details[0];
    return new ParleyError('validation_failed', first ? `${first.field} ${first.message}` : 'Invalid request', {
      details,
    });
  }
  if (fe.code && FASTIFY_CODES[fe.code]) {
    const code = FASTIFY_CODES[fe.code] as ErrorCode;
    const message =
      code === 'invalid_json'
        ? 'The request body is not valid JSON'
        : code === 'unsupported_media_type'
          ? 'The body must be JSON: send Content-Type: application/json'
          : fe.message;
    return new ParleyError(code, message);
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || (fe instanceof SyntaxError && fe.statusCode === 400)) {
    return new ParleyError('invalid_json', 'The request body is not valid JSON');
  }
  if (fe.message?.includes('__proto__') || fe.message?.includes('constructor')) {
    return new ParleyError(
      'invalid_json',
      'The request body uses a forbidden property name (__proto__ or constructor.prototype)',
    );
  }
  if (isUnavailable(err)) {
    return new ParleyError('service_unavailable', 'The database is unavailable; retry shortly', {
      retryAfter: 1,
      cause: err,
    });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ParleyError('validation_failed', fe.message);
  }
  return new ParleyError('internal_error', 'Internal server error', { cause: err });
}

/** Errors that mean "a backing service is busy or gone", not "a bug". */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    [
      'SQLITE_BUSY',
      'SQLITE_LOCKED',
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      '57P01',
      '57P02',
      '57P03',
      '08000',
      '08001',
      '08003',
      '08004',
      '08006',
      '53300',
      '53400',
      '57014',
      '40001',
      '40P01',
    ].includes(code)
  );
}
