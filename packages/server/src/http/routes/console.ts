import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { ParleyError } from '../../errors.js';
import { SERVER_ROOT } from '../../paths.js';
import type { App } from '../types.js';

const PACKAGES = path.dirname(SERVER_ROOT);
const CONSOLE_DIR = path.join(PACKAGES, 'console');
const DIST = path.join(CONSOLE_DIR, 'dist');
/** What the bundle is made of: a change to any of these makes dist/ stale. */
const SOURCES = [path.join(CONSOLE_DIR, 'src'), path.join(CONSOLE_DIR, 'build.mjs'), path.join(PACKAGES, 'sdk', 'src')];
const BUILD_COMMAND = 'npm run -w @parley/console build';

/**
 * The console's policy: scripts, styles, images and API calls from this server only; no inline
 * script or style, no framing, no plugins, no form posts elsewhere.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
}
type Built = { ok: true; index: Buffer; assets: Map<string, Asset> } | { ok: false; reason: string };

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

/** Why dist/ must be (re)built, or null when it is current. */
function staleness(): string | null {
  const index = path.join(DIST, 'index.html');
  if (!existsSync(index)) return 'dist/ is missing';
  return newestMtime(index) < Math.max(...SOURCES.map(newestMtime)) ? 'dist/ is older than its sources' : null;
}

function load(log: FastifyBaseLogger): Built {
  if (!existsSync(path.join(CONSOLE_DIR, 'build.mjs'))) {
    return { ok: false, reason: `packages/console is not part of this installation (${CONSOLE_DIR})` };
  }
  const why = staleness();
  if (why !== null) {
    log.info({ reason: why }, 'building the console');
    const r = spawnSync(process.execPath, [path.join(CONSOLE_DIR, 'build.mjs')], {
      cwd: CONSOLE_DIR,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) {
      const output = `${r.stderr ?? ''}${r.stdout ?? ''}${r.error ? String(r.error) : ''}`.trim().slice(-2000);
      log.error({ output }, `the console could not be built; /console answers 404 until \`${BUILD_COMMAND}\` succeeds`);
      return { ok: false, reason: `its build failed (${why}); run \`${BUILD_COMMAND}\` and restart` };
    }
  }
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(path.join(DIST, 'assets'))) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, { body: readFileSync(path.join(DIST, 'assets', name)), type });
  }
  return { ok: true, index: readFileSync(path.join(DIST, 'index.html')), assets };
}

// once per process: every app built in it (tests build many) serves the same files
let built: Built | undefined;

/**
 * The web console: one page at /console (and /console/) and its hashed assets under
 * /console/assets/. No key is needed for these files; the page asks for one and calls the API with
 * it. The build happens at install (npm's prepare) and, when dist/ is missing or older than the
 * console's or the SDK's sources, here at start.
 */
export function registerConsoleRoutes(app: App): void {
  built ??= load(app.log);
  const state = built;
  const common = (reply: FastifyReply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  };
  const page = async (_req: unknown, reply: FastifyReply) => {
    if (!state.ok) throw new ParleyError('not_found', `The console is not built: ${state.reason}`);
    common(reply);
    // always revalidated: it names the current hashed assets
    reply.header('cache-control', 'no-cache');
    return reply.type('text/html; charset=utf-8').send(state.index);
  };
  const opts = { config: { scope: 'public' as const }, schema: { hide: true } };
  app.get('/console', opts, page);
  app.get('/console/', opts, page);
  app.get<{ Params: { file: string } }>('/console/assets/:file', opts, async (req, reply) => {
    const asset = state.ok ? state.assets.get(req.params.file) : undefined;
    if (!asset) throw new ParleyError('not_found', `No route for GET ${req.url.split('?')[0]}`);
    common(reply);
    // the name carries the content's hash: a new build is a new name
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    return reply.type(asset.type).send(asset.body);
  });
}
