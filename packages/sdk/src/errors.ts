import type { ErrorCode } from './types.js';

export interface ErrorDetail {
  field: string;
  message: string;
}

/**
 * An error answer of the server: `code` is one of the catalog's codes (docs/errors.md), `requestId`
 * equals the answer's `X-Request-ID`, `retryAfter` is `Retry-After` in seconds when it was sent.
 */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfter: number | undefined;
  /** The whole `error` object, for facts a code adds (`live_connections` with `conversation_busy`). */
  readonly body: Record<string, unknown> | undefined;

  constructor(init: {
    code: ErrorCode;
    status: number;
    message: string;
    requestId?: string | undefined;
    details?: ErrorDetail[] | undefined;
    retryAfter?: number | undefined;
    body?: Record<string, unknown> | undefined;
  }) {
    super(init.message);
    this.name = 'ParleyError';
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }
}

/** The request never got an answer: DNS, refused or reset connection, a body cut short. */
export class ParleyConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParleyConnectionError';
  }
}

/** An attempt took longer than `timeoutMs` (after every allowed retry). */
export class ParleyTimeoutError extends ParleyConnectionError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`No answer within ${timeoutMs} ms`);
    this.name = 'ParleyTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}
