import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  CONFIG_SPEC,
  CONFIG_VARIABLES,
  type Config,
  ConfigError,
  type ConfigVariable,
  loadConfig,
} from '../src/config.js';
import { PG_DEFAULTS } from '../src/store/postgres/index.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected loadConfig to throw');
}

const fieldOf = (c: Config, v: ConfigVariable): unknown =>
  (c as unknown as Record<string, Record<string, unknown>>)[v.group]?.[v.field];

/** A value the variable accepts whose result differs from its default. */
function nonDefault(v: ConfigVariable, defaults: Config): { raw: string; value: unknown } {
  for (const raw of v.parser.examples) {
    const parsed = v.parser.parse(raw);
    assert.ok(parsed.ok, `${v.env}: its own example ${raw} is refused`);
    try {
      assert.notDeepEqual(parsed.value, fieldOf(defaults, v));
      return { raw, value: parsed.value };
    } catch {
      // equal to the default: try the next example
    }
  }
  assert.fail(`${v.env}: no example differs from the default`);
}

describe('loadConfig', () => {
  test('defaults give the zero-config SQLite mode', () => {
    const c = loadConfig({});
    const dataDir = path.resolve('./data');
    assert.deepEqual(JSON.parse(JSON.stringify(c)), {
      http: {
        host: '127.0.0.1',
        port: 8080,
        bodyLimit: 1024 * 1024,
        importBodyLimit: 256 * 1024 * 1024,
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        keepAliveTimeoutMs: 72_000,
        trustProxy: false,
        corsOrigins: null,
      },
      database: {
        dataDir,
        url: `sqlite:${path.join(dataDir, 'parley.db')}`,
        sqliteSynchronous: 'normal',
        ftsCompactionInterval: 600,
        groupCommitMaxWrites: 64,
        groupCommitWindowMs: 10,
        exportWorkers: 0,
      },
      pg: { poolSize: 10, statementTimeoutMs: 5000, connectTimeoutMs: 3000, groupCommit: false },
      redis: { url: null, prefix: 'parley:', timeoutMs: 300 },
      ws: {
        allowedOrigins: null,
        heartbeatMs: 25_000,
        maxPayload: 65_536,
        maxBufferedBytes: 4 * 1024 * 1024,
        authTimeoutMs: 5000,
        presenceLeaseMs: 30_000,
      },
      limits: { rate: 1200, rateAnonymous: 120, windowSeconds: 60 },
      idempotency: { ttlSeconds: 86_400, lockSeconds: 60 },
      log: { level: 'info' },
      lifecycle: { bootstrap: true, shutdownGraceMs: 10_000, purgeIntervalSeconds: 60 },
      webhooks: {
        allowPrivate: false,
        timeoutMs: 10_000,
        pollMs: 1000,
        retryBaseSeconds: 30,
        retryHours: 24,
        secretOverlapHours: 24,
      },
      jobs: {
        pollMs: 1000,
        leaseMs: 30_000,
        batchSize: 200,
        eraseVacuum: 'plain',
        eraseExportHours: 24,
        retentionIntervalMs: 3_600_000,
      },
    });
  });

  test('the config object has exactly the spec shape: one field per variable, one variable per field', () => {
    const c = loadConfig({});
    const fromSpec = Object.entries(CONFIG_SPEC).map(([g, fields]) => [g, Object.keys(fields).sort()]);
    const fromConfig = Object.entries(c).map(([g, fields]) => [g, Object.keys(fields as object).sort()]);
    assert.deepEqual(fromConfig, fromSpec);
    const envs = CONFIG_VARIABLES.map((v) => v.env);
    assert.equal(new Set(envs).size, envs.length, 'no variable is listed twice');
    assert.equal(CONFIG_VARIABLES.length, fromSpec.flatMap(([, f]) => f).length);
  });

  test('each default is valid for its own parser, and the docs show it as written', () => {
    for (const v of CONFIG_VARIABLES) {
      if (typeof v.default === 'string') {
        const parsed = v.parser.parse(v.default);
        assert.ok(parsed.ok, `${v.env}: default ${v.default} refused`);
        assert.equal(v.defaultDoc, v.default, `${v.env}: docs show the default text itself`);
      } else {
        assert.ok(v.defaultDoc.length > 0, `${v.env}: a derived or absent default is described`);
      }
    }
  });

  test('every variable of the spec is read: set alone to a non-default value, it changes its field and no other', () => {
    const defaults = loadConfig({});
    for (const v of CONFIG_VARIABLES) {
      const { raw, value } = nonDefault(v, defaults);
      const c = loadConfig({ [v.env]: raw });
      assert.deepEqual(fieldOf(c, v), value, `${v.env}=${raw} must set ${v.group}.${v.field}`);
      for (const other of CONFIG_VARIABLES) {
        // a derived default or a bound follows the variable it depends on (database.url on the
        // data dir, the headers timeout on the request timeout)
        if (other === v || typeof other.default === 'function' || other.limit !== undefined) continue;
        assert.deepEqual(fieldOf(c, other), fieldOf(defaults, other), `${v.env} must not change ${other.env}`);
      }
    }
    // all at once too
    const all = Object.fromEntries(CONFIG_VARIABLES.map((v) => [v.env, nonDefault(v, defaults).raw]));
    const c = loadConfig(all);
    for (const v of CONFIG_VARIABLES) assert.deepEqual(fieldOf(c, v), nonDefault(v, defaults).value, v.env);
    // the database follows the data dir unless set
    assert.equal(loadConfig({ PARLEY_DATA_DIR: '/tmp/parley-x' }).database.url, 'sqlite:/tmp/parley-x/parley.db');
  });

  test('every value out of range or of the wrong kind is refused, naming the variable and what it accepts', () => {
    const wrong: Record<string, string[]> = {};
    for (const v of CONFIG_VARIABLES) {
      const range = /^(\d+) to (\d+)$/.exec(v.parser.allowed);
      if (range) wrong[v.env] = [String(Number(range[1]) - 1), String(Number(range[2]) + 1), '1.5', 'ten'];
      else if (v.parser.allowed.startsWith('true or false')) wrong[v.env] = ['maybe'];
      else if (v.parser.examples.every((e) => /^[A-Z]+$/.test(e))) wrong[v.env] = ['loud'];
      else if (v.parser.allowed.includes('scheme://')) wrong[v.env] = ['ftp://x', 'https://a.example/path'];
      else if (v.parser.allowed.includes('://')) wrong[v.env] = ['mysql://x'];
    }
    for (const [env, values] of Object.entries(wrong)) {
      const v = CONFIG_VARIABLES.find((x) => x.env === env) as ConfigVariable;
      for (const raw of values) {
        const problems = problemsOf({ [env]: raw });
        assert.equal(problems.length, 1, `${env}=${raw}: ${problems.join('; ')}`);
        assert.ok(problems[0]?.startsWith(`${env}=`), problems[0]);
        assert.ok(problems[0]?.endsWith(`allowed: ${v.parser.allowed}`), problems[0]);
      }
    }
    // free text (host, prefix, data dir) is the only kind with nothing to refuse
    const unchecked = CONFIG_VARIABLES.filter((v) => !(v.env in wrong)).map((v) => v.env);
    assert.deepEqual(unchecked.sort(), ['PARLEY_DATA_DIR', 'PARLEY_HOST', 'PARLEY_REDIS_PREFIX']);
  });

  test('PORT and HOST are fallbacks; PARLEY_ wins; an empty value counts as unset', () => {
    const fallback = loadConfig({ PORT: '3000', HOST: '::' });
    assert.equal(fallback.http.port, 3000);
    assert.equal(fallback.http.host, '::');
    const both = loadConfig({ PORT: '3000', PARLEY_PORT: '4000', HOST: '::', PARLEY_HOST: '10.0.0.1' });
    assert.equal(both.http.port, 4000);
    assert.equal(both.http.host, '10.0.0.1');
    const empty = loadConfig({ PORT: '3000', PARLEY_PORT: '' });
    assert.equal(empty.http.port, 3000);
    const problems = problemsOf({ PORT: 'http' });
    assert.equal(problems.length, 1, 'a bad fallback is reported too');
    assert.equal(problems[0], 'PORT="http" (read for PARLEY_PORT) is not a whole number; allowed: 0 to 65535');
  });

  test('database URLs: sqlite: and postgres:// accepted; others refused without echoing a password', () => {
    assert.equal(loadConfig({ PARLEY_DATABASE_URL: 'sqlite:/x/y.db' }).database.url, 'sqlite:/x/y.db');
    assert.equal(
      loadConfig({ PARLEY_DATABASE_URL: 'postgres://u:p@h:5432/d' }).database.url,
      'postgres://u:p@h:5432/d',
    );
    assert.ok(loadConfig({ PARLEY_DATABASE_URL: 'postgresql://h/d' }));
    const [p] = problemsOf({ PARLEY_DATABASE_URL: 'mysql://root:hunter2@db/x' });
    assert.match(p ?? '', /^PARLEY_DATABASE_URL=/);
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
      PARLEY_SHUTDOWN_GRACE_MS: '600001',
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

  test('messages name the variable, the value and the allowed range', () => {
    assert.deepEqual(problemsOf({ PARLEY_PORT: '70000' }), [
      'PARLEY_PORT="70000" is out of range; allowed: 0 to 65535',
    ]);
    assert.equal(loadConfig({ PARLEY_PORT: '0' }).http.port, 0, '0 picks a free port');
    assert.deepEqual(problemsOf({ PARLEY_BODY_LIMIT: '1023' }), [
      'PARLEY_BODY_LIMIT="1023" is out of range; allowed: 1024 to 67108864',
    ]);
    assert.deepEqual(problemsOf({ PARLEY_LOG_LEVEL: 'loud' }), [
      'PARLEY_LOG_LEVEL="loud" is not an allowed value; allowed: fatal, error, warn, info, debug, trace, silent',
    ]);
    assert.equal(loadConfig({ PARLEY_PRESENCE_LEASE_SECONDS: '12' }).ws.presenceLeaseMs, 12_000, 'seconds in, ms kept');
  });

  test('overrides win over the environment, field by field within a group', () => {
    const c = loadConfig(
      { PARLEY_PORT: '9000', PARLEY_HOST: '10.0.0.1' },
      { http: { port: 1234 }, log: { level: 'silent' } },
    );
    assert.equal(c.http.port, 1234);
    assert.equal(c.http.host, '10.0.0.1', 'the other fields of the group stay');
    assert.equal(c.log.level, 'silent');
    const moved = loadConfig({}, { database: { dataDir: '/tmp/parley-y' } });
    assert.equal(moved.database.url, 'sqlite:/tmp/parley-y/parley.db', 'a derived default follows an override');
    assert.deepEqual(
      loadConfig({ PARLEY_PORT: 'abc' }, { http: { port: 1 } }).http.port,
      1,
      'an overridden variable is not read',
    );
  });

  test('the headers timeout is capped at the request timeout, from the environment or an override', () => {
    assert.equal(loadConfig({ PARLEY_REQUEST_TIMEOUT_MS: '2000' }).http.headersTimeoutMs, 2000);
    assert.equal(loadConfig({ PARLEY_HEADERS_TIMEOUT_MS: '600000' }).http.headersTimeoutMs, 30_000);
    assert.equal(loadConfig({}, { http: { requestTimeoutMs: 1500 } }).http.headersTimeoutMs, 1500);
    assert.equal(loadConfig({ PARLEY_HEADERS_TIMEOUT_MS: '500' }).http.headersTimeoutMs, 500, 'below it: kept');
  });

  test('the result is frozen, each group too', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    for (const g of Object.values(c)) assert.ok(Object.isFrozen(g));
    assert.throws(() => {
      (c.http as { port: number }).port = 1;
    }, TypeError);
    assert.equal(c.http.port, 8080);
  });

  test('the PostgreSQL store defaults (for callers without a config) equal the spec defaults', () => {
    // groupCommit is Parley's switch (whether it hands the store group settings), not a pool setting
    const { groupCommit, ...pool } = loadConfig({}).pg;
    assert.deepEqual({ ...PG_DEFAULTS }, pool);
    assert.equal(groupCommit, false);
  });

  test('no source file but the config loader reads a PARLEY_ variable (the remote CLI aside: its URL and key)', () => {
    const src = path.resolve(import.meta.dirname, '../src');
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) => {
        const full = path.join(dir, n);
        return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
      });
    const reads: string[] = [];
    for (const f of files(src)) {
      if (path.relative(src, f) === 'config.ts') continue;
      for (const m of readFileSync(f, 'utf8').matchAll(/process\.env(?:\.|\[['"])(PARLEY_\w+)/g)) {
        reads.push(`${path.relative(src, f)}: ${m[1]}`);
      }
    }
    // PARLEY_URL / PARLEY_KEY: where the remote CLI finds a server, not server configuration
    assert.deepEqual(reads.sort(), ['cli/remote/client.ts: PARLEY_KEY', 'cli/remote/client.ts: PARLEY_URL']);
    // the loader reads the environment only through the spec's names
    assert.doesNotMatch(readFileSync(path.join(src, 'config.ts'), 'utf8'), /process\.env\.|process\.env\[/);
  });
});
