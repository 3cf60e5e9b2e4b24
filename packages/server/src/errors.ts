/**
 * The one catalog of error codes. Services throw ParleyError with one of these codes; the
 * HTTP edge maps code -> status once (and each compat dialect maps it to its product's shape).
 * docs/errors.md must list every code here; a test enforces it.
 */
export const ERROR_CATALOG = {
  validation_failed: { status: 400, description: 'The request body, query or path did not match the schema.' },
  invalid_json: { status: 400, description: 'The request body is not valid JSON (or its bytes are not UTF-8).' },
  invalid_cursor: {
    status: 400,
    description: 'The pagination cursor is malformed, tampered with, or belongs to another query or workspace.',
  },
  invalid_idempotency_key: {
    status: 400,
    description: 'The Idempotency-Key header is empty, longer than 255 characters, or not printable ASCII.',
  },
  webhook_address_not_allowed: {
    status: 400,
    description:
      'The webhook URL resolves to a loopback, private, link-local or other non-public address (or does not resolve); the operator can allow these with PARLEY_WEBHOOKS_ALLOW_PRIVATE=true.',
  },
  invalid_key: { status: 401, description: 'The API key is missing, malformed, unknown, revoked or expired.' },
  insufficient_permissions: {
    status: 403,
    description:
      'The API key lacks the scope this operation needs (the message names it), or is bound to a user and named another.',
  },
  origin_not_allowed: {
    status: 403,
    description: 'The Origin header is not allowed to open live streams (PARLEY_WS_ALLOWED_ORIGINS).',
  },
  not_found: {
    status: 404,
    description:
      "No such object in this workspace (objects of other workspaces, and other users' for a user-bound key, answer identically), or no such route.",
  },
  method_not_allowed: {
    status: 405,
    description: 'The path exists but not with this method; the Allow header lists the methods it answers.',
  },
  idempotency_in_progress: {
    status: 409,
    description: 'A request with this Idempotency-Key is still running; retry after the Retry-After delay.',
  },
  conversation_busy: {
    status: 409,
    description:
      'The conversation has live connections and the delete was asked with if_idle=true; retry, or delete without it.',
  },
  legal_hold: {
    status: 409,
    description:
      'An active legal hold covers the conversation: it cannot be deleted, purged or erased until the hold is released (bulk answers say which ids are held).',
  },
  conversation_in_trash: {
    status: 409,
    description:
      'The id names a conversation of this workspace that is in the trash (or still being erased): restore it, or let it be purged, then try again (an import answers this per line).',
  },
  last_admin_key: {
    status: 409,
    description: 'The key is the last active admin key of its workspace; create another admin key first.',
  },
  conversation_deleted: {
    status: 410,
    description:
      'A retry with this Idempotency-Key: the conversation its request created or changed was deleted since, and the stored answer (which held its content) was erased with it, or is withheld while the conversation is in the trash (a restore makes it replayable again).',
  },
  payload_too_large: { status: 413, description: 'The request body is larger than the configured limit.' },
  unsupported_media_type: {
    status: 415,
    description:
      'The request body is not application/json, or declares a charset other than UTF-8; send Content-Type: application/json.',
  },
  idempotency_key_reused: {
    status: 422,
    description: 'This Idempotency-Key was already used with a different request.',
  },
  rate_limited: {
    status: 429,
    description: 'Too many requests; wait until the time in Retry-After / X-RateLimit-Reset.',
  },
  internal_error: {
    status: 500,
    description: 'An unexpected error; the message never carries internal details. Report the request id.',
  },
  insufficient_storage: {
    status: 507,
    description:
      "The database's disk is full: nothing of the write was stored. Reads still work; retry once space is freed (Retry-After).",
  },
  service_unavailable: {
    status: 503,
    description: 'A backing service (database, Redis) is unavailable; retry after the Retry-After delay.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

export interface ErrorDetail {
  /** JSON-pointer-ish location of the problem: `/body/title`, `/query/per_page`, `/header/idempotency-key`. */
  field: string;
  message: string;
}

export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter: number | undefined;
  /** Extra machine-readable facts that are safe to show (e.g. live connection count). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { details?: ErrorDetail[]; retryAfter?: number; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.details = opts.details;
    this.retryAfter = opts.retryAfter;
    this.extra = opts.extra;
  }
}

export const notFound = (what = 'Conversation'): ParleyError => new ParleyError('not_found', `${what} not found`);

export const validation = (field: string, message: string): ParleyError =>
  new ParleyError('validation_failed', message, { details: [{ field, message }] });
