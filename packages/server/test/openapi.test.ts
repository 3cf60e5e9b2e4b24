import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../src/dialects/registry.js';
import { ERROR_CATALOG, ERROR_CODES } from '../src/errors.js';
import { type Client, newWorkspace, startServer, type TestServer } from './helpers/harness.js';

type Operation = {
  operationId?: string;
  tags?: string[];
  requestBody?: { content: Record<string, { example?: unknown }> };
  responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
};

/** The reference as a reader (or a client generator) meets it. The spec does not depend on the engine. */
describe('OpenAPI reference', () => {
  let server: TestServer;
  let spec: {
    info: Record<string, any>;
    tags: Array<{ name: string; description?: string }>;
    paths: Record<string, Record<string, Operation>>;
  };
  let ops: Array<{ method: string; path: string; op: Operation }>;
  let api: Client;

  before(async () => {
    server = await startServer('sqlite', { limits: { rate: 1_000_000 } });
    spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as typeof spec;
    ops = Object.entries(spec.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ method, path, op })),
    );
    api = (await newWorkspace(server)).admin;
  });
  after(async () => server.close());

  test('every operation has a unique camelCase operationId; the native and compat ones read as their action', () => {
    assert.ok(ops.length >= 40, `${ops.length} operations`);
    const seen = new Map<string, string>();
    for (const { method, path, op } of ops) {
      const id = op.operationId;
      assert.ok(id && /^[a-z][A-Za-z0-9]*$/.test(id), `${method} ${path}: operationId ${id}`);
      assert.ok(!seen.has(id), `${id} is used by ${seen.get(id)} and ${method} ${path}`);
      seen.set(id, `${method} ${path}`);
    }
    const idOf = (method: string, path: string) => spec.paths[path]?.[method]?.operationId;
    assert.equal(idOf('post', '/v1/conversations'), 'createConversation');
    assert.equal(idOf('get', '/v1/conversations'), 'listConversations');
    assert.equal(idOf('get', '/v1/conversations/{id}'), 'getConversation');
    assert.equal(idOf('delete', '/v1/keys/{id}'), 'revokeApiKey');
    assert.equal(idOf('get', '/v1/lexi/conversations'), 'leadlexListConversations');
    assert.equal(idOf('delete', '/v1/chat/conversations/{id}'), 'botpressDeleteConversation');
    assert.equal(idOf('get', '/v2/hc-interactions/public'), 'finiListInteractions');
    assert.equal(idOf('get', '/api/v1/chats/{chat_id}'), 'lexiconGetChat');
  });

  test('every tag an operation uses is declared with a description', () => {
    const declared = new Map(spec.tags.map((t) => [t.name, t.description ?? '']));
    for (const { method, path, op } of ops) {
      assert.ok(op.tags?.length, `${method} ${path} has a tag`);
      for (const t of op.tags ?? []) assert.ok((declared.get(t) ?? '').length > 10, `tag ${t} is described`);
    }
  });

  test('alias prefixes (LeadLex’s gateway base path) are documented once: hidden paths, named in the tag and description, still answering', async () => {
    const aliased = DIALECTS.filter((d) => d.prefixes.length > 1);
    assert.ok(aliased.length > 0, 'some surface has an alias prefix');
    for (const d of aliased) {
      for (const alias of d.prefixes.slice(1)) {
        assert.deepEqual(
          Object.keys(spec.paths).filter((p) => p.startsWith(alias)),
          [],
          `${alias} paths are hidden`,
        );
        const tag = spec.tags.find((t) => t.name === d.docs.tag.name);
        assert.ok(tag?.description?.includes(alias), `the ${d.docs.tag.name} tag names ${alias}`);
        assert.ok(spec.info.description.includes(alias), `the API description names ${alias}`);
      }
    }
    assert.equal((await api.get('/functions/v1/api-gateway/v1/lexi/conversations')).status, 200);
  });

  test('info: "Parley API" with a local logo; the description links to the served error catalog', async () => {
    assert.equal(spec.info.title, 'Parley API');
    const logo = await fetch(`${server.url}${spec.info['x-logo'].url}`);
    assert.equal(logo.status, 200);
    assert.match(logo.headers.get('content-type') ?? '', /image\/svg\+xml/);
    assert.match(await logo.text(), /<svg/);
    assert.match(spec.info.description, /\(\/docs\/errors\)/);
    const catalog = (await (await fetch(`${server.url}/docs/errors`)).json()) as { data: unknown };
    assert.deepEqual(
      catalog.data,
      ERROR_CODES.map((code) => ({
        code,
        status: ERROR_CATALOG[code].status,
        description: ERROR_CATALOG[code].description,
      })),
    );
  });

  test('request examples are accepted by the server, and answered with the fields the response examples show', async () => {
    const exampleOf = (id: string) => {
      const found = ops.find((o) => o.op.operationId === id);
      assert.ok(found, id);
      const request = found.op.requestBody?.content['application/json']?.example;
      const [status, response] = Object.entries(found.op.responses).find(([s]) => s.startsWith('2')) ?? [];
      return { request, status: Number(status), response: response?.content?.['application/json']?.example as any };
    };
    const sameFields = (actual: any, example: any, where: string) => {
      assert.ok(example, `${where} has a response example`);
      assert.deepEqual(Object.keys(actual).sort(), Object.keys(example).sort(), where);
      for (const k of Object.keys(example)) {
        const a = actual[k];
        const e = example[k];
        if (Array.isArray(e) && e.length > 0 && Array.isArray(a) && a.length > 0)
          sameFields(a[0], e[0], `${where}.${k}[0]`);
        else if (
          e &&
          typeof e === 'object' &&
          !Array.isArray(e) &&
          k !== 'metadata' &&
          k !== 'context' &&
          k !== 'input' &&
          k !== 'output'
        )
          sameFields(a, e, `${where}.${k}`);
      }
    };
    const send = async (id: string, method: string, path: string) => {
      const ex = exampleOf(id);
      assert.ok(ex.request, `${id} has a request example`);
      const r = await api.request(method, path, { body: ex.request });
      assert.equal(r.status, ex.status, `${id}: ${r.text}`);
      sameFields(r.body, ex.response, id);
      return r.body;
    };
    const conv = (await send('createConversation', 'POST', '/v1/conversations')).data.id;
    await send('createMessage', 'POST', `/v1/conversations/${conv}/messages`);
    const tool = (await send('createToolInvocation', 'POST', `/v1/conversations/${conv}/tool-invocations`)).data.id;
    await send('updateToolInvocation', 'PATCH', `/v1/conversations/${conv}/tool-invocations/${tool}`);
    await send('createApiKey', 'POST', '/v1/keys');
    sameFields(
      (await api.get(`/v1/conversations/${conv}`)).body,
      exampleOf('getConversation').response,
      'getConversation',
    );
    sameFields(
      (await api.get(`/v1/conversations/${conv}/messages`)).body,
      exampleOf('listMessages').response,
      'listMessages',
    );
    sameFields((await api.get('/v1/conversations')).body, exampleOf('listConversations').response, 'listConversations');
    await send('updateConversation', 'PATCH', `/v1/conversations/${conv}`);
  });

  test('/docs: our title, favicon and logo, local assets only, and a policy that lets Swagger UI style itself', async () => {
    const page = await fetch(`${server.url}/docs/`);
    const html = await page.text();
    assert.match(html, /<title>Parley API reference<\/title>/);
    assert.match(html, /rel="icon" type="image\/svg\+xml" href="[^"]*theme\/favicon\.svg"/);
    const csp = page.headers.get('content-security-policy') ?? '';
    const directive = (name: string) =>
      csp
        .split(';')
        .map((d) => d.trim())
        .find((d) => d.startsWith(`${name} `)) ?? '';
    // Swagger UI's bundle applies inline styles; without this the browser logs a CSP violation
    assert.match(directive('style-src'), /'unsafe-inline'/);
    assert.equal(directive('script-src'), "script-src 'self'");
    assert.doesNotMatch(csp, /https:|validator\.swagger\.io|upgrade-insecure-requests/);
    const init = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(init, /data:image\/svg\+xml;base64,/, 'the top bar shows our logo');
  });
});
