// @parley/sdk against a real server on every engine: CRUD, iterators, retries with one
// Idempotency-Key, typed errors, abort and timeout, the live stream's resume.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type ErrorCode,
  type FetchLike,
  Parley,
  ParleyConnectionError,
  ParleyError,
  ParleyTimeoutError,
  type StreamEvent,
} from '../../sdk/src/index.js';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

const sdkSrc = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sdk', 'src');

/** Polls until `ok()` holds, failing after `ms`; no fixed sleeps. */
async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fetch that records every attempt (method, url, Idempotency-Key, answer status and request id). */
function recordingFetch(inner: FetchLike = (u, i) => fetch(u, i)) {
  const calls: { method: string; url: string; key: string | null; status?: number; requestId?: string | null }[] = [];
  const f: FetchLike = async (url, init) => {
    const h = new Headers(init.headers);
    const call: (typeof calls)[number] = { method: init.method ?? 'GET', url, key: h.get('idempotency-key') };
    calls.push(call);
    const res = await inner(url, init);
    call.status = res.status;
    call.requestId = res.headers.get('x-request-id');
    return res;
  };
  return { f, calls };
}

/** A fetch that never answers but honours its signal, as a dead server would. */
const hangingFetch: FetchLike = (_url, init) =>
  new Promise((_resolve, reject) => {
    const s = init.signal;
    s?.addEventListener('abort', () => reject(s.reason), { once: true });
  });

for (const engine of testEngines()) {
  describe(`@parley/sdk [${engine}]`, () => {
    let server: TestServer;
    let key: string;
    let adminKey: string;
    let parley: Parley;
    const client = (opts: Partial<ConstructorParameters<typeof Parley>[0]> = {}) =>
      new Parley({ baseUrl: server.url, apiKey: key, ...opts });

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server);
      adminKey = (ws.admin as unknown as { key: string }).key;
      key = (await ws.key(['read:ai', 'write:ai'])).secret;
      parley = client();
    });
    after(async () => server.close());

    test('conversations, messages and tool invocations: a CRUD round trip', async () => {
      const c = await parley.conversations.create({
        user_id: 'u-crud',
        bot_id: 'b1',
        messages: [{ role: 'user', content: 'Plan the offsite' }],
      });
      assert.match(c.id, /^conv_/);
      assert.equal(c.messages.length, 1);
      const m = await parley.messages.append(c.id, { role: 'assistant', content: 'Here is a plan' });
      assert.equal(m.conversation_id, c.id);
      const t = await parley.toolInvocations.create(c.id, { tool_name: 'calendar', input: { q: 'friday' } });
      const t2 = await parley.toolInvocations.update(c.id, t.id, { status: 'succeeded', output: { ok: true } });
      assert.equal(t2.status, 'succeeded');
      assert.deepEqual((await parley.toolInvocations.get(c.id, t.id)).output, { ok: true });
      assert.deepEqual(
        (await parley.toolInvocations.list(c.id).toArray()).map((x) => x.id),
        [t.id],
      );
      const renamed = await parley.conversations.update(c.id, { title: 'Offsite' });
      assert.equal(renamed.title, 'Offsite');
      const got = await parley.conversations.get(c.id, { include_tool_steps: 'true' });
      assert.equal(got.title, 'Offsite');
      assert.equal(got.message_count, 2);
      assert.equal(got.tool_invocations?.length, 1);
      assert.deepEqual(
        (await parley.messages.list(c.id).toArray()).map((x) => x.content),
        ['Plan the offsite', 'Here is a plan'],
      );
      await parley.conversations.delete(c.id);
      await assert.rejects(parley.conversations.get(c.id), (e) => e instanceof ParleyError && e.code === 'not_found');
    });

    test('keys, workspaces and audit through an admin client', async () => {
      const admin = client({ apiKey: adminKey });
      const created = await admin.keys.create({ name: 'sdk', scopes: ['read:ai'] });
      assert.match(created.secret ?? '', /^prl_/);
      assert.ok((await admin.keys.list()).some((k) => k.id === created.key.id));
      assert.equal((await admin.keys.get(created.key.id)).name, 'sdk');
      assert.notEqual((await admin.keys.revoke(created.key.id)).revoked_at, null);
      const actions: string[] = [];
      for await (const e of admin.audit.list({ action: 'api_key.revoked', limit: 1 })) actions.push(e.action);
      assert.deepEqual(actions, ['api_key.revoked']);
      const instance = client({ apiKey: server.instanceKey });
      const w = await instance.workspaces.create({ name: 'sdk-ws' });
      assert.equal((await instance.workspaces.update(w.workspace.id, { name: 'renamed' })).name, 'renamed');
      assert.equal((await instance.workspaces.get(w.workspace.id)).name, 'renamed');
      const names: string[] = [];
      for await (const ws of instance.workspaces.list({ limit: 1 })) names.push(ws.name);
      assert.ok(names.includes('renamed') && names.length >= 3);
    });

    test('the list iterator follows next_cursor across pages and equals the whole list', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push((await parley.conversations.create({ user_id: 'u-pages', title: `p${i}` })).id);
      const all = await parley.conversations.list({ user_id: 'u-pages', limit: 100 }).page();
      assert.equal(all.data.length, 7);
      const walked: string[] = [];
      for await (const c of parley.conversations.list({ user_id: 'u-pages', limit: 3 })) walked.push(c.id);
      assert.deepEqual(
        walked,
        all.data.map((c) => c.id),
      );
      assert.deepEqual([...walked].sort(), [...ids].sort());
      const pages = [];
      for await (const p of parley.conversations.list({ user_id: 'u-pages', per_page: 3, order: 'asc' }).pages()) {
        pages.push(p);
      }
      assert.deepEqual(
        pages.map((p) => p.data.length),
        [3, 3, 1],
      );
      assert.equal(pages[0]?.meta.total, 7);
      assert.deepEqual(
        pages.flatMap((p) => p.data.map((c) => c.id)),
        [...all.data.map((c) => c.id)].reverse(),
      );
    });

    test('message, tool invocation and audit iterators walk several pages', async () => {
      const c = await parley.conversations.create({ user_id: 'u-msgs' });
      const contents = ['a', 'b', 'c', 'd', 'e'];
      for (const content of contents) await parley.messages.append(c.id, { role: 'user', content });
      const tools: string[] = [];
      for (let i = 0; i < 3; i++) tools.push((await parley.toolInvocations.create(c.id, { tool_name: `t${i}` })).id);
      const walked: string[] = [];
      for await (const m of parley.messages.list(c.id, { limit: 2 })) walked.push(m.content);
      assert.deepEqual(walked, contents);
      const pages = [];
      for await (const p of parley.messages.list(c.id, { limit: 2, order: 'desc' }).pages()) pages.push(p.data.length);
      assert.deepEqual(pages, [2, 2, 1]);
      assert.deepEqual(
        (await parley.toolInvocations.list(c.id, { limit: 1 }).toArray()).map((t) => t.id).sort(),
        [...tools].sort(),
      );
      const admin = client({ apiKey: adminKey });
      const mine: string[] = [];
      for (let i = 0; i < 3; i++) {
        const d = await parley.conversations.create({ user_id: 'u-audit' });
        await parley.conversations.delete(d.id);
        mine.push(d.id);
      }
      const audited: string[] = [];
      for await (const e of admin.audit.list({ action: 'conversation.deleted', limit: 1 })) {
        if (mine.includes(e.target_id)) audited.push(e.target_id);
      }
      assert.deepEqual(audited, [...mine].reverse());
    });

    test('the search iterator walks every match', async () => {
      const want: string[] = [];
      for (let i = 0; i < 5; i++) {
        const c = await parley.conversations.create({
          user_id: 'u-search',
          messages: [{ role: 'user', content: `quokka sighting number ${i}` }],
        });
        want.push(c.id);
      }
      await parley.conversations.create({ user_id: 'u-search', messages: [{ role: 'user', content: 'wombat' }] });
      const found: string[] = [];
      for await (const c of parley.conversations.search('quokka', { user_id: 'u-search', limit: 2 })) found.push(c.id);
      assert.deepEqual([...found].sort(), [...want].sort());
    });

    test('a write whose answer was lost is retried with the same Idempotency-Key and happens once', async () => {
      let lost = 0;
      const { f, calls } = recordingFetch(async (url, init) => {
        const res = await fetch(url, init);
        if (init.method === 'POST' && lost++ === 0) {
          // the server did the work; the answer never arrives
          return new Response('{"error":{"code":"service_unavailable","message":"x","request_id":"req_x"}}', {
            status: 503,
            headers: { 'retry-after': '1', 'content-type': 'application/json' },
          });
        }
        return res;
      });
      const c = await client({ fetch: f }).conversations.create({ user_id: 'u-retry', title: 'once' });
      const posts = calls.filter((x) => x.method === 'POST');
      assert.equal(posts.length, 2);
      assert.ok(posts[0]?.key);
      assert.equal(posts[0]?.key, posts[1]?.key);
      const listed = await parley.conversations.list({ user_id: 'u-retry' }).toArray();
      assert.deepEqual(
        listed.map((x) => x.id),
        [c.id],
      );
      // a caller's own key is the one sent
      const mine = recordingFetch();
      await client({ fetch: mine.f }).messages.append(c.id, { role: 'user', content: 'hi' }, { idempotencyKey: 'k-1' });
      assert.equal(mine.calls[0]?.key, 'k-1');
    });

    test('409 idempotency_in_progress is retried after Retry-After; a Retry-After beyond 60 s is not waited for', async () => {
      let first = true;
      const { f, calls } = recordingFetch(async (url, init) => {
        if (first && init.method === 'POST') {
          first = false;
          const body = { error: { code: 'idempotency_in_progress', message: 'running', request_id: 'req_1' } };
          return new Response(JSON.stringify(body), { status: 409, headers: { 'retry-after': '1' } });
        }
        return fetch(url, init);
      });
      const c = await client({ fetch: f }).conversations.create({ user_id: 'u-409' });
      assert.match(c.id, /^conv_/);
      assert.deepEqual(
        calls.map((x) => x.status),
        [409, 201],
      );
      assert.equal(calls[0]?.key, calls[1]?.key);

      let attempts = 0;
      const later: FetchLike = async () => {
        attempts++;
        return new Response('', { status: 503, headers: { 'retry-after': '120' } });
      };
      await assert.rejects(
        client({ fetch: later }).conversations.list().page(),
        (e) => e instanceof ParleyError && e.code === 'service_unavailable' && e.retryAfter === 120,
      );
      assert.equal(attempts, 1);
    });

    test('429: waits Retry-After, retries, succeeds', async () => {
      const admin = client({ apiKey: adminKey });
      const limited = await admin.keys.create({ name: 'limited', scopes: ['read:ai', 'write:ai'], rate_limit: 1 });
      // half a second before a window boundary: Retry-After is 1, the next window opens when the clock moves
      const now = server.clock.now();
      server.clock.advance(Math.ceil(now / 60_000) * 60_000 + 60_000 - 500 - now);
      const { f, calls } = recordingFetch(async (url, init) => {
        const res = await fetch(url, init);
        if (res.status === 429) server.clock.advance(1000);
        return res;
      });
      const sdk = client({ apiKey: limited.secret ?? '', fetch: f });
      await sdk.conversations.create({ user_id: 'u-429' });
      const page = await sdk.conversations.list({ user_id: 'u-429' }).page();
      assert.equal(page.data.length, 1);
      assert.deepEqual(
        calls.map((c) => c.status),
        [201, 429, 200],
      );
      // with retries off the 429 surfaces, typed, with its Retry-After
      server.clock.advance(60_000);
      await sdk.conversations.list({ user_id: 'u-429' }).page();
      await assert.rejects(
        sdk.conversations.list({ user_id: 'u-429' }, { maxRetries: 0 }).page(),
        (e) => e instanceof ParleyError && e.code === 'rate_limited' && e.status === 429 && (e.retryAfter ?? 0) >= 1,
      );
    });

    test('typed errors: not_found with the request id, invalid_key, validation details', async () => {
      const { f, calls } = recordingFetch();
      const err = await client({ fetch: f })
        .conversations.get('conv_01JAAAAAAAAAAAAAAAAAAAAAAA')
        .then(() => assert.fail('expected an error'))
        .catch((e: unknown) => e);
      assert.ok(err instanceof ParleyError);
      assert.equal(err.code, 'not_found');
      assert.equal(err.status, 404);
      assert.ok(err.requestId?.startsWith('req_'));
      assert.equal(err.requestId, calls[0]?.requestId);

      await assert.rejects(
        client({ apiKey: 'prl_nope' }).conversations.list().page(),
        (e) => e instanceof ParleyError && e.code === 'invalid_key' && e.status === 401,
      );
      await assert.rejects(
        parley.conversations.create({ title: 42 } as never),
        (e) =>
          e instanceof ParleyError &&
          e.code === 'validation_failed' &&
          e.status === 400 &&
          (e.details ?? []).some((d) => d.field === '/body/title'),
      );
    });

    test('a network error is retried, then surfaces as ParleyConnectionError', async () => {
      let n = 0;
      const refused: FetchLike = async () => {
        n++;
        throw new TypeError('fetch failed');
      };
      await assert.rejects(
        client({ fetch: refused, maxRetries: 1 }).conversations.list().page(),
        (e) => e instanceof ParleyConnectionError && !(e instanceof ParleyTimeoutError),
      );
      assert.equal(n, 2);
    });

    test('an AbortSignal ends the call and its retries', async () => {
      const aborted = AbortSignal.abort();
      await assert.rejects(parley.conversations.list({}, { signal: aborted }).page(), { name: 'AbortError' });

      const ctl = new AbortController();
      const pending = client({ fetch: hangingFetch }).conversations.create({}, { signal: ctl.signal });
      ctl.abort();
      await assert.rejects(pending, { name: 'AbortError' });

      // aborted during the wait a 503's Retry-After asked for: no second attempt
      let attempts = 0;
      const busy: FetchLike = async () => {
        attempts++;
        return new Response('{}', { status: 503, headers: { 'retry-after': '30' } });
      };
      const ctl2 = new AbortController();
      const waiting = client({ fetch: busy }).conversations.list({}, { signal: ctl2.signal }).page();
      await until(() => attempts === 1);
      const t0 = Date.now();
      ctl2.abort();
      await assert.rejects(waiting, { name: 'AbortError' });
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(attempts, 1);
    });

    test('a per-attempt timeout: ParleyTimeoutError after every allowed attempt', async () => {
      const { f, calls } = recordingFetch(hangingFetch);
      await assert.rejects(
        client({ fetch: f, timeoutMs: 50, maxRetries: 1 }).conversations.create({ user_id: 'u-timeout' }),
        (e) => e instanceof ParleyTimeoutError && e.timeoutMs === 50,
      );
      assert.equal(calls.length, 2);
      assert.equal(calls[0]?.key, calls[1]?.key);
    });

    test('the live stream gets what is appended after subscribe and resumes after a drop with no gap or repeat', async () => {
      const c = await parley.conversations.create({ user_id: 'u-live' });
      // a fetch whose event streams the test can cut, as a network drop would
      const open = new Set<AbortController>();
      const lastEventIds: (string | null)[] = [];
      const cuttable: FetchLike = (url, init) => {
        if (!url.includes('/events')) return fetch(url, init);
        lastEventIds.push(new Headers(init.headers).get('last-event-id'));
        const ctl = new AbortController();
        open.add(ctl);
        const signals = init.signal ? [init.signal, ctl.signal] : [ctl.signal];
        return fetch(url, { ...init, signal: AbortSignal.any(signals) });
      };
      const sdk = client({ fetch: cuttable });
      let readies = 0;
      const got: StreamEvent[] = [];
      const done = sdk.streams.subscribe(c.id, {
        onReady: () => {
          readies++;
        },
        onEvent: (e) => {
          got.push(e);
        },
      });
      const cut = () => {
        for (const ctl of open) ctl.abort();
        open.clear();
      };
      const messages = () => got.filter((e) => e.type === 'message.created');
      await until(() => readies === 1);
      // dropped before any event: the resume starts from the last_seq of stream.ready
      cut();
      await parley.messages.append(c.id, { role: 'user', content: 'one' });
      await until(() => readies === 2);
      await until(() => messages().length === 1);
      await parley.messages.append(c.id, { role: 'assistant', content: 'two' });
      await until(() => messages().length === 2);
      const seenBeforeDrop = got.length;
      cut();
      // written while the stream is down: the resume must replay it
      await parley.messages.append(c.id, { role: 'user', content: 'three' });
      await until(() => readies === 3);
      await parley.messages.append(c.id, { role: 'assistant', content: 'four' });
      await until(() => messages().length === 4);
      await parley.conversations.delete(c.id, { force: 'true' });
      await done; // ends by itself after conversation.deleted
      assert.deepEqual(
        got.map((e) => e.seq),
        got.map((_, i) => i + 1),
      );
      assert.deepEqual(
        messages().map((e) => (e.type === 'message.created' ? e.data.content : '')),
        ['one', 'two', 'three', 'four'],
      );
      assert.equal(got.at(-1)?.type, 'conversation.deleted');
      assert.deepEqual(lastEventIds, [null, '0', String(seenBeforeDrop)]);
    });

    test('a live stream that goes silent is replaced, and nothing is lost or repeated', async () => {
      const c = await parley.conversations.create({ user_id: 'u-idle' });
      let opened = 0;
      const counting: FetchLike = (url, init) => {
        if (url.includes('/events')) opened++;
        return fetch(url, init);
      };
      const ctl = new AbortController();
      const got: StreamEvent[] = [];
      let readies = 0;
      // the test server's heartbeat is 25 s: a 150 ms idle limit drops every connection
      const done = client({ fetch: counting }).streams.subscribe(c.id, {
        idleTimeoutMs: 150,
        signal: ctl.signal,
        onReady: () => {
          readies++;
        },
        onEvent: (e) => {
          got.push(e);
        },
      });
      await until(() => readies === 1);
      await parley.messages.append(c.id, { role: 'user', content: 'before' });
      await until(() => opened >= 2);
      await parley.messages.append(c.id, { role: 'user', content: 'after' });
      await until(() => got.filter((e) => e.type === 'message.created').length === 2);
      ctl.abort();
      await done;
      assert.deepEqual(
        got.map((e) => e.seq),
        got.map((_, i) => i + 1),
      );
    });

    test('a stream token is minted for the conversation, and the WebSocket URL names it', async () => {
      const c = await parley.conversations.create({});
      const t = await parley.streams.token(c.id, { expires_in: 30 });
      assert.match(t.token, /^pst_/);
      assert.equal(t.conversation_id, c.id);
      const url = parley.streams.websocketUrl(c.id, { afterSeq: 3 });
      assert.equal(url, `${server.url.replace(/^http/, 'ws')}/v1/conversations/${c.id}/stream?after_seq=3`);
    });
  });
}

describe('@parley/sdk source', () => {
  test('codes, bodies and queries are typed from the generated spec (npm run typecheck holds these lines)', () => {
    const code: ErrorCode = 'not_found';
    // @ts-expect-error not a code of the catalog
    const unknownCode: ErrorCode = 'no_such_code';
    const p = new Parley({ baseUrl: 'http://127.0.0.1:1', apiKey: 'prl_x' });
    // @ts-expect-error role is a closed union
    const badRole = () => p.messages.append('conv_x', { role: 'robot', content: 'x' });
    // @ts-expect-error per_page is a number
    const badQuery = () => p.conversations.list({ per_page: 'ten' });
    assert.ok(code && unknownCode && typeof badRole === 'function' && typeof badQuery === 'function');
  });

  test('imports nothing from node: (it runs in browsers, Deno and Bun)', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = path.join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (name.endsWith('.ts')) files.push(full);
      }
    };
    walk(sdkSrc);
    assert.ok(files.length >= 5);
    const offenders = files.filter((f) =>
      /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](?:node:|fs['"]|path['"]|crypto['"]|http['"])/.test(
        readFileSync(f, 'utf8'),
      ),
    );
    assert.deepEqual(offenders, []);
  });
});
