import { ParleyError } from '../../errors.js';

/** Result codes that mean "another connection holds the database", never "your request is wrong". */
const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);

/**
 * A database still locked after busy_timeout (another process, such as the CLI, holding the
 * write lock) is 503 with Retry-After; anything else passes through unchanged.
 */
export function mapSqliteError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (BUSY_CODES.has(code) || code.startsWith('SQLITE_LOCKED_'))) {
    return new ParleyError('service_unavailable', 'The database is unavailable; retry shortly', {
      retryAfter: 1,
      cause: err,
    });
  }
  return err;
}
