import { ParleyError } from '../../errors.js';

/** Result codes that mean "another connection holds the database", never "your request is wrong". */
const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);

/**
 * A database still locked after busy_timeout (another process, such as the CLI, holding the
 * write lock) is 503 with Retry-After. A full disk (SQLITE_FULL: the file or the WAL could not
 * grow) is 507 insufficient_storage, and an I/O error (SQLITE_IOERR_*: a write, fsync or
 * truncate the file system refused, ENOSPC among them where SQLite reports it so) 503: SQLite
 * rolls the statement or transaction back in both cases, so nothing half-written stays, and the
 * next write succeeds once space is back. Anything else passes through unchanged.
 */
export function mapSqliteError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err;
  if (BUSY_CODES.has(code) || code.startsWith('SQLITE_LOCKED_')) {
    return new ParleyError('service_unavailable', 'The database is unavailable; retry shortly', {
      retryAfter: 1,
      cause: err,
    });
  }
  if (code === 'SQLITE_FULL') {
    return new ParleyError('insufficient_storage', "The database's disk is full; nothing was stored", {
      retryAfter: 30,
      cause: err,
    });
  }
  if (code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_')) {
    return new ParleyError('service_unavailable', 'The database could not write to its disk; retry shortly', {
      retryAfter: 5,
      cause: err,
    });
  }
  return err;
}
