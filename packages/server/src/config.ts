import path from 'node:path';

/**
 * Configuration: read the environment once, validate everything, report every problem at once,
 * freeze. Defaults give the zero-config SQLite mode. Every variable is listed in README.md.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** `sqlite:<path>` (default `<dataDir>/parley.db`) or `postgres://...`. */
  readonly databaseUrl: string;
  readonly redisUrl: string | null;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest accepted request body, bytes. */
  readonly bodyLimit: number;
  /** Largest accepted import body (POST /v1/import, read line by line), bytes. */
  readonly importBodyLimit: number;
  /** Requests a key may make per window (a key may carry its own limit). */
  readonly rateLimit: number;
  /** Requests per window for callers without a valid key, per client address. */
  readonly rateLimitAnonymous: number;
  readonly rateLimitWindowSeconds: number;
  /** How long idempotency records are kept. */
  readonly idempotencyTtlSeconds: number;
  /** Whether to trust X-Forwarded-For for the client address (behind a load balancer). */
  readonly trustProxy: boolean;
  /** Create the default workspace and print an instance admin key when the database is empty. */
  readonly bootstrap: boolean;
  /** Whole request (headers and body) must arrive within this long, else 408 and the socket closes. */
  readonly requestTimeoutMs: number;
  /** The request line and headers must arrive within this long (slowloris), else 408. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** PostgreSQL: connections per instance. */
  readonly pgPoolSize: number;
  /** PostgreSQL: server-side statement timeout (and, +1 s, the client-side query timeout). */
  readonly pgStatementTimeoutMs: number;
  /** PostgreSQL: how long to wait for a connection (new or from a full pool) before answering 503. */
  readonly pgConnectTimeoutMs: number;
  /** Prefix of every Redis key and channel, so several deployments (or tests) can share one Redis. */
  readonly redisPrefix: string;
  /** Redis command timeout; past it the instance falls back to its own limiter. */
  readonly redisTimeoutMs: number;
  /** Browser origins answered with CORS headers (`*` = any); null = none, no CORS header is sent. */
  readonly corsOrigins: readonly string[] | null;
  /** Live streams: Origin values allowed to open them; null = the default rule (no Origin, or same host). */
  readonly wsAllowedOrigins: readonly string[] | null;
  /** Ping (WebSocket) / comment (SSE) interval; a WebSocket that misses one pong is dropped. */
  readonly wsHeartbeatMs: number;
  /** Largest frame a client may send, bytes (larger: close 1009). */
  readonly wsMaxPayload: number;
  /** Bytes queued to one slow client before it is closed (1013). */
  readonly wsMaxBufferedBytes: number;
  /** A WebSocket opened without credentials must authenticate in its first frame within this time. */
  readonly wsAuthTimeoutMs: number;
  /** Presence lease: a killed instance's connections stop counting after at most this long. */
  readonly presenceLeaseMs: number;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const CONFIG_VARIABLES = [
  ['PARLEY_HOST', 'HOST', '127.0.0.1', 'Address to listen on.'],
  ['PARLEY_PORT', 'PORT', '8080', 'TCP port to listen on (0 picks a free port).'],
  ['PARLEY_DATA_DIR', '', './data', 'Directory for the SQLite database; created if missing.'],
  ['PARLEY_DATABASE_URL', '', 'sqlite:<data dir>/parley.db', '`sqlite:<path>` or `postgres://user@host:port/db`.'],
  ['PARLEY_REDIS_URL', '', '(none)', '`redis://host:port` for state shared by several instances.'],
  ['PARLEY_LOG_LEVEL', '', 'info', 'One of fatal, error, warn, info, debug, trace, silent.'],
  ['PARLEY_BODY_LIMIT', '', '1048576', 'Largest accepted request body in bytes (larger: 413).'],
  [
    'PARLEY_IMPORT_BODY_LIMIT',
    '',
    '268435456',
    'Largest accepted JSONL import body (POST /v1/import) in bytes; it is read line by line, never held whole.',
  ],
  ['PARLEY_RATE_LIMIT', '', '1200', 'Requests per window per API key (a key can carry its own limit).'],
  ['PARLEY_RATE_LIMIT_ANONYMOUS', '', '120', 'Requests per window per client address without a valid key.'],
  ['PARLEY_RATE_LIMIT_WINDOW', '', '60', 'Rate-limit window in seconds (fixed windows aligned to the epoch).'],
  ['PARLEY_IDEMPOTENCY_TTL', '', '86400', 'Seconds an Idempotency-Key and its stored answer are kept.'],
  ['PARLEY_TRUST_PROXY', '', 'false', 'Trust X-Forwarded-For for the client address (true behind a load balancer).'],
  ['PARLEY_BOOTSTRAP', '', 'true', 'On an empty database, create the default workspace and print an admin key once.'],
  [
    'PARLEY_REQUEST_TIMEOUT_MS',
    '',
    '30000',
    'Time (ms) a whole request, headers and body, may take to arrive; a slower client gets 408 and is closed.',
  ],
  [
    'PARLEY_HEADERS_TIMEOUT_MS',
    '',
    '10000',
    'Time (ms; capped at the request timeout) the request line and headers may take to arrive (slowloris): 408.',
  ],
  ['PARLEY_KEEP_ALIVE_TIMEOUT_MS', '', '72000', 'An idle keep-alive connection is closed after this many ms.'],
  ['PARLEY_PG_POOL_SIZE', '', '10', 'PostgreSQL connections per instance.'],
  ['PARLEY_PG_STATEMENT_TIMEOUT_MS', '', '5000', 'PostgreSQL statement timeout in ms; a slower statement answers 503.'],
  [
    'PARLEY_PG_CONNECT_TIMEOUT_MS',
    '',
    '3000',
    'Wait at most this long (ms, max 10000) for a PostgreSQL connection before answering 503.',
  ],
  [
    'PARLEY_REDIS_PREFIX',
    '',
    'parley:',
    'Prefix of every Redis key and channel (several deployments can share one Redis).',
  ],
  [
    'PARLEY_REDIS_TIMEOUT_MS',
    '',
    '300',
    'Redis command timeout in ms; past it an instance uses its own rate limiter until Redis answers again.',
  ],
  [
    'PARLEY_CORS_ORIGINS',
    '',
    '(none)',
    'Browser Origins allowed to call the API (CORS): comma-separated, or `*`. Default: no CORS headers at all.',
  ],
  [
    'PARLEY_WS_ALLOWED_ORIGINS',
    '',
    '(same host)',
    'Comma-separated Origins allowed to open live streams, or `*`. Default: requests without Origin, or whose Origin host equals Host.',
  ],
  [
    'PARLEY_WS_HEARTBEAT_MS',
    '',
    '25000',
    'Live-stream ping / SSE comment interval; a WebSocket missing one pong is dropped.',
  ],
  ['PARLEY_WS_MAX_PAYLOAD', '', '65536', 'Largest client WebSocket frame in bytes (larger: close 1009).'],
  ['PARLEY_WS_MAX_BUFFERED', '', '4194304', 'Bytes queued to one slow stream client before it is closed (1013).'],
  [
    'PARLEY_WS_AUTH_TIMEOUT_MS',
    '',
    '5000',
    'Time a WebSocket opened without credentials has to authenticate in its first frame.',
  ],
  [
    'PARLEY_PRESENCE_LEASE_SECONDS',
    '',
    '30',
    "Presence lease in Redis (5 to 45): bound for a killed instance's connections to stop counting.",
  ],
] as const;

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const problems: string[] = [];
  const get = (name: string, fallback?: string): string | undefined => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback) {
      const f = env[fallback];
      if (f !== undefined && f !== '') return f;
    }
    return undefined;
  };
  const int = (name: string, def: number, min: number, max: number, fallback?: string): number => {
    const raw = get(name, fallback);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw.trim())) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number`);
      return def;
    }
    const n = Number(raw);
    if (n < min || n > max) problems.push(`${name}=${raw} is out of range [${min}, ${max}]`);
    return n;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return def;
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    problems.push(`${name}=${JSON.stringify(raw)} is not a boolean (true/false)`);
    return def;
  };

  const host = get('PARLEY_HOST', 'HOST') ?? '127.0.0.1';
  const port = int('PARLEY_PORT', 8080, 0, 65535, 'PORT');
  const dataDir = path.resolve(get('PARLEY_DATA_DIR') ?? './data');
  const databaseUrl = get('PARLEY_DATABASE_URL') ?? `sqlite:${path.join(dataDir, 'parley.db')}`;
  if (!/^sqlite:.+/.test(databaseUrl) && !/^postgres(ql)?:\/\/.+/.test(databaseUrl)) {
    problems.push(
      `PARLEY_DATABASE_URL must start with sqlite: or postgres:// (got ${JSON.stringify(redact(databaseUrl))})`,
    );
  }
  const redisUrl = get('PARLEY_REDIS_URL') ?? null;
  if (redisUrl !== null && !/^rediss?:\/\/.+/.test(redisUrl)) {
    problems.push(`PARLEY_REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(redact(redisUrl))})`);
  }
  const logLevelRaw = (get('PARLEY_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`PARLEY_LOG_LEVEL=${JSON.stringify(logLevelRaw)} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const config: Config = {
    host,
    port,
    dataDir,
    databaseUrl,
    redisUrl,
    logLevel: ((LOG_LEVELS as readonly string[]).includes(logLevelRaw) ? logLevelRaw : 'info') as Config['logLevel'],
    bodyLimit: int('PARLEY_BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    importBodyLimit: int('PARLEY_IMPORT_BODY_LIMIT', 256 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024),
    rateLimit: int('PARLEY_RATE_LIMIT', 1200, 1, 10_000_000),
    rateLimitAnonymous: int('PARLEY_RATE_LIMIT_ANONYMOUS', 120, 1, 10_000_000),
    rateLimitWindowSeconds: int('PARLEY_RATE_LIMIT_WINDOW', 60, 1, 86_400),
    idempotencyTtlSeconds: int('PARLEY_IDEMPOTENCY_TTL', 86_400, 60, 30 * 86_400),
    trustProxy: bool('PARLEY_TRUST_PROXY', false),
    bootstrap: bool('PARLEY_BOOTSTRAP', true),
    requestTimeoutMs: int('PARLEY_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    headersTimeoutMs: int('PARLEY_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    keepAliveTimeoutMs: int('PARLEY_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 600_000),
    pgPoolSize: int('PARLEY_PG_POOL_SIZE', 10, 1, 1000),
    pgStatementTimeoutMs: int('PARLEY_PG_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
    pgConnectTimeoutMs: int('PARLEY_PG_CONNECT_TIMEOUT_MS', 3000, 100, 10_000),
    redisPrefix: get('PARLEY_REDIS_PREFIX') ?? 'parley:',
    redisTimeoutMs: int('PARLEY_REDIS_TIMEOUT_MS', 300, 50, 5000),
    corsOrigins: origins('PARLEY_CORS_ORIGINS', get('PARLEY_CORS_ORIGINS'), problems),
    wsAllowedOrigins: origins('PARLEY_WS_ALLOWED_ORIGINS', get('PARLEY_WS_ALLOWED_ORIGINS'), problems),
    wsHeartbeatMs: int('PARLEY_WS_HEARTBEAT_MS', 25_000, 50, 300_000),
    wsMaxPayload: int('PARLEY_WS_MAX_PAYLOAD', 65_536, 1024, 16 * 1024 * 1024),
    wsMaxBufferedBytes: int('PARLEY_WS_MAX_BUFFERED', 4 * 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024),
    wsAuthTimeoutMs: int('PARLEY_WS_AUTH_TIMEOUT_MS', 5000, 50, 120_000),
    presenceLeaseMs: int('PARLEY_PRESENCE_LEASE_SECONDS', 30, 5, 45) * 1000,
    ...overrides,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  // the headers are part of the request: their bound is never longer than the request's
  return Object.freeze({ ...config, headersTimeoutMs: Math.min(config.headersTimeoutMs, config.requestTimeoutMs) });
}

/** `*`, or a comma-separated list of `scheme://host[:port]` origins. */
function origins(name: string, raw: string | undefined, problems: string[]): readonly string[] | null {
  if (raw === undefined) return null;
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of list) {
    // `null` is what browsers send from file:// pages
    if (o !== '*' && o !== 'null' && !/^https?:\/\/[^/\s]+$/.test(o)) {
      problems.push(`${name}: ${JSON.stringify(o)} is not *, null or scheme://host[:port]`);
    }
  }
  return Object.freeze(list);
}

/** Hides a password in a URL before it is printed. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
