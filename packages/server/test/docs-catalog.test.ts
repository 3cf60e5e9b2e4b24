import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configDocs } from '../scripts/config-docs.js';
import { renderConfigBlocks } from '../src/config/table.js';
import { CONFIG_VARIABLES } from '../src/config.js';
import { DIALECTS } from '../src/dialects/registry.js';
import { ERROR_CATALOG, ERROR_CODES } from '../src/errors.js';
import { startServer, type TestServer, testEngines } from './helpers/harness.js';
import { NATIVE_ROUTES, STREAMING_ROUTES } from './helpers/routes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(here, '../../..');
const SRC = path.resolve(here, '../src');
const ERRORS_MD = path.join(REPO_ROOT, 'docs/errors.md');
/** A surface's alias prefixes (a gateway base path), each with the prefix it is documented under. */
const ALIASES = DIALECTS.flatMap((d) => d.prefixes.slice(1).map((alias) => [alias, d.prefixes[0]] as const));
const documentedPath = (p: string): string => {
  const hit = ALIASES.find(([alias]) => p.startsWith(`${alias}/`));
  return hit ? hit[1] + p.slice(hit[0].length) : p;
};
const isCompat = (p: string): boolean => DIALECTS.some((d) => d.prefixes.some((prefix) => p.startsWith(`${prefix}/`)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** Error-code literals used in the source: thrown, sent, listed in OpenAPI, or typed as ErrorCode. */
function codesUsedInSource(): Map<string, string> {
  const found = new Map<string, string>();
  const patterns = [
    /new ParleyError\(\s*['"`]([^'"`]+)['"`]/g,
    /errorBody\(\s*['"`]([^'"`]+)['"`]/g,
    /errorResponses\(([^)]*)\)/g,
    /(?<!typeof\s+)\bcode\s*(?:===|!==|:)\s*['"]([a-z_]+)['"]/g,
  ];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const rel = path.relative(SRC, file);
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        const arg = m[1] ?? '';
        // errorResponses('a', 'b', ...SPREAD): every quoted literal in its argument list
        const literals = re.source.startsWith('errorResponses')
          ? [...arg.matchAll(/['"]([^'"]+)['"]/g)].map((x) => x[1])
          : [arg];
        for (const code of literals) if (code) found.set(code, rel);
      }
    }
    // maps and lists typed as error codes, e.g. `Record<string, ErrorCode> = { X: 'payload_too_large' }`
    for (const m of text.matchAll(/ErrorCode(?:\[\]|>)\s*=\s*([[{][^;]*?[\]}]);/gs)) {
      for (const lit of (m[1] ?? '').matchAll(
        /:\s*['"]([a-z_]+)['"]|^\s*['"]([a-z_]+)['"],?$|[[,]\s*['"]([a-z_]+)['"]/gm,
      )) {
        const code = lit[1] ?? lit[2] ?? lit[3];
        if (code) found.set(code, rel);
      }
    }
  }
  return found;
}

/** Registered (method, path) pairs, read from Fastify's route tree; HEAD is Fastify's automatic twin of GET. */
function registeredRoutes(tree: string): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    const full = stack.join('').replace(/:([A-Za-z_]+)/g, '{$1}');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method && method !== 'HEAD') out.push({ method, path: full });
    }
  }
  return out;
}

for (const engine of testEngines()) {
  describe(`error catalog, docs and OpenAPI [${engine}]`, () => {
    let server: TestServer;
    let spec: any;

    before(async () => {
      server = await startServer(engine);
      const r = await fetch(`${server.url}/openapi.json`);
      assert.equal(r.status, 200);
      spec = await r.json();
    });
    after(async () => server.close());

    test('docs/errors.md lists every catalog code with its status', () => {
      const md = readFileSync(ERRORS_MD, 'utf8');
      for (const code of ERROR_CODES) {
        const { status } = ERROR_CATALOG[code];
        const row = new RegExp(`^\\|\\s*${status}\\s*\\|\\s*\`${code}\`\\s*\\|\\s*\\S`, 'm');
        assert.match(md, row, `docs/errors.md needs a row "| ${status} | \`${code}\` | meaning |"`);
      }
      // and documents no code the catalog lacks
      for (const m of md.matchAll(/^\|\s*\d{3}\s*\|\s*`([^`]+)`/gm)) {
        assert.ok((ERROR_CODES as string[]).includes(m[1] ?? ''), `docs/errors.md lists unknown code ${m[1]}`);
      }
    });

    test('every code used in src/ is in the catalog', () => {
      const used = codesUsedInSource();
      // the scan must actually see codes, or this test could never fail
      for (const code of ['invalid_key', 'insufficient_permissions', 'not_found', 'rate_limited', 'invalid_cursor']) {
        assert.ok(used.has(code), `the source scan found ${code}`);
      }
      for (const [code, file] of used) {
        assert.ok(code in ERROR_CATALOG, `${file} uses error code "${code}", which is not in ERROR_CATALOG`);
      }
    });

    test('/openapi.json: the Error schema lists every code, and each code’s status is documented with it', () => {
      const errorSchema = spec.components?.schemas?.Error;
      assert.ok(errorSchema, 'components.schemas.Error');
      const codeSchema = errorSchema.properties.error.properties.code;
      const listed = new Set<string>([
        ...(codeSchema.enum ?? []),
        ...(codeSchema.anyOf ?? codeSchema.oneOf ?? []).flatMap(
          (s: { enum?: string[]; const?: string }) => s.enum ?? (s.const ? [s.const] : []),
        ),
      ]);
      assert.deepEqual([...listed].sort(), [...ERROR_CODES].sort());

      const responses: Array<{ status: string; description: string; ref: string }> = [];
      for (const ops of Object.values(spec.paths) as Array<Record<string, { responses?: Record<string, unknown> }>>) {
        for (const op of Object.values(ops)) {
          for (const [status, res] of Object.entries(op.responses ?? {})) {
            const r = res as { description?: string; content?: Record<string, { schema?: { $ref?: string } }> };
            responses.push({
              status,
              description: r.description ?? '',
              ref: r.content?.['application/json']?.schema?.$ref ?? '',
            });
          }
        }
      }
      const emitted = codesUsedInSource();
      for (const code of ERROR_CODES) {
        const status = String(ERROR_CATALOG[code].status);
        const withStatus = responses.filter((r) => r.status === status && /Error$/.test(r.ref));
        assert.ok(withStatus.length > 0, `no ${status} Error response in /openapi.json (for ${code})`);
        // a code the source can answer with is named by at least one route that answers it; a
        // catalog code nothing emits yet (e.g. conversation_busy before realtime) is named by none
        if (emitted.has(code)) {
          assert.ok(
            withStatus.some((r) => r.description.includes(`\`${code}\``)),
            `no ${status} response in /openapi.json names ${code}, which ${emitted.get(code)} uses`,
          );
        }
      }
    });

    test('every /v1 operation documents the contract statuses (400, 401, 403, 429; 404 with an id)', () => {
      for (const [p, ops] of Object.entries(spec.paths) as Array<[string, Record<string, { responses?: object }>]>) {
        if (!p.startsWith('/v1/')) continue;
        for (const [method, op] of Object.entries(ops)) {
          const statuses = Object.keys(op.responses ?? {});
          // a {user_id} is the caller's name for a user, not a stored object that could be missing
          const withId = p.replace('{user_id}', '').includes('{');
          const need = ['400', '401', '403', '429', ...(withId ? ['404'] : [])];
          for (const s of need) assert.ok(statuses.includes(s), `${method.toUpperCase()} ${p} documents ${s}`);
        }
      }
    });

    test('every registered route is in /openapi.json (except the /docs and /console pages, /openapi.json itself and the / redirect)', () => {
      const routes = registeredRoutes(server.parley.app.printRoutes({ commonPrefix: false }));
      assert.ok(routes.length >= NATIVE_ROUTES.length, `parsed ${routes.length} routes from the route tree`);
      const missing: string[] = [];
      for (const r of routes) {
        if (r.path === '/openapi.json' || r.path === '/' || (r.path.startsWith('/docs') && r.path !== '/docs/errors')) {
          continue;
        }
        // the web console's page and files (http/routes/console.ts) are a UI, like /docs, not an API
        if (r.path === '/console' || r.path.startsWith('/console/')) continue;
        // an alias prefix (LeadLex's gateway base path) is documented once, under the surface's first prefix
        const documented = documentedPath(r.path);
        if (!spec.paths[documented]?.[r.method.toLowerCase()]) missing.push(`${r.method} ${r.path}`);
      }
      assert.deepEqual(missing, [], 'routes missing from /openapi.json');
      // and the route contract's table covers every native /v1 route
      const native = routes
        .filter((r) => r.path.startsWith('/v1/') && !isCompat(r.path))
        .map((r) => `${r.method} ${r.path}`)
        .filter((r) => !STREAMING_ROUTES.includes(r))
        .sort();
      const table = NATIVE_ROUTES.map(
        (r) => `${r.method} ${r.path.replace(/\{(key|ws|hold|webhook)_id\}/, '{id}')}`,
      ).sort();
      assert.deepEqual(table, native, 'test/helpers/routes.ts lists exactly the registered /v1 routes');
    });
  });
}

describe('configuration docs', () => {
  test('every configuration table in README.md and docs/ is the one the spec renders (npm run docs:config)', () => {
    const docs = configDocs();
    assert.ok(docs.includes(path.join(REPO_ROOT, 'README.md')), 'README.md holds the full configuration table');
    for (const file of docs) {
      const text = readFileSync(file, 'utf8');
      assert.equal(text, renderConfigBlocks(text), `${path.relative(REPO_ROOT, file)}: run npm run docs:config`);
    }
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    for (const v of CONFIG_VARIABLES) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${v.env}\``));
      assert.ok(row, `README.md has no configuration row for ${v.env}`);
      assert.ok(row.includes(`\`${v.defaultDoc}\``), `README.md row for ${v.env} shows its default ${v.defaultDoc}`);
      assert.ok(row.includes(v.parser.allowed), `README.md row for ${v.env} shows what it accepts`);
      if (v.fallback) assert.ok(row.includes(`\`${v.fallback}\``), `README.md row for ${v.env} names ${v.fallback}`);
    }
  });

  test('a table edited by hand is caught: rendering replaces the stale row', () => {
    const first = CONFIG_VARIABLES[0];
    assert.ok(first);
    const doc = `intro\n<!-- config-table -->\n| \`${first.env}\` | \`stale\` |\n<!-- /config-table -->\nafter\n`;
    const rendered = renderConfigBlocks(doc);
    assert.notEqual(rendered, doc);
    assert.ok(rendered.startsWith('intro\n<!-- config-table -->\n| variable'), rendered);
    assert.ok(rendered.endsWith('<!-- /config-table -->\nafter\n'), rendered);
    assert.ok(!rendered.includes('`stale`'));
    assert.throws(() => renderConfigBlocks('<!-- config-table groups=nope -->\n<!-- /config-table -->'), /nope/);
  });

  test('every PARLEY_ name the docs mention is a variable of the spec (or a test or remote-CLI setting)', () => {
    const known = new Set<string>(CONFIG_VARIABLES.map((v) => v.env));
    const pages = [path.join(REPO_ROOT, 'README.md'), ...markdownUnder(path.join(REPO_ROOT, 'docs'))];
    for (const file of pages) {
      const text = readFileSync(file, 'utf8');
      for (const [name] of text.matchAll(/\bPARLEY_[A-Z0-9_]+\b/g)) {
        if (name.startsWith('PARLEY_TEST_') || NOT_SERVER_CONFIG.has(name)) continue;
        assert.ok(known.has(name), `${path.relative(REPO_ROOT, file)} mentions ${name}, which the spec does not have`);
      }
    }
  });
});

/** PARLEY_ names that are not server configuration: the remote CLI's server and key, the soak test's length. */
const NOT_SERVER_CONFIG = new Set(['PARLEY_URL', 'PARLEY_KEY', 'PARLEY_SOAK_SECONDS', 'PARLEY_SOAK_RATE']);

function markdownUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return markdownUnder(full);
    return full.endsWith('.md') ? [full] : [];
  });
}

describe('API reference page', () => {
  test('/docs and its assets are served locally, with no address outside this server', async () => {
    const server = await startServer('sqlite');
    try {
      const page = await fetch(`${server.url}/docs/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
      assert.ok(assets.length >= 3, 'the page loads its scripts and styles');
      for (const a of assets) {
        assert.ok(!/^(https?:)?\/\//.test(a), `asset ${a} must be local`);
        const r = await fetch(new URL(a, `${server.url}/docs/`));
        assert.equal(r.status, 200, `asset ${a}`);
        await r.arrayBuffer();
      }
      const init = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
      assert.match(init, /validatorUrl["']?\s*:\s*null/, 'no online validator badge');
    } finally {
      await server.close();
    }
  });
});
