import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CSP } from '../src/http/routes/console.js';
import { startServer, type TestServer } from './helpers/harness.js';

/**
 * /console's files over HTTP (the browser suite drives the page itself): the page and its hashed
 * assets with their types, caching and security headers, no key needed, and nothing else served.
 */
describe('the console files at /console', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer('sqlite');
  });
  after(async () => {
    await server?.close();
  });

  test('the page: html, revalidated every time, a strict policy, no key needed', async () => {
    for (const path of ['/console', '/console/']) {
      const r = await fetch(server.url + path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      const html = await r.text();
      // no inline script: the only script is a file of this server
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      assert.equal(scripts.length, 1);
      assert.match(scripts[0] as string, /^<script type="module" src="\/console\/assets\/app-[A-Z0-9]+\.js">$/);
      assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from another origin');
    }
    const policy = Object.fromEntries(CONSOLE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    assert.deepEqual(policy['script-src'], ["'self'"]);
    assert.deepEqual(policy['connect-src'], ["'self'"]);
    assert.deepEqual(policy['default-src'], ["'none'"]);
  });

  test('every asset the page names: its type, immutable caching under a hashed name', async () => {
    const html = await (await fetch(`${server.url}/console`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    const types: Record<string, string> = {
      js: 'text/javascript; charset=utf-8',
      css: 'text/css; charset=utf-8',
      svg: 'image/svg+xml',
    };
    assert.deepEqual(assets.map((a) => a.split('.').pop()).sort(), ['css', 'js', 'svg']);
    for (const a of assets) {
      assert.match(a, /-[A-Za-z0-9]{8}\.[a-z]+$/, 'a content hash in the name');
      const r = await fetch(server.url + a);
      assert.equal(r.status, 200, a);
      assert.equal(r.headers.get('content-type'), types[a.split('.').pop() as string]);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.ok((await r.arrayBuffer()).byteLength > 0);
    }
  });

  test('anything else under /console is the API’s own 404; writes are 405', async () => {
    for (const path of [
      '/console/assets/missing-12345678.js',
      '/console/assets/..%2Fpackage.json',
      '/console/index.html',
    ]) {
      const r = await fetch(server.url + path);
      assert.equal(r.status, 404, path);
      const body = (await r.json()) as { error: { code: string; request_id: string } };
      assert.equal(body.error.code, 'not_found');
      assert.equal(body.error.request_id, r.headers.get('x-request-id'));
    }
    const post = await fetch(`${server.url}/console`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(((await post.json()) as { error: { code: string } }).error.code, 'method_not_allowed');
  });

  test('the console is not an operation of the OpenAPI document; the reference links to it', async () => {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      info: { description: string };
    };
    assert.match(spec.info.description, /\[\/console\]\(\/console\)/);
    assert.deepEqual(
      Object.keys(spec.paths).filter((p) => p.startsWith('/console')),
      [],
    );
  });
});
