import path from 'node:path';
import { bool, directory, int, oneOf, origins, type Parser, text, url } from './parsers.js';

/** How an unset variable gets its value from variables resolved before it (by env name). */
export type DerivedDefault = (resolved: (env: string) => unknown) => string;

/**
 * One environment variable: where it is read from, its default, what it accepts, what it means.
 * loadConfig, the error messages and the README / docs tables all come from these rows.
 */
export interface Variable<T> {
  readonly env: `PARLEY_${string}`;
  /** A second name read when `env` is unset or empty (the platform's conventional one). */
  readonly fallback?: string;
  /**
   * The default as an operator would write it, parsed like a set value; derived from earlier
   * variables; or null: unset means "none" and the value is null.
   */
  readonly default: string | DerivedDefault | null;
  /** The default as the docs show it (the text itself unless derived or none). */
  readonly defaultDoc: string;
  readonly parser: Parser<T>;
  readonly doc: string;
  /** The raw value may hold a password: error messages show it redacted. */
  readonly secret?: boolean;
  /** Bounds the value by variables resolved before it (applied to overrides too). */
  limit?(value: T, resolved: (env: string) => unknown): T;
}

function variable<T>(row: {
  env: `PARLEY_${string}`;
  fallback?: string;
  default: string | { derive: DerivedDefault; doc: string };
  parser: Parser<T>;
  doc: string;
  secret?: boolean;
  limit?: (value: T, resolved: (env: string) => unknown) => T;
}): Variable<T> {
  const d = row.default;
  return {
    ...row,
    default: typeof d === 'string' ? d : d.derive,
    defaultDoc: typeof d === 'string' ? d : d.doc,
  };
}

/** A variable whose unset state means "none": its value is null then. */
function optional<T>(row: {
  env: `PARLEY_${string}`;
  unset: string;
  parser: Parser<T>;
  doc: string;
}): Variable<T | null> {
  return { env: row.env, default: null, defaultDoc: row.unset, parser: row.parser, doc: row.doc };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every variable, grouped as the config object is: `config.<group>.<field>`. */
export const CONFIG_SPEC = {
  http: {
    host: variable({
      env: 'PARLEY_HOST',
      fallback: 'HOST',
      default: '127.0.0.1',
      parser: text('an address or host name', ['0.0.0.0', '::']),
      doc: 'Address to listen on.',
    }),
    port: variable({
      env: 'PARLEY_PORT',
      fallback: 'PORT',
      default: '8080',
      parser: int(0, 65535),
      doc: 'TCP port to listen on (0 picks a free port).',
    }),
    bodyLimit: variable({
      env: 'PARLEY_BODY_LIMIT',
      default: '1048576',
      parser: int(1024, 64 * 1024 * 1024),
      doc: 'Largest accepted request body in bytes (larger: 413).',
    }),
    importBodyLimit: variable({
      env: 'PARLEY_IMPORT_BODY_LIMIT',
      default: '268435456',
      parser: int(1024, 16 * 1024 * 1024 * 1024),
      doc: 'Largest accepted JSONL import body (POST /v1/import) in bytes; it is read line by line, never held whole.',
    }),
    requestTimeoutMs: variable({
      env: 'PARLEY_REQUEST_TIMEOUT_MS',
      default: '30000',
      parser: int(1000, 600_000),
      doc: 'Time (ms) a whole request, headers and body, may take to arrive; a slower client gets 408 and is closed.',
    }),
    headersTimeoutMs: variable({
      env: 'PARLEY_HEADERS_TIMEOUT_MS',
      default: '10000',
      parser: int(100, 600_000),
      doc: 'Time (ms; capped at the request timeout) the request line and headers may take to arrive (slowloris): 408.',
      // the headers are part of the request: their bound is never longer than the request's
      limit: (ms, resolved) => Math.min(ms, resolved('PARLEY_REQUEST_TIMEOUT_MS') as number),
    }),
    keepAliveTimeoutMs: variable({
      env: 'PARLEY_KEEP_ALIVE_TIMEOUT_MS',
      default: '72000',
      parser: int(1000, 600_000),
      doc: 'An idle keep-alive connection is closed after this many ms.',
    }),
    trustProxy: variable({
      env: 'PARLEY_TRUST_PROXY',
      default: 'false',
      parser: bool(),
      doc: 'Trust X-Forwarded-For for the client address (true behind a load balancer).',
    }),
    corsOrigins: optional({
      env: 'PARLEY_CORS_ORIGINS',
      unset: '(none)',
      parser: origins(),
      doc: 'Browser Origins allowed to call the API (CORS). Default: no CORS headers at all.',
    }),
  },
  database: {
    dataDir: variable({
      env: 'PARLEY_DATA_DIR',
      default: './data',
      parser: directory((raw) => path.resolve(raw)),
      doc: 'Directory for the SQLite database; created if missing.',
    }),
    url: variable({
      env: 'PARLEY_DATABASE_URL',
      default: {
        derive: (resolved) => `sqlite:${path.join(resolved('PARLEY_DATA_DIR') as string, 'parley.db')}`,
        doc: 'sqlite:<data dir>/parley.db',
      },
      parser: url(
        '`sqlite:<path>` or `postgres://user@host:port/db`',
        [/^sqlite:.+/, /^postgres(ql)?:\/\/.+/],
        ['postgres://u@db:5432/d', 'sqlite:/x/y.db'],
      ),
      doc: 'The database: a SQLite file, or PostgreSQL.',
      secret: true,
    }),
    sqliteSynchronous: variable({
      env: 'PARLEY_SQLITE_SYNCHRONOUS',
      default: 'normal',
      parser: oneOf(['normal', 'full'] as const),
      doc: 'SQLite durability: `normal` (WAL; a commit survives a process crash, an OS crash or power loss may lose the last ones) or `full` (every commit fsynced first). A write is answered only once its commit is durable in this mode; group commit shares one commit (and fsync) among concurrent writes.',
    }),
    ftsCompactionInterval: variable({
      env: 'PARLEY_FTS_COMPACTION_INTERVAL',
      default: '600',
      parser: int(0, 86_400),
      doc: "SQLite: the background full-text compaction, which merges deleted and edited rows' words out of the index, starts at most once per this many seconds (and only once erasures have been quiet for a second); each run rewrites the index segments holding tombstones, so a short interval costs writes on a large index. 0: after every burst of erasures. The first run after a start comes at once.",
    }),
    groupCommitMaxWrites: variable({
      env: 'PARLEY_GROUP_COMMIT_MAX_WRITES',
      default: '64',
      parser: int(1, 10_000),
      doc: 'Group commit: concurrent writes that arrive while a transaction runs share the next one (SQLite: all writes; PostgreSQL with `PARLEY_PG_GROUP_COMMIT`: those of one workspace), at most this many, each in its own savepoint and answered after the shared commit. 1 turns it off.',
    }),
    groupCommitWindowMs: variable({
      env: 'PARLEY_GROUP_COMMIT_WINDOW_MS',
      default: '10',
      parser: int(0, 1000),
      doc: 'Group commit: a shared transaction takes no new write once it has been open this long (ms); it never waits for writes to come. 0 turns group commit off.',
    }),
    exportWorkers: variable({
      env: 'PARLEY_EXPORT_WORKERS',
      default: '0',
      parser: int(0, 16),
      doc: 'SQLite: worker threads that read and render exports (GET /v1/export, GET /v1/conversations/{id}/export) beside the main thread, each with a read-only connection of its own; started by the first export, stopped after a minute without one. 0 (the default) exports on the main thread: on a shared 2-core machine the workers cost more CPU per message and memory than they gained (bench/RESULTS.md, export round three). PostgreSQL exports always run on the main thread.',
    }),
  },
  pg: {
    poolSize: variable({
      env: 'PARLEY_PG_POOL_SIZE',
      default: '10',
      parser: int(1, 1000),
      doc: 'PostgreSQL connections per instance (instances × pool size must stay below `max_connections`).',
    }),
    statementTimeoutMs: variable({
      env: 'PARLEY_PG_STATEMENT_TIMEOUT_MS',
      default: '5000',
      parser: int(100, 600_000),
      doc: 'PostgreSQL statement timeout in ms (the client gives up 1 s later); a slower statement answers 503.',
    }),
    connectTimeoutMs: variable({
      env: 'PARLEY_PG_CONNECT_TIMEOUT_MS',
      default: '3000',
      parser: int(100, 10_000),
      doc: 'Wait at most this long (ms) for a PostgreSQL connection (new, or a free one in a full pool) before answering 503.',
    }),
    groupCommit: variable({
      env: 'PARLEY_PG_GROUP_COMMIT',
      default: 'false',
      parser: bool(),
      doc: 'Group commit on PostgreSQL too (`PARLEY_GROUP_COMMIT_MAX_WRITES`, `PARLEY_GROUP_COMMIT_WINDOW_MS`; one group per workspace at a time). Off by default: not yet measured to pay there.',
    }),
  },
  redis: {
    url: optional({
      env: 'PARLEY_REDIS_URL',
      unset: '(none)',
      parser: url('`redis://host:port` or `rediss://…`', [/^rediss?:\/\/.+/], ['redis://localhost:6379']),
      doc: 'Redis for state shared by several instances (rate limits, live-stream fan-out, presence).',
    }),
    prefix: variable({
      env: 'PARLEY_REDIS_PREFIX',
      default: 'parley:',
      parser: text('any text', ['acme:']),
      doc: 'Prefix of every Redis key and channel (several deployments can share one Redis).',
    }),
    timeoutMs: variable({
      env: 'PARLEY_REDIS_TIMEOUT_MS',
      default: '300',
      parser: int(50, 5000),
      doc: 'Redis command timeout in ms; past it an instance uses its own rate limiter until Redis answers again.',
    }),
  },
  ws: {
    allowedOrigins: optional({
      env: 'PARLEY_WS_ALLOWED_ORIGINS',
      unset: '(same host)',
      parser: origins(),
      doc: 'Origins allowed to open live streams. Default: requests without Origin, or whose Origin host equals Host.',
    }),
    heartbeatMs: variable({
      env: 'PARLEY_WS_HEARTBEAT_MS',
      default: '25000',
      parser: int(50, 300_000),
      doc: 'Live-stream ping / SSE comment interval in ms; a WebSocket missing one pong is dropped.',
    }),
    maxPayload: variable({
      env: 'PARLEY_WS_MAX_PAYLOAD',
      default: '65536',
      parser: int(1024, 16 * 1024 * 1024),
      doc: 'Largest client WebSocket frame in bytes (larger: close 1009).',
    }),
    maxBufferedBytes: variable({
      env: 'PARLEY_WS_MAX_BUFFERED',
      default: '4194304',
      parser: int(16 * 1024, 1024 * 1024 * 1024),
      doc: 'Bytes queued to one slow stream client before it is closed (1013).',
    }),
    authTimeoutMs: variable({
      env: 'PARLEY_WS_AUTH_TIMEOUT_MS',
      default: '5000',
      parser: int(50, 120_000),
      doc: 'Time (ms) a WebSocket opened without credentials has to authenticate in its first frame.',
    }),
    presenceLeaseMs: variable({
      env: 'PARLEY_PRESENCE_LEASE_SECONDS',
      default: '30',
      parser: int(5, 45, 1000),
      doc: "Presence lease in Redis, in seconds: bound for a killed instance's connections to stop counting.",
    }),
  },
  limits: {
    rate: variable({
      env: 'PARLEY_RATE_LIMIT',
      default: '1200',
      parser: int(1, 10_000_000),
      doc: 'Requests per window per API key (a key can carry its own limit).',
    }),
    rateAnonymous: variable({
      env: 'PARLEY_RATE_LIMIT_ANONYMOUS',
      default: '120',
      parser: int(1, 10_000_000),
      doc: 'Requests per window per client address without a valid key.',
    }),
    windowSeconds: variable({
      env: 'PARLEY_RATE_LIMIT_WINDOW',
      default: '60',
      parser: int(1, 86_400),
      doc: 'Rate-limit window in seconds (fixed windows aligned to the epoch).',
    }),
  },
  idempotency: {
    ttlSeconds: variable({
      env: 'PARLEY_IDEMPOTENCY_TTL',
      default: '86400',
      parser: int(60, 30 * 86_400),
      doc: 'Seconds an Idempotency-Key and its stored answer are kept.',
    }),
    lockSeconds: variable({
      env: 'PARLEY_IDEMPOTENCY_LOCK',
      default: '60',
      parser: int(2, 3600),
      doc: "Seconds a running request holds its Idempotency-Key; a retry meanwhile gets 409 idempotency_in_progress. After an instance dies, its requests' keys are free again after this long, so keep it above the longest write request takes.",
    }),
  },
  log: {
    level: variable({
      env: 'PARLEY_LOG_LEVEL',
      default: 'info',
      parser: oneOf(LOG_LEVELS),
      doc: 'Log level (JSON lines on stdout).',
    }),
  },
  lifecycle: {
    bootstrap: variable({
      env: 'PARLEY_BOOTSTRAP',
      default: 'true',
      parser: bool(),
      doc: 'On an empty database, create the default workspace and print an admin key once.',
    }),
    shutdownGraceMs: variable({
      env: 'PARLEY_SHUTDOWN_GRACE_MS',
      default: '10000',
      parser: int(0, 600_000),
      doc: 'On SIGTERM/SIGINT: time (ms) requests in flight get to finish before their connections are closed.',
    }),
    purgeIntervalSeconds: variable({
      env: 'PARLEY_PURGE_INTERVAL',
      default: '60',
      parser: int(1, 86_400),
      doc: 'Seconds between purge sweeps: trash past its window, and permanent deletes a crash left half-done, are erased.',
    }),
  },
  webhooks: {
    allowPrivate: variable({
      env: 'PARLEY_WEBHOOKS_ALLOW_PRIVATE',
      default: 'false',
      parser: bool(),
      doc: 'Let webhook endpoints target loopback, private, link-local and other non-public addresses.',
    }),
    timeoutMs: variable({
      env: 'PARLEY_WEBHOOKS_TIMEOUT_MS',
      default: '10000',
      parser: int(100, 60_000),
      doc: 'Time (ms) one webhook delivery attempt may take: connect, send, answer.',
    }),
    pollMs: variable({
      env: 'PARLEY_WEBHOOKS_POLL_MS',
      default: '1000',
      parser: int(10, 600_000),
      doc: 'How often (ms) the delivery worker looks for due webhook deliveries (it is also woken by each commit).',
    }),
    retryBaseSeconds: variable({
      env: 'PARLEY_WEBHOOKS_RETRY_BASE_SECONDS',
      default: '30',
      parser: int(1, 3600),
      doc: 'First webhook retry delay; each next one doubles (with jitter) up to one hour.',
    }),
    retryHours: variable({
      env: 'PARLEY_WEBHOOKS_RETRY_HOURS',
      default: '24',
      parser: int(24, 720),
      doc: 'A failing webhook delivery is retried until it is this old, then marked failed.',
    }),
    secretOverlapHours: variable({
      env: 'PARLEY_WEBHOOKS_SECRET_OVERLAP_HOURS',
      default: '24',
      parser: int(0, 720),
      doc: 'After a webhook secret rotation, the old secret still signs (a second signature) this long.',
    }),
  },
  jobs: {
    pollMs: variable({
      env: 'PARLEY_JOB_POLL_MS',
      default: '1000',
      parser: int(10, 600_000),
      doc: 'How often an idle instance looks for queued jobs (erase, retention), in ms.',
    }),
    leaseMs: variable({
      env: 'PARLEY_JOB_LEASE_SECONDS',
      default: '30',
      parser: int(1, 3600, 1000),
      doc: 'Lease of a running job, in seconds: an instance that dies mid-job hands it to another after this long.',
    }),
    batchSize: variable({
      env: 'PARLEY_JOB_BATCH_SIZE',
      default: '200',
      parser: int(1, 10_000),
      doc: 'Most conversations per batch of a lifecycle job (retention run, user erase); each batch is one short transaction, and an erase takes fewer when a transaction runs past its time budget (~40 ms on SQLite).',
    }),
    eraseVacuum: variable({
      env: 'PARLEY_ERASE_VACUUM',
      default: 'plain',
      parser: oneOf(['plain', 'full', 'off'] as const),
      doc: 'PostgreSQL, end of a user erase: `plain` VACUUM (no lock; freed bytes stay in the files until reused), `full` (rewrites the tables: no freed bytes left, exclusive lock per table while it runs), `off`.',
    }),
    eraseExportHours: variable({
      env: 'PARLEY_ERASE_EXPORT_HOURS',
      default: '24',
      parser: int(1, 720),
      doc: 'Hours the export file of an erase with `export_first` (under `<data dir>/job-artifacts/`) stays downloadable at `GET /v1/jobs/{id}/export`; then it is deleted.',
    }),
    retentionIntervalMs: variable({
      env: 'PARLEY_RETENTION_INTERVAL_SECONDS',
      default: '3600',
      parser: int(0, 30 * 86_400, 1000),
      doc: 'How often retention policies are enforced, in seconds (one instance at a time); 0 = only on POST /v1/retention/run.',
    }),
  },
} as const satisfies Record<string, Record<string, Variable<unknown>>>;

export type ConfigSpec = typeof CONFIG_SPEC;
export type ConfigGroup = keyof ConfigSpec;

/** One row of the spec with its place in the config object. */
export interface ConfigVariable extends Variable<unknown> {
  readonly group: ConfigGroup;
  readonly field: string;
}

/** Every variable, in spec order (groups in order, fields in order). */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = Object.freeze(
  Object.entries(CONFIG_SPEC).flatMap(([group, fields]) =>
    Object.entries(fields as Record<string, Variable<unknown>>).map(([field, v]) =>
      Object.freeze({ ...v, group: group as ConfigGroup, field }),
    ),
  ),
);
