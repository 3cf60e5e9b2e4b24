import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, newWorkspace, type Reply, startServer, type TestServer, testEngines } from './helpers/harness.js';

/** Errors a person can act on: they name the allowed values, the header to send, the methods. */
for (const engine of testEngines()) {
  describe(`actionable errors [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let conv: string;

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 } });
      const ws = await newWorkspace(server);
      api = ws.admin;
      conv = (await api.post('/v1/conversations', { title: 'x' })).body.data.id;
    });
    after(async () => server.close());

    const refused = (r: Reply, status: number, code: string) => {
      assert.equal(r.status, status, r.text);
      assert.equal(r.body.error.code, code, r.text);
      return r.body.error as { message: string; details?: Array<{ field: string; message: string }> };
    };

    test('a value outside a closed list names the allowed values, once per field', async () => {
      const cases: Array<[Promise<Reply>, string, string]> = [
        [
          api.post(`/v1/conversations/${conv}/messages`, { role: 'bot', content: 'hi' }),
          '/body/role',
          'user, assistant, system, tool',
        ],
        [
          api.post(`/v1/conversations/${conv}/messages`, { role: 7, content: 'hi' }),
          '/body/role',
          'user, assistant, system, tool',
        ],
        [api.get('/v1/conversations?archived=maybe'), '/query/archived', 'false, true, only'],
        [api.get('/v1/conversations?order=up'), '/query/order', 'desc, asc'],
        [api.get('/v1/conversations?order_by=title'), '/query/order_by', 'updated_at, created_at, relevance'],
        [api.post('/v1/keys', { name: 'k', scopes: ['read'] }), '/body/scopes/0', 'read:ai, write:ai, admin'],
        [
          api.post(`/v1/conversations/${conv}/tool-invocations`, { tool_name: 't', status: 'done' }),
          '/body/status',
          'pending, running, succeeded, failed, cancelled',
        ],
        [api.get(`/v1/conversations/${conv}/messages?order=sideways`), '/query/order', 'asc, desc'],
      ];
      for (const [pending, field, values] of cases) {
        const e = refused(await pending, 400, 'validation_failed');
        assert.equal(e.message, `${field} must be one of ${values}`);
        assert.deepEqual(e.details, [{ field, message: `must be one of ${values}` }]);
        assert.ok(!/constant|anyOf/.test(JSON.stringify(e)), JSON.stringify(e));
      }
    });

    test('the compat surfaces name the allowed values too', async () => {
      const r = await api.get('/v1/chat/conversations?sortDirection=up', { 'x-bot-id': 'bot' });
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, /must be one of asc, desc/);
    });

    test('the allowed values are declared as one enum in /openapi.json', async () => {
      const spec = (await api.get('/openapi.json')).body;
      const message = spec.components.schemas.Message.properties.role;
      assert.deepEqual(message.enum, ['user', 'assistant', 'system', 'tool']);
      const list = spec.paths['/v1/conversations'].get.parameters as Array<{ name: string; schema: any }>;
      assert.deepEqual(list.find((p) => p.name === 'archived')?.schema.enum, ['false', 'true', 'only']);
      assert.ok(!JSON.stringify(spec).includes('"const"'), 'no anyOf of consts left');
    });

    test('415 says which Content-Type to send', async () => {
      const r = await api.request('POST', '/v1/conversations', {
        raw: '{"title":"x"}',
        headers: { 'content-type': 'text/plain' },
      });
      const e = refused(r, 415, 'unsupported_media_type');
      assert.match(e.message, /Content-Type: application\/json/);
    });

    test('X-API-Key on a Bearer route: 401 saying the key belongs in Authorization: Bearer', async () => {
      const anon = new Client(server.url);
      const r = await anon.get('/v1/conversations', { 'x-api-key': api.key ?? '' });
      const e = refused(r, 401, 'invalid_key');
      assert.match(e.message, /Authorization: Bearer/);
      // without the header, the plain message
      const plain = refused(await anon.get('/v1/conversations'), 401, 'invalid_key');
      assert.doesNotMatch(plain.message, /X-API-Key/);
    });

    test('a known path with another method: 405 with Allow, in each surface’s shape; unknown paths stay 404', async () => {
      const native = await api.request('PUT', '/v1/conversations');
      refused(native, 405, 'method_not_allowed');
      assert.equal(native.headers.get('allow'), 'GET, HEAD, POST');
      assert.ok(native.headers.get('x-request-id'));
      const one = await api.request('POST', `/v1/conversations/${conv}`);
      assert.equal(one.status, 405);
      assert.equal(one.headers.get('allow'), 'DELETE, GET, HEAD, PATCH');
      refused(await api.request('PUT', '/v1/nothing-here'), 404, 'not_found');

      const leadlex = await api.request('PUT', '/v1/lexi/conversations');
      assert.equal(leadlex.status, 405, leadlex.text);
      assert.equal(leadlex.headers.get('allow'), 'GET, HEAD');
      assert.equal(leadlex.body.error.code, 'method_not_allowed');
      const alias = await api.request('POST', '/functions/v1/api-gateway/v1/lexi/conversations');
      assert.equal(alias.status, 405, alias.text);

      const lexicon = await api.request('PUT', '/api/v1/chats/user/u1', { headers: { 'x-api-key': api.key ?? '' } });
      assert.equal(lexicon.status, 405, lexicon.text);
      assert.deepEqual(lexicon.body, { detail: 'Method Not Allowed' });
      assert.ok(lexicon.headers.get('allow')?.includes('GET'));

      const fini = await api.request('PATCH', '/v2/hc-interactions/public');
      assert.equal(fini.status, 405, fini.text);
      assert.equal(fini.body.statusCode, 405);
      assert.equal(fini.body.error, 'Method Not Allowed');
      assert.equal(fini.headers.get('allow'), 'DELETE, GET, HEAD');

      const botpress = await api.request('PUT', '/v1/chat/conversations', { headers: { 'x-bot-id': 'b' } });
      assert.equal(botpress.status, 405, botpress.text);
      assert.equal(botpress.body.code, 405);
      assert.equal(botpress.body.type, 'MethodNotFound');
      assert.equal(botpress.headers.get('allow'), 'GET, HEAD');
    });

    test('GET / redirects to the reference', async () => {
      const r = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/docs');
    });
  });
}
