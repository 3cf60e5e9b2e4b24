import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS } from '../src/http/cors.js';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

const APP = 'https://app.example.com';

const preflight = (url: string, origin: string, method = 'POST') =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type, idempotency-key',
    },
  });

const corsHeaders = (h: Headers) => [...h.keys()].filter((k) => k.startsWith('access-control-'));

for (const engine of testEngines()) {
  describe(`CORS [${engine}]`, () => {
    let listed: TestServer;
    let open: TestServer;
    let off: TestServer;
    let key: string;

    before(async () => {
      listed = await startServer(engine, { http: { corsOrigins: [APP, 'http://localhost:5173'] } });
      open = await startServer(engine, { http: { corsOrigins: ['*'] } });
      off = await startServer(engine);
      key = (await newWorkspace(listed)).admin.key ?? '';
    });
    after(async () => Promise.all([listed.close(), open.close(), off.close()]));

    test('preflight from a listed origin: 204 with methods, headers and the origin, before any key', async () => {
      for (const path of ['/v1/conversations', '/v1/conversations/conv_x/messages', '/api/v1/chats/abc']) {
        const r = await preflight(`${listed.url}${path}`, APP);
        assert.equal(r.status, 204, path);
        assert.equal(r.headers.get('access-control-allow-origin'), APP);
        assert.match(r.headers.get('access-control-allow-methods') ?? '', /\bPATCH\b/);
        assert.match(r.headers.get('access-control-allow-methods') ?? '', /\bDELETE\b/);
        assert.match(r.headers.get('access-control-allow-methods') ?? '', /\bPUT\b/, 'Botpress updates with PUT');
        assert.equal(r.headers.get('access-control-allow-headers'), CORS_ALLOWED_HEADERS);
        for (const h of ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-API-Key', 'x-bot-id', 'X-Request-ID']) {
          assert.ok(CORS_ALLOWED_HEADERS.includes(h), h);
        }
        assert.equal(r.headers.get('access-control-allow-credentials'), null);
        assert.match(r.headers.get('vary') ?? '', /Origin/);
      }
    });

    test('requests from a listed origin carry the origin and the exposed headers, errors too', async () => {
      const ok = await fetch(`${listed.url}/v1/conversations`, {
        headers: { origin: APP, authorization: `Bearer ${key}` },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('access-control-allow-origin'), APP);
      const exposed = ok.headers.get('access-control-expose-headers') ?? '';
      assert.equal(exposed, CORS_EXPOSED_HEADERS);
      for (const h of [
        'X-Request-ID',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        'Retry-After',
        'Idempotent-Replayed',
      ]) {
        assert.ok(exposed.includes(h), h);
      }
      // a cache must not hand a same-origin answer (no Origin) to a page of another origin
      const noOrigin = await fetch(`${listed.url}/healthz`);
      assert.match(noOrigin.headers.get('vary') ?? '', /Origin/);
      assert.deepEqual(corsHeaders(noOrigin.headers), []);
      const unauthorized = await fetch(`${listed.url}/v1/conversations`, { headers: { origin: APP } });
      assert.equal(unauthorized.status, 401);
      assert.equal(unauthorized.headers.get('access-control-allow-origin'), APP);
    });

    test('an origin not listed gets no CORS header, its preflight no 204', async () => {
      const evil = 'https://evil.example.com';
      const r = await preflight(`${listed.url}/v1/conversations`, evil);
      assert.notEqual(r.status, 204);
      assert.deepEqual(corsHeaders(r.headers), []);
      const get = await fetch(`${listed.url}/v1/conversations`, {
        headers: { origin: evil, authorization: `Bearer ${key}` },
      });
      assert.deepEqual(corsHeaders(get.headers), []);
      // a listed origin's prefix or suffix is another origin
      const near = await preflight(`${listed.url}/v1/conversations`, `${APP}.evil.com`);
      assert.deepEqual(corsHeaders(near.headers), []);
    });

    test('`*` answers any origin with *, never with credentials or a reflected origin', async () => {
      const r = await preflight(`${open.url}/v1/conversations`, 'https://anywhere.example');
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('access-control-allow-credentials'), null);
      const get = await fetch(`${open.url}/healthz`, { headers: { origin: 'https://anywhere.example' } });
      assert.equal(get.headers.get('access-control-allow-origin'), '*');
      assert.equal(get.headers.get('access-control-allow-credentials'), null);
    });

    test('by default no CORS header appears anywhere, and a preflight is not answered 204', async () => {
      const r = await preflight(`${off.url}/v1/conversations`, APP);
      assert.equal(r.status, 405);
      assert.deepEqual(corsHeaders(r.headers), []);
      for (const path of ['/v1/conversations', '/healthz', '/openapi.json', '/nowhere']) {
        const g = await fetch(`${off.url}${path}`, { headers: { origin: APP } });
        await g.arrayBuffer();
        assert.deepEqual(corsHeaders(g.headers), [], path);
      }
    });
  });
}
