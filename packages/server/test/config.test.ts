import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, type Config, ConfigError, loadConfig } from '../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  test('defaults give the zero-config SQLite mode', () => {
    const c = loadConfig({});
    const dataDir = path.resolve('./data');
    assert.deepEqual(
      { ...c },
      {
        host: '127.0.0.1',
        port: 8080,
        dataDir,
        databaseUrl: `sqlite:${path.join(dataDir, 'parley.db')}`,
        redisUrl: null,
        logLevel: 'info',
        bodyLimit: 1024 * 1024,
        importBodyLimit: 256 * 1024 * 1024,
        rateLimit: 1200,
        rateLimitAnonymous: 120,
        rateLimitWindowSeconds: 60,
        idempotencyTtlSeconds: 86_400,
        trustProxy: false,
        bootstrap: true,
        corsOrigins: null,
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        keepAliveTimeoutMs: 72_000,
        pgPoolSize: 10,
        pgStatementTimeoutMs: 5000,
        pgConnectTimeoutMs: 3000,
        redisPrefix: 'parley:',
        redisTimeoutMs: 300,
        wsAllowedOrigins: null,
        wsHeartbeatMs: 25_000,
        wsMaxPayload: 65_536,
        wsMaxBufferedBytes: 4 * 1024 * 1024,
        wsAuthTimeoutMs: 5000,
        presenceLeaseMs: 30_000,
      },
    );
  });

  test('every PARLEY_ variable is read: each set to a valid non-default value lands in the config', () => {
    // one row per CONFIG_VARIABLES entry (the Record type makes a new variable without a row a
    // type error): the value to set, the config field it must reach and what it must become
    type Name = (typeof CONFIG_VARIABLES)[number][0];
    const rows: Record<Name, { set: string; field: keyof Config; want: unknown }> = {
      PARLEY_HOST: { set: '0.0.0.0', field: 'host', want: '0.0.0.0' },
      PARLEY_PORT: { set: '9001', field: 'port', want: 9001 },
      PARLEY_DATA_DIR: { set: '/tmp/parley-x', field: 'dataDir', want: '/tmp/parley-x' },
      PARLEY_DATABASE_URL: { set: 'postgres://u@db:5432/d', field: 'databaseUrl', want: 'postgres://u@db:5432/d' },
      PARLEY_REDIS_URL: { set: 'redis://localhost:6379', field: 'redisUrl', want: 'redis://localhost:6379' },
      PARLEY_LOG_LEVEL: { set: 'DEBUG', field: 'logLevel', want: 'debug' },
      PARLEY_BODY_LIMIT: { set: '2048', field: 'bodyLimit', want: 2048 },
      PARLEY_IMPORT_BODY_LIMIT: { set: '4096', field: 'importBodyLimit', want: 4096 },
      PARLEY_RATE_LIMIT: { set: '5', field: 'rateLimit', want: 5 },
      PARLEY_RATE_LIMIT_ANONYMOUS: { set: '6', field: 'rateLimitAnonymous', want: 6 },
      PARLEY_RATE_LIMIT_WINDOW: { set: '7', field: 'rateLimitWindowSeconds', want: 7 },
      PARLEY_IDEMPOTENCY_TTL: { set: '3600', field: 'idempotencyTtlSeconds', want: 3600 },
      PARLEY_TRUST_PROXY: { set: 'yes', field: 'trustProxy', want: true },
      PARLEY_BOOTSTRAP: { set: 'off', field: 'bootstrap', want: false },
      PARLEY_REQUEST_TIMEOUT_MS: { set: '5000', field: 'requestTimeoutMs', want: 5000 },
      PARLEY_HEADERS_TIMEOUT_MS: { set: '4000', field: 'headersTimeoutMs', want: 4000 },
      PARLEY_KEEP_ALIVE_TIMEOUT_MS: { set: '6000', field: 'keepAliveTimeoutMs', want: 6000 },
      PARLEY_PG_POOL_SIZE: { set: '3', field: 'pgPoolSize', want: 3 },
      PARLEY_PG_STATEMENT_TIMEOUT_MS: { set: '1234', field: 'pgStatementTimeoutMs', want: 1234 },
      PARLEY_PG_CONNECT_TIMEOUT_MS: { set: '2345', field: 'pgConnectTimeoutMs', want: 2345 },
      PARLEY_REDIS_PREFIX: { set: 'acme:', field: 'redisPrefix', want: 'acme:' },
      PARLEY_REDIS_TIMEOUT_MS: { set: '777', field: 'redisTimeoutMs', want: 777 },
      PARLEY_WS_ALLOWED_ORIGINS: {
        set: 'https://a.example, http://b.example:8080',
        field: 'wsAllowedOrigins',
        want: ['https://a.example', 'http://b.example:8080'],
      },
      PARLEY_WS_HEARTBEAT_MS: { set: '1500', field: 'wsHeartbeatMs', want: 1500 },
      PARLEY_WS_MAX_PAYLOAD: { set: '4096', field: 'wsMaxPayload', want: 4096 },
      PARLEY_WS_MAX_BUFFERED: { set: '65536', field: 'wsMaxBufferedBytes', want: 65_536 },
      PARLEY_WS_AUTH_TIMEOUT_MS: { set: '900', field: 'wsAuthTimeoutMs', want: 900 },
      PARLEY_PRESENCE_LEASE_SECONDS: { set: '12', field: 'presenceLeaseMs', want: 12_000 },
      PARLEY_CORS_ORIGINS: {
        set: 'https://app.example.com, http://localhost:5173',
        field: 'corsOrigins',
        want: ['https://app.example.com', 'http://localhost:5173'],
      },
    };
    const names = CONFIG_VARIABLES.map((v) => v[0]);
    assert.deepEqual(Object.keys(rows).sort(), [...names].sort(), 'a row for every listed variable, no other');
    const defaults = loadConfig({});
    const fields = Object.values(rows).map((r) => r.field);
    assert.deepEqual([...fields].sort(), Object.keys(defaults).sort(), 'every config field is fed by one variable');
    for (const [name, r] of Object.entries(rows)) {
      assert.notDeepEqual(r.want, defaults[r.field], `${name}: the test value must differ from the default`);
    }

    const c = loadConfig(Object.fromEntries(Object.entries(rows).map(([name, r]) => [name, r.set])));
    for (const [name, r] of Object.entries(rows)) {
      assert.deepEqual(c[r.field], r.want, `${name}=${r.set} must set ${r.field}`);
    }
    // each alone too, so one variable cannot pass by being derived from another
    for (const [name, r] of Object.entries(rows)) {
      const alone = loadConfig({ [name]: r.set });
      assert.deepEqual(alone[r.field], r.want, `${name}=${r.set} alone must set ${r.field}`);
    }
    // the database follows the data dir unless set
    assert.equal(loadConfig({ PARLEY_DATA_DIR: '/tmp/parley-x' }).databaseUrl, 'sqlite:/tmp/parley-x/parley.db');
  });

  test('every PARLEY_ name in src/config.ts is listed, and README.md tables exactly the listed variables', () => {
    const listed = CONFIG_VARIABLES.map((v) => v[0]).sort();
    const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
    const read = [...new Set([...source.matchAll(/'(PARLEY_[A-Z0-9_]+)'/g)].map((m) => m[1] as string))].sort();
    assert.deepEqual(read, listed, 'names quoted in src/config.ts = CONFIG_VARIABLES');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const tabled = [...readme.matchAll(/^\| `(PARLEY_[A-Z0-9_]+)`/gm)].map((m) => m[1] as string).sort();
    assert.deepEqual(tabled, listed, 'README.md configuration rows = CONFIG_VARIABLES (none missing, none stale)');
  });

  test('PORT and HOST are fallbacks; PARLEY_ wins; an empty value counts as unset', () => {
    const fallback = loadConfig({ PORT: '3000', HOST: '::' });
    assert.equal(fallback.port, 3000);
    assert.equal(fallback.host, '::');
    const both = loadConfig({ PORT: '3000', PARLEY_PORT: '4000', HOST: '::', PARLEY_HOST: '10.0.0.1' });
    assert.equal(both.port, 4000);
    assert.equal(both.host, '10.0.0.1');
    const empty = loadConfig({ PORT: '3000', PARLEY_PORT: '' });
    assert.equal(empty.port, 3000);
    assert.deepEqual(problemsOf({ PORT: 'http' }).length, 1, 'a bad fallback is reported too');
  });

  test('database URLs: sqlite: and postgres:// accepted; others refused without echoing a password', () => {
    assert.equal(loadConfig({ PARLEY_DATABASE_URL: 'sqlite:/x/y.db' }).databaseUrl, 'sqlite:/x/y.db');
    assert.equal(loadConfig({ PARLEY_DATABASE_URL: 'postgres://u:p@h:5432/d' }).databaseUrl, 'postgres://u:p@h:5432/d');
    assert.ok(loadConfig({ PARLEY_DATABASE_URL: 'postgresql://h/d' }));
    const [p] = problemsOf({ PARLEY_DATABASE_URL: 'mysql://root:hunter2@db/x' });
    assert.match(p ?? '', /PARLEY_DATABASE_URL/);
    assert.ok(!(p ?? '').includes('hunter2'), p);
  });

  test('every problem is reported at once, each naming its variable', () => {
    const env = {
      PARLEY_PORT: 'abc',
      PARLEY_LOG_LEVEL: 'loud',
      PARLEY_DATABASE_URL: 'mysql://x',
      PARLEY_REDIS_URL: 'memcached://x',
      PARLEY_BODY_LIMIT: '10',
      PARLEY_RATE_LIMIT: '-1',
      PARLEY_TRUST_PROXY: 'maybe',
      PARLEY_IDEMPOTENCY_TTL: '1.5',
    };
    const problems = problemsOf(env);
    assert.equal(problems.length, Object.keys(env).length, problems.join('\n'));
    for (const name of Object.keys(env)) {
      assert.equal(problems.filter((p) => p.includes(name)).length, 1, `exactly one problem names ${name}`);
    }
    try {
      loadConfig(env);
    } catch (err) {
      const message = (err as Error).message;
      for (const name of Object.keys(env)) assert.ok(message.includes(name), `message names ${name}`);
    }
  });

  test('range limits: port above 65535, body limit below 1 KiB', () => {
    assert.match(problemsOf({ PARLEY_PORT: '70000' })[0] ?? '', /PARLEY_PORT=70000 is out of range/);
    assert.equal(loadConfig({ PARLEY_PORT: '0' }).port, 0, '0 picks a free port');
    assert.match(problemsOf({ PARLEY_BODY_LIMIT: '1023' })[0] ?? '', /out of range/);
  });

  test('overrides win over the environment', () => {
    const c = loadConfig({ PARLEY_PORT: '9000' }, { port: 1234, logLevel: 'silent' });
    assert.equal(c.port, 1234);
    assert.equal(c.logLevel, 'silent');
  });

  test('the result is frozen', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
    assert.equal(c.port, 8080);
  });
});
