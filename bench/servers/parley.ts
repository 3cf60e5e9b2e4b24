/**
 * Parley as the benchmark runs it: the real createParley over an existing database, bootstrap
 * off, logs either silent or at info into /dev/null (so the cost of producing them is measured).
 * Forked by the bench harness; reports its URL over IPC.
 *
 * `erasure: 'off'` (SQLite, the secure-delete scenario only) turns off what makes a delete erase
 * on disk: the connection's secure_delete pragma and FTS5's secure-delete option of both
 * full-text tables (stored in the database file: give this variant a copy of its own). It exists
 * here, in the bench, to price erasure; Parley itself has no switch to turn it off.
 */
import os from 'node:os';
import pino from 'pino';
import { loadConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/log.js';
import { createParley } from '../../packages/server/src/parley.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as {
  databaseUrl: string;
  log: 'silent' | 'info-devnull';
  erasure?: 'on' | 'off';
  /** PARLEY_REQUEST_TIMEOUT_MS (also the socket's idle timeout): the lifecycle scenarios' long calls need more than 30 s on a loaded machine. */
  requestTimeoutMs?: number;
  /** PARLEY_PG_STATEMENT_TIMEOUT_MS (idle-in-transaction is twice it), for the same reason. */
  pgStatementTimeoutMs?: number;
  /** PARLEY_JOB_POLL_MS (the erase scenario: 50). */
  jobPollMs?: number;
  /**
   * PARLEY_FTS_COMPACTION_INTERVAL, seconds (the lifecycle scenarios: 0, so the compaction they time
   * after each turn starts once the erasures are quiet, not up to 10 minutes later).
   */
  ftsCompactionIntervalS?: number;
};
const logLevel = opts.log === 'silent' ? 'silent' : 'info';
// group commit's settings (PARLEY_PG_GROUP_COMMIT=true: on PostgreSQL too), SQLite's synchronous mode, the jobs' batch size and the export workers
// may be given to the run (PARLEY_GROUP_COMMIT_MAX_WRITES=1 measures group commit off)
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      k.startsWith('PARLEY_GROUP_COMMIT_') ||
      k === 'PARLEY_PG_GROUP_COMMIT' ||
      k === 'PARLEY_SQLITE_SYNCHRONOUS' ||
      k === 'PARLEY_JOB_BATCH_SIZE' ||
      k === 'PARLEY_EXPORT_WORKERS',
  ),
);
const config = loadConfig(env, {
  http: {
    host: '127.0.0.1',
    port: 0,
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
  },
  database: {
    dataDir: os.tmpdir(),
    url: opts.databaseUrl,
    ...(opts.ftsCompactionIntervalS !== undefined ? { ftsCompactionInterval: opts.ftsCompactionIntervalS } : {}),
  },
  log: { level: logLevel },
  lifecycle: { bootstrap: false },
  ...(opts.pgStatementTimeoutMs ? { pg: { statementTimeoutMs: opts.pgStatementTimeoutMs } } : {}),
  ...(opts.jobPollMs ? { jobs: { pollMs: opts.jobPollMs } } : {}),
});
const logger =
  opts.log === 'silent'
    ? createLogger({ level: logLevel })
    : createLogger({ level: logLevel }, pino.destination('/dev/null'));
const parley = await createParley(config, { logger });
if (opts.erasure === 'off') {
  if (parley.store.engine !== 'sqlite') throw new Error("erasure: 'off' is a SQLite bench setting");
  const raw = (parley.store as unknown as { raw: import('better-sqlite3').Database }).raw;
  raw.pragma('secure_delete = OFF');
  raw.exec(`INSERT INTO message_idx (message_idx, rank) VALUES ('secure-delete', 0);
            INSERT INTO title_idx (title_idx, rank) VALUES ('secure-delete', 0);`);
}
const url = await parley.start();
process.send?.({ type: 'ready', url });
process.on('message', async (m: { type?: string }) => {
  if (m.type === 'stop') {
    await parley.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
