import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ulidToUuid } from '../src/ids.js';
import { curl, hasPythonRequests, node, python, substitute } from './helpers/examples.js';
import {
  Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';

// ---- seed 001 examples, as printed -----------------------------------------------------------

const SEED001_CURL = `curl -X DELETE "http://localhost:8000/api/v1/chats/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d" \\
  -H "X-API-Key: your-tenant-api-key"`;

const SEED001_JS = `const chatId = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

fetch(\`http://localhost:8000/api/v1/chats/\${chatId}\`, {
  method: 'DELETE',
  headers: {
    'X-API-Key': 'your-tenant-api-key'
  }
})
.then(response => {
  if (!response.ok) {
    throw new Error(\`HTTP error! status: \${response.status}\`);
  }
  return response.json();
})
.then(data => {
  if (data.success) {
    console.log('Chat deleted successfully');
    // Update UI to remove the chat from the list
  }
})
.catch(error => {
  console.error('Error deleting chat:', error);
});`;

const SEED001_PYTHON = `import requests

chat_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
url = f"http://localhost:8000/api/v1/chats/{chat_id}"
headers = {"X-API-Key": "your-tenant-api-key"}

response = requests.delete(url, headers=headers)

if response.status_code == 200:
    data = response.json()
    if data['success']:
        print("Chat deleted successfully")
    else:
        print("Failed to delete chat")
elif response.status_code == 404:
    print("Chat not found")
elif response.status_code == 409:
    print("Chat cannot be deleted - it may have active connections")
else:
    print(f"Error: {response.status_code}")`;

// The page's bulk example declares `results` twice (a SyntaxError as printed); the dead first
// declaration is the one line we drop, and a call is appended to exercise the function.
const SEED001_BULK = `async function deleteMultipleChats(chatIds) {
  const results = [];
  
  // Delete chats in parallel (be mindful of rate limits)
  const deletePromises = chatIds.map(async (chatId) => {
    try {
      const response = await fetch(\`/api/v1/chats/\${chatId}\`, {
        method: 'DELETE',
        headers: {
          'X-API-Key': 'your-tenant-api-key'
        }
      });
      
      const data = await response.json();
      return { chatId, success: data.success, error: null };
    } catch (error) {
      return { chatId, success: false, error: error.message };
    }
  });

  const results = await Promise.all(deletePromises);
  
  const successful = results.filter(r => r.success);
  const failed = results.filter(r => !r.success);
  
  console.log(\`Successfully deleted \${successful.length} chats\`);
  if (failed.length > 0) {
    console.log(\`Failed to delete \${failed.length} chats:\`, failed);
  }
  
  return { successful, failed };
}`;

const SEED001_SAFE_DELETE = `async function safeDeleteChat(chatId) {
  try {
    // First, check if chat exists and get its details
    const chatResponse = await fetch(\`/api/v1/chats/\${chatId}\`, {
      headers: { 'X-API-Key': 'your-tenant-api-key' }
    });
    
    if (!chatResponse.ok) {
      throw new Error('Chat not found');
    }
    
    // Proceed with deletion
    const deleteResponse = await fetch(\`/api/v1/chats/\${chatId}\`, {
      method: 'DELETE',
      headers: { 'X-API-Key': 'your-tenant-api-key' }
    });
    
    if (!deleteResponse.ok) {
      if (deleteResponse.status === 409) {
        throw new Error('Chat has active connections. Please wait and try again.');
      }
      throw new Error('Failed to delete chat');
    }
    
    return await deleteResponse.json();
  } catch (error) {
    console.error('Delete operation failed:', error);
    throw error;
  }
}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const MISSING = '0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b';

const withPython = await hasPythonRequests();
if (!withPython) console.log('compat-lexicon: python3 with requests not installed; Python examples not run');

for (const engine of testEngines()) {
  describe(`compat Lexicon Labs [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let secret: string;
    let lx: Client; // sends X-API-Key
    const chats = '/api/v1/chats';

    const xkey = (key: string) => ({
      request: (method: string, path: string, body?: unknown) =>
        new Client(server.url).request(method, path, { body, headers: { 'x-api-key': key } }),
    });
    const subs = (id = MISSING) => ({
      'http://localhost:8000': server.url,
      'your-tenant-api-key': secret,
      'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d': id,
      'fetch(`/api': `fetch(\`${server.url}/api`,
    });
    const newChat = async (userId = 'user-1', extra: Record<string, unknown> = {}) => {
      const r = await lx.post(`${chats}/`, { user_id: userId, ...extra });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string };
    };

    before(async () => {
      server = await startServer(engine);
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      secret = k.secret;
      lx = new Client(server.url);
      const send = lx.request.bind(lx);
      lx.request = (method, path, opts = {}) =>
        send(method, path, { ...opts, headers: { 'x-api-key': secret, ...opts.headers } });
    });
    after(async () => server.close());

    test('seed 001 cURL: 200 {success, message, deleted_at}', async () => {
      const c = await newChat();
      const r = await curl(substitute(SEED001_CURL, subs(c.id)));
      assert.equal(r.status, 200);
      const body = JSON.parse(r.body);
      assert.deepEqual(Object.keys(body), ['success', 'message', 'deleted_at']);
      assert.equal(body.success, true);
      assert.equal(body.message, 'Chat deleted successfully');
      assert.match(body.deleted_at, ISO_SECONDS);
      assert.equal((await lx.get(`${chats}/${c.id}`)).status, 404);
    });

    test('seed 001 JavaScript: logs "Chat deleted successfully"', async () => {
      const c = await newChat();
      const r = await node(substitute(SEED001_JS, subs(c.id)));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Chat deleted successfully\n');
      assert.equal(r.stderr, '');
      const missing = await node(substitute(SEED001_JS, subs(MISSING)));
      assert.match(missing.stderr, /Error deleting chat: Error: HTTP error! status: 404/);
    });

    if (withPython) {
      test('seed 001 Python: prints "Chat deleted successfully", then "Chat not found" for a missing chat', async () => {
        const c = await newChat();
        assert.equal((await python(substitute(SEED001_PYTHON, subs(c.id)))).stdout, 'Chat deleted successfully\n');
        assert.equal((await python(substitute(SEED001_PYTHON, subs(c.id)))).stdout, 'Chat not found\n');
      });
    }

    test('seed 001 error-handling example: safeDeleteChat returns the body; a missing chat throws "Chat not found"', async () => {
      const c = await newChat();
      const ok = await node(
        `${substitute(SEED001_SAFE_DELETE, subs())}\nconsole.log(JSON.stringify(await safeDeleteChat('${c.id}')));`,
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(JSON.parse(ok.stdout).message, 'Chat deleted successfully');
      const gone = await node(`${substitute(SEED001_SAFE_DELETE, subs())}\nawait safeDeleteChat('${c.id}');`);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /Delete operation failed: Error: Chat not found/);
    });

    test('seed 001 bulk example: parallel deletes count the missing chat as failed', async () => {
      const a = await newChat();
      const b = await newChat();
      const printed = substitute(SEED001_BULK, subs());
      const runnable = printed.replace('  const results = [];\n', '');
      assert.notEqual(runnable, printed);
      const r = await node(`${runnable}\nawait deleteMultipleChats(['${a.id}', '${b.id}', '${MISSING}']);`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Successfully deleted 2 chats\nFailed to delete 1 chats:/);
      assert.equal((await lx.get(`${chats}/${a.id}`)).status, 404);
    });

    // ---- the quirks checklist ------------------------------------------------------------------

    test('quirk 6: Lexicon DELETE answers 200 {success, message:"Chat deleted successfully", deleted_at}', async () => {
      const c = await newChat();
      server.clock.advance(1000);
      const r = await lx.delete(`${chats}/${c.id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        success: true,
        message: 'Chat deleted successfully',
        deleted_at: new Date(server.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
      const native = (await ws.admin.get(`/v1/conversations/${c.id}`)).status;
      assert.equal(native, 404);
    });

    test("quirk 8: Lexicon answers 404 for another tenant's chat and for a user with no chats", async () => {
      const other = await newWorkspace(server, 'other');
      const theirKey = (await other.key(['read:ai', 'write:ai'])).secret;
      const theirs = await xkey(theirKey).request('POST', `${chats}/`, { user_id: 'user-1' });
      assert.equal(theirs.status, 201);
      for (const [method, suffix] of [
        ['GET', ''],
        ['GET', '/messages'],
        ['DELETE', ''],
      ] as const) {
        const a = await lx.request(method, `${chats}/${theirs.body.id}${suffix}`);
        const b = await lx.request(method, `${chats}/${MISSING}${suffix}`);
        assert.equal(a.status, 404);
        assert.equal(b.status, 404);
        assert.deepEqual(a.body, { detail: 'Chat not found' });
        assert.equal(a.text, b.text);
      }
      const none = await lx.get(`${chats}/user/nobody-here`);
      assert.equal(none.status, 404);
      assert.deepEqual(none.body, { detail: 'User not found or no chats exist for this user' });
      // still there for its own tenant
      assert.equal((await xkey(theirKey).request('GET', `${chats}/${theirs.body.id}`)).status, 200);
    });

    test('quirk 9: Lexicon POST /api/v1/chats/ answers 201; only X-API-Key authenticates', async () => {
      const r = await lx.post(`${chats}/`, { user_id: 'u9', title: 'Hello', metadata: { topic: 'billing' } });
      assert.equal(r.status, 201);
      assert.deepEqual(Object.keys(r.body).sort(), [
        'config',
        'created_at',
        'id',
        'last_message_at',
        'tenant_id',
        'title',
        'updated_at',
        'user_id',
      ]);
      assert.match(r.body.id, UUID);
      assert.equal(r.body.user_id, 'u9');
      assert.equal(r.body.tenant_id, ws.id);
      assert.equal(r.body.title, 'Hello');
      assert.deepEqual(r.body.config, { metadata: { topic: 'billing' } });
      assert.equal(r.body.last_message_at, null);
      assert.match(r.body.created_at, ISO_SECONDS);
      const bearer = await new Client(server.url, secret).post(`${chats}/`, { user_id: 'u9' });
      assert.equal(bearer.status, 401);
      assert.deepEqual(bearer.body, { detail: 'Invalid or missing API key' });
    });

    // ---- get, list by user, messages --------------------------------------------------------

    test('get and messages: sender_role, offset/limit/order, has_more; the chat id works natively', async () => {
      const c = await newChat('u-msgs');
      for (const [role, content] of [
        ['user', 'one'],
        ['assistant', 'two'],
        ['user', 'three'],
      ]) {
        const r = await ws.admin.post(`/v1/conversations/${c.id}/messages`, { role, content });
        assert.equal(r.status, 201);
      }
      const got = await lx.get(`${chats}/${c.id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.id, c.id);
      assert.equal(got.body.message_count, 3);
      assert.equal(got.body.title, 'one', 'auto title from the first user message');
      const page = await lx.get(`${chats}/${c.id}/messages?limit=2`);
      assert.equal(page.status, 200);
      assert.deepEqual(
        page.body.messages.map((m: { content: string; sender_role: string }) => [m.sender_role, m.content]),
        [
          ['user', 'one'],
          ['assistant', 'two'],
        ],
      );
      assert.deepEqual([page.body.total, page.body.offset, page.body.limit, page.body.has_more], [3, 0, 2, true]);
      const m = page.body.messages[0];
      assert.deepEqual(Object.keys(m).sort(), ['chat_id', 'content', 'created_at', 'id', 'metadata', 'sender_role']);
      assert.match(m.id, UUID);
      assert.equal(m.chat_id, c.id);
      const rest = await lx.get(`${chats}/${c.id}/messages?offset=2&order=asc`);
      assert.deepEqual(
        rest.body.messages.map((x: { content: string }) => x.content),
        ['three'],
      );
      assert.equal(rest.body.has_more, false);
      const desc = await lx.get(`${chats}/${c.id}/messages?order=desc&limit=1`);
      assert.equal(desc.body.messages[0].content, 'three');
      assert.equal((await lx.get(`${chats}/${c.id}/messages?limit=101`)).status, 400);
    });

    test('list by user: offset, limit, order by created_at, total and has_more', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await newChat('lister', { title: `c${i}` })).id);
        server.clock.advance(1000);
      }
      await newChat('someone-else');
      const r = await lx.get(`${chats}/user/lister?limit=2`);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.chats.map((c: { id: string }) => c.id),
        [ids[2], ids[1]],
      );
      assert.deepEqual([r.body.total, r.body.offset, r.body.limit, r.body.has_more], [3, 0, 2, true]);
      assert.equal(r.body.chats[0].message_count, 0);
      const asc = await lx.get(`${chats}/user/lister?order=asc&offset=1`);
      assert.deepEqual(
        asc.body.chats.map((c: { id: string }) => c.id),
        [ids[1], ids[2]],
      );
      assert.equal(asc.body.has_more, false);
      const bad = await lx.get(`${chats}/user/lister?order=sideways`);
      assert.equal(bad.status, 400);
      assert.equal(typeof bad.body.detail, 'string');
    });

    // ---- the shared route contract, in Lexicon's error shape -------------------------------------

    test('contract: no key, bad key → 401; missing scope → 403; over the limit → 429, all {"detail"}', async () => {
      const c = await newChat();
      const routes = [
        ['POST', `${chats}/`, { user_id: 'x' }],
        ['GET', `${chats}/${c.id}`, undefined],
        ['GET', `${chats}/${c.id}/messages`, undefined],
        ['GET', `${chats}/user/user-1`, undefined],
        ['DELETE', `${chats}/${c.id}`, undefined],
      ] as const;
      const anon = new Client(server.url);
      for (const [method, path, body] of routes) {
        for (const r of [
          await anon.request(method, path, { body }),
          await xkey(`prl_${'x'.repeat(43)}`).request(method, path, body),
          await xkey('your-tenant-api-key').request(method, path, body),
        ]) {
          assert.equal(r.status, 401, `${method} ${path}`);
          assert.deepEqual(r.body, { detail: 'Invalid or missing API key' });
          assert.ok(r.headers.get('x-request-id'));
        }
      }
      const readOnly = xkey((await ws.key(['read:ai'])).secret);
      for (const [method, path, body] of [routes[0], routes[4]]) {
        const r = await readOnly.request(method, path, body);
        assert.equal(r.status, 403);
        assert.match(r.body.detail, /write:ai/);
      }
      const writeOnly = xkey((await ws.key(['write:ai'])).secret);
      const r403 = await writeOnly.request('GET', `${chats}/${c.id}`);
      assert.equal(r403.status, 403);
      assert.match(r403.body.detail, /read:ai/);
      const limited = xkey((await ws.key(['read:ai'], { rate_limit: 1 })).secret);
      assert.equal((await limited.request('GET', `${chats}/${c.id}`)).status, 200);
      const r429 = await limited.request('GET', `${chats}/${c.id}`);
      assert.equal(r429.status, 429);
      assert.deepEqual(r429.body, { detail: 'Rate limit exceeded' });
      assert.ok(r429.headers.get('retry-after'));
    });

    test('an unknown path under /api answers FastAPI-style {"detail":"Not Found"}', async () => {
      const r = await lx.get('/api/v1/nothing');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { detail: 'Not Found' });
    });

    test('chat ids are the UUID form of the conversation id', async () => {
      const native = (await ws.admin.post('/v1/conversations', { user_id: 'native-user', title: 'made natively' })).body
        .data;
      const uuid = ulidToUuid(native.id.slice('conv_'.length));
      const r = await lx.get(`${chats}/${uuid}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.id, uuid);
      assert.equal((await lx.get(`${chats}/${native.id}`)).body.id, uuid, 'the conv_ form is accepted too');
    });
  });
}
