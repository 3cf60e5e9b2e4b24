import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config.js';

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
        rateLimit: 1200,
        rateLimitAnonymous: 120,
        rateLimitWindowSeconds: 60,
        idempotencyTtlSeconds: 86_400,
        trustProxy: false,
        bootstrap: true,
        requestTimeoutMs: 30_000,
        pgPoolSize: 10,
        pgStatementTimeoutMs: 5000,
        pgConnectTimeoutMs: 3000,
        redisPrefix: 'parley:',
        redisTimeoutMs: 300,
        corsOrigins: null,
        wsAllowedOrigins: null,
        wsHeartbeatMs: 25_000,
        wsMaxPayload: 65_536,
        wsMaxBufferedBytes: 4 * 1024 * 1024,
        wsAuthTimeoutMs: 5000,
        presenceLeaseMs: 30_000,
      },
    );
  });

  test('every PARLEY_ variable is read', () => {
    const c = loadConfig({
      PARLEY_HOST: '0.0.0.0',
      PARLEY_PORT: '9001',
      PARLEY_DATA_DIR: '/tmp/parley-x',
      PARLEY_REDIS_URL: 'redis://localhost:6379',
      PARLEY_LOG_LEVEL: 'DEBUG',
      PARLEY_BODY_LIMIT: '2048',
      PARLEY_RATE_LIMIT: '5',
      PARLEY_RATE_LIMIT_ANONYMOUS: '6',
      PARLEY_RATE_LIMIT_WINDOW: '7',
      PARLEY_IDEMPOTENCY_TTL: '3600',
      PARLEY_TRUST_PROXY: 'yes',
      PARLEY_BOOTSTRAP: 'off',
      PARLEY_REQUEST_TIMEOUT_MS: '5000',
      PARLEY_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    });
    assert.deepEqual(c.corsOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 9001);
    assert.equal(c.dataDir, '/tmp/parley-x');
    assert.equal(c.databaseUrl, 'sqlite:/tmp/parley-x/parley.db', 'the database follows the data dir');
    assert.equal(c.redisUrl, 'redis://localhost:6379');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.bodyLimit, 2048);
    assert.equal(c.rateLimit, 5);
    assert.equal(c.rateLimitAnonymous, 6);
    assert.equal(c.rateLimitWindowSeconds, 7);
    assert.equal(c.idempotencyTtlSeconds, 3600);
    assert.equal(c.trustProxy, true);
    assert.equal(c.bootstrap, false);
    assert.equal(c.requestTimeoutMs, 5000);
    // each variable above is one listed for the README table
    const listed = new Set<string>(CONFIG_VARIABLES.map((v) => v[0]));
    for (const name of ['PARLEY_HOST', 'PARLEY_PORT', 'PARLEY_DATA_DIR', 'PARLEY_DATABASE_URL', 'PARLEY_REDIS_URL']) {
      assert.ok(listed.has(name), name);
    }
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
      PARLEY_CORS_ORIGINS: 'app.example.com',
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
