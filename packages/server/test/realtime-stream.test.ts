import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Client,
  newWorkspace,
  startServer,
  type TestServer,
  type TestWorkspace,
  testEngines,
} from './helpers/harness.js';
import { eventually, LiveSocket, refusal } from './helpers/live.js';

for (const engine of testEngines()) {
  describe(`realtime WebSocket stream [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let api: Client;
    let key: string;

    before(async () => {
      server = await startServer(engine, { ws: { authTimeoutMs: 300, maxPayload: 1024 } });
      ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      key = k.secret;
    });
    after(async () => server.close());

    const newConversation = async () => (await api.post('/v1/conversations', { title: 'Live' })).body.data.id as string;
    const streamUrl = (id: string, q = '') => `${server.url}/v1/conversations/${id}/stream${q}`;
    const bearer = () => ({ headers: { authorization: `Bearer ${key}` } });
    const live = async (id: string) => (await api.get(`/v1/conversations/${id}`)).body.data.live_connections;

    test('every event type arrives in order with consecutive seqs; a plain DELETE ends it with 4410', async () => {
      const id = await newConversation();
      const s = await LiveSocket.ready(streamUrl(id), bearer());
      const ready = s.frames[0];
      assert.equal(ready?.type, 'stream.ready');
      assert.equal(ready?.data.conversation_id, id);
      const m = (await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'hello' })).body.data;
      const t = (await api.post(`/v1/conversations/${id}/tool-invocations`, { tool_name: 'search', input: { q: 1 } }))
        .body.data;
      assert.equal(
        (await api.patch(`/v1/conversations/${id}/tool-invocations/${t.id}`, { status: 'succeeded' })).status,
        200,
      );
      assert.equal((await api.patch(`/v1/conversations/${id}`, { title: 'Renamed' })).status, 200);
      assert.equal((await api.patch(`/v1/conversations/${id}`, { archived: true })).status, 200);
      // live streams do not stop a native delete: it answers 204 as documented and ends them
      const del = await api.delete(`/v1/conversations/${id}`);
      assert.equal(del.status, 204, del.text);
      const closed = await s.closed;
      assert.equal(closed.code, 4410);
      assert.equal(closed.reason, 'conversation deleted');
      const events = s.events();
      assert.deepEqual(
        events.map((e) => e.type),
        [
          'message.created',
          'tool_invocation.created',
          'tool_invocation.updated',
          'conversation.updated',
          'conversation.archived',
          'conversation.deleted',
        ],
      );
      const first = events[0]?.seq ?? 0;
      assert.deepEqual(
        events.map((e) => e.seq),
        events.map((_, i) => first + i),
        'consecutive seqs',
      );
      assert.deepEqual(events[0]?.data, m, 'message.created carries the message as the API shows it');
      assert.equal(events[1]?.data.id, t.id);
      assert.equal(events[2]?.data.status, 'succeeded');
      assert.equal(events[3]?.data.title, 'Renamed');
      assert.equal(events[4]?.data.archived, true);
      assert.deepEqual(events[5]?.data, { id });
      for (const e of events) assert.match(e.created_at ?? '', /^\d{4}-\d\d-\d\dT/);
      assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404);
    });

    test('resume with after_seq: what was missed, then live, no gap and no duplicate', async () => {
      const id = await newConversation();
      for (let i = 1; i <= 3; i++)
        await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: `m${i}` });
      const a = await LiveSocket.ready(streamUrl(id, '?after_seq=0'), bearer());
      const firstThree = await a.waitForEvents(3);
      const lastSeen = firstThree[2]?.seq ?? -1;
      a.close();
      await a.closed;
      for (let i = 4; i <= 6; i++)
        await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: `m${i}` });
      const b = await LiveSocket.ready(streamUrl(id, `?after_seq=${lastSeen}`), bearer());
      await b.waitForEvents(3);
      await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'm7' });
      const got = await b.waitForEvents(4);
      assert.deepEqual(
        got.map((e) => e.data.content),
        ['m4', 'm5', 'm6', 'm7'],
      );
      assert.deepEqual(
        got.map((e) => e.seq),
        [lastSeen + 1, lastSeen + 2, lastSeen + 3, lastSeen + 4],
      );
      // a resume frame replays from the given seq on an open stream
      b.send({ type: 'resume', after_seq: lastSeen + 2 });
      const again = await b.waitForEvents(6);
      assert.deepEqual(
        again.slice(4).map((e) => e.data.content),
        ['m6', 'm7'],
      );
      b.close();
    });

    test('writes racing an attach: every event exactly once, in seq order', async () => {
      const id = await newConversation();
      const writes = Array.from({ length: 20 }, (_, i) =>
        api.post(`/v1/conversations/${id}/messages`, { role: 'assistant', content: `w${i}` }),
      );
      const s = await LiveSocket.ready(streamUrl(id, '?after_seq=0'), bearer());
      await Promise.all(writes);
      const got = await s.waitForEvents(20);
      assert.deepEqual(
        got.map((e) => e.seq),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal(new Set(got.map((e) => e.data.id)).size, 20);
      s.close();
    });

    test('refused before upgrade: missing scope 403, bad key 401, other workspace 404, key in URL 401, origin 403', async () => {
      const id = await newConversation();
      const writeOnly = await ws.key(['write:ai']);
      let r = await refusal(streamUrl(id), { headers: { authorization: `Bearer ${writeOnly.secret}` } });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'insufficient_permissions');
      r = await refusal(streamUrl(id), { headers: { authorization: 'Bearer prl_nope' } });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'invalid_key');
      const other = await newWorkspace(server, 'other');
      const otherKey = await other.key(['read:ai']);
      r = await refusal(streamUrl(id), { headers: { authorization: `Bearer ${otherKey.secret}` } });
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
      const missing = await refusal(streamUrl('conv_01J00000000000000000000000'), bearer());
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.message, r.body.error.message, 'foreign id answers like a missing one');
      r = await refusal(streamUrl(id, `?token=${key}`));
      assert.equal(r.status, 401, 'a long-lived key is never accepted in a URL');
      r = await refusal(streamUrl(id), { headers: { ...bearer().headers, origin: 'https://evil.example' } });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'origin_not_allowed');
      const host = new URL(server.url).host;
      const same = await LiveSocket.ready(streamUrl(id), {
        headers: { ...bearer().headers, origin: `http://${host}` },
      });
      same.close();
    });

    test('stream tokens: ?token= and Sec-WebSocket-Protocol work; expired, foreign and tampered ones are 401', async () => {
      const id = await newConversation();
      const other = await newConversation();
      const minted = await api.post(`/v1/conversations/${id}/stream-tokens`, { expires_in: 30 });
      assert.equal(minted.status, 201);
      const token = minted.body.data.token as string;
      assert.match(token, /^pst_/);
      assert.equal(minted.body.data.conversation_id, id);
      const viaQuery = await LiveSocket.ready(streamUrl(id, `?token=${token}`));
      const viaProtocol = await LiveSocket.ready(streamUrl(id), { protocols: ['parley.v1', `parley.token.${token}`] });
      assert.equal(viaProtocol.ws.protocol, 'parley.v1');
      await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'x' });
      await viaQuery.waitForEvents(1);
      await viaProtocol.waitForEvents(1);
      viaQuery.close();
      viaProtocol.close();
      let r = await refusal(streamUrl(other, `?token=${token}`));
      assert.equal(r.status, 401, 'a token opens only its own conversation');
      r = await refusal(streamUrl(id, `?token=${token.slice(0, -2)}xx`));
      assert.equal(r.status, 401);
      const noScope = await ws.key(['write:ai']);
      assert.equal((await noScope.client.post(`/v1/conversations/${id}/stream-tokens`, {})).status, 403);
      const foreign = await (await newWorkspace(server, 'f')).key(['read:ai']);
      assert.equal((await foreign.client.post(`/v1/conversations/${id}/stream-tokens`, {})).status, 404);
      server.clock.advance(31_000);
      try {
        r = await refusal(streamUrl(id, `?token=${token}`));
        assert.equal(r.status, 401, 'expired');
        assert.equal(r.body.error.code, 'invalid_key');
      } finally {
        server.clock.advance(-31_000);
      }
      const empty = await api.post(`/v1/conversations/${id}/stream-tokens`);
      assert.equal(empty.status, 201, 'an empty POST mints a token with the default lifetime');
      const ttl = Date.parse(empty.body.data.expires_at) - server.clock.now();
      assert.ok(ttl > 0 && ttl <= 60_000, `default lifetime 60 s (got ${ttl} ms)`);
      const short = (await api.post(`/v1/conversations/${id}/stream-tokens`, { expires_in: 301 })).status;
      assert.equal(short, 400, 'at most 5 minutes');
    });

    test('first-frame auth: works within the deadline; without it the socket closes 4401 before any event', async () => {
      const id = await newConversation();
      const token = (await api.post(`/v1/conversations/${id}/stream-tokens`, {})).body.data.token;
      const s = await LiveSocket.open(streamUrl(id));
      s.send({ type: 'auth', token, after_seq: 0 });
      await s.waitFor((f) => f.type === 'stream.ready');
      await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'after auth' });
      assert.equal((await s.waitForEvents(1))[0]?.data.content, 'after auth');
      s.close();

      const silent = await LiveSocket.open(streamUrl(id));
      await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'not for you' });
      const closed = await silent.closed;
      assert.equal(closed.code, 4401);
      assert.equal(silent.frames.length, 0, 'no frame before authentication');

      const bad = await LiveSocket.open(streamUrl(id));
      bad.send({ type: 'auth', token: 'pst_forged.bad' });
      assert.equal((await bad.closed).code, 4401);
      assert.equal(bad.frames.length, 0);

      const writeOnly = await ws.key(['write:ai']);
      const forbidden = await LiveSocket.open(streamUrl(id));
      forbidden.send({ type: 'auth', token: writeOnly.secret });
      assert.equal((await forbidden.closed).code, 4403);
      assert.equal(forbidden.frames.length, 0);
    });

    test('a client frame over maxPayload closes the socket with 1009', async () => {
      const id = await newConversation();
      const s = await LiveSocket.ready(streamUrl(id), bearer());
      s.send({ type: 'ping', pad: 'x'.repeat(4096) });
      assert.equal((await s.closed).code, 1009);
    });

    test('DELETE with live sockets: if_idle=true 409 with the count, naming the option; DELETE closes them (4410)', async () => {
      const id = await newConversation();
      const a = await LiveSocket.ready(streamUrl(id), bearer());
      const b = await LiveSocket.ready(streamUrl(id), bearer());
      assert.equal(await live(id), 2);
      const busy = await api.delete(`/v1/conversations/${id}?if_idle=true`);
      assert.equal(busy.status, 409);
      assert.equal(busy.body.error.code, 'conversation_busy');
      assert.equal(busy.body.error.live_connections, 2);
      assert.match(busy.body.error.message, /if_idle/, 'the message names the option');
      assert.equal((await api.get(`/v1/conversations/${id}`)).status, 200, 'nothing deleted');
      const both = await api.delete(`/v1/conversations/${id}?if_idle=true&force=true`);
      assert.equal(both.status, 400, 'if_idle and force contradict each other');
      assert.equal(await live(id), 2, 'still open');
      assert.equal((await api.delete(`/v1/conversations/${id}?if_idle=false`)).status, 204);
      for (const s of [a, b]) {
        const c = await s.closed;
        assert.equal(c.code, 4410);
        assert.equal(c.reason, 'conversation deleted');
      }
      assert.equal((await api.get(`/v1/conversations/${id}`)).status, 404);
      assert.equal((await api.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'x' })).status, 404);
      assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 404);
      const again = await refusal(streamUrl(id), bearer());
      assert.equal(again.status, 404);
    });

    test('the example page is served publicly and never asks for the key in a URL', async () => {
      const r = await fetch(`${server.url}/examples/live`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      const html = await r.text();
      assert.match(html, /parley\.token\./);
      assert.match(html, /stream-tokens/);
      assert.doesNotMatch(html, /<script[^>]+src=/, 'no external scripts');
    });

    test('a closed stream stops counting; then DELETE ?if_idle=true is a plain 204', async () => {
      const id = await newConversation();
      const s = await LiveSocket.ready(streamUrl(id), bearer());
      assert.equal(await live(id), 1);
      s.close();
      await s.closed;
      assert.equal(await eventually(() => live(id), 0), 0);
      assert.equal((await api.delete(`/v1/conversations/${id}?if_idle=true`)).status, 204);
    });

    test('force=true is still accepted (deleting regardless is the default now)', async () => {
      const id = await newConversation();
      const s = await LiveSocket.ready(streamUrl(id), bearer());
      assert.equal((await api.delete(`/v1/conversations/${id}?force=true`)).status, 204);
      assert.equal((await s.closed).code, 4410);
    });

    test("a user-bound key (and its stream tokens) opens only its user's streams: another user's is 404 / 4404", async () => {
      const alice = await ws.key(['read:ai', 'write:ai'], { user_id: 'alice' });
      const mine = (await alice.client.post('/v1/conversations', { title: 'alice' })).body.data.id as string;
      const bobs = (await api.post('/v1/conversations', { title: 'bob', user_id: 'bob' })).body.data.id as string;
      const nobody = (await api.post('/v1/conversations', { title: 'nobody' })).body.data.id as string;
      const aliceBearer = { headers: { authorization: `Bearer ${alice.secret}` } };
      const missing = await refusal(streamUrl('conv_01J00000000000000000000000'), aliceBearer);
      assert.equal(missing.status, 404);
      for (const other of [bobs, nobody]) {
        const r = await refusal(streamUrl(other), aliceBearer);
        assert.equal(r.status, 404, `WebSocket on ${other}`);
        assert.deepEqual(r.body.error.message, missing.body.error.message, 'as a missing one');
        const sse = await fetch(`${server.url}/v1/conversations/${other}/events`, aliceBearer);
        assert.equal(sse.status, 404, `SSE on ${other}`);
        await sse.body?.cancel();
        const minted = await alice.client.post(`/v1/conversations/${other}/stream-tokens`, {});
        assert.equal(minted.status, 404, 'no stream token for it either');
      }
      // a token minted for alice's own conversation opens it, and nothing else
      const token = (await alice.client.post(`/v1/conversations/${mine}/stream-tokens`, {})).body.data.token as string;
      const own = await LiveSocket.ready(streamUrl(mine, `?token=${token}`));
      own.close();
      await own.closed;
      assert.equal((await refusal(streamUrl(bobs, `?token=${token}`))).status, 401);
      // first-frame auth with alice's key on bob's conversation closes 4404
      const deferred = await LiveSocket.open(streamUrl(bobs));
      deferred.send({ type: 'auth', token: alice.secret });
      assert.equal((await deferred.closed).code, 4404);
      // her own stream works with her key
      const s = await LiveSocket.ready(streamUrl(mine), aliceBearer);
      s.close();
      await s.closed;
    });
  });

  describe(`realtime flow control and heartbeat [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let key: string;
    // the heartbeat would also drop the paused (slow) client, so that test gets its own server
    let beating: TestServer;
    let beatingApi: Client;
    let beatingKey: string;

    before(async () => {
      server = await startServer(engine, { ws: { maxBufferedBytes: 1024 * 1024 } });
      const ws = await newWorkspace(server);
      const k = await ws.key(['read:ai', 'write:ai']);
      api = k.client;
      key = k.secret;
      beating = await startServer(engine, { ws: { heartbeatMs: 100 } });
      const k2 = await (await newWorkspace(beating)).key(['read:ai', 'write:ai']);
      beatingApi = k2.client;
      beatingKey = k2.secret;
    });
    after(async () => {
      await server.close();
      await beating.close();
    });

    const auth = () => ({ headers: { authorization: `Bearer ${key}` } });
    const live = async (id: string) => (await api.get(`/v1/conversations/${id}`)).body.data.live_connections;

    test('a slow consumer is closed with 1013 while a healthy one keeps receiving', async () => {
      const id = (await api.post('/v1/conversations', { title: 'firehose' })).body.data.id as string;
      const url = `${server.url}/v1/conversations/${id}/stream`;
      const healthy = await LiveSocket.ready(url, auth());
      const slow = await LiveSocket.ready(url, auth());
      slow.ws.pause();
      const big = 'y'.repeat(256 * 1024);
      let sent = 0;
      while ((await live(id)) === 2 && sent < 200) {
        assert.equal(
          (await api.post(`/v1/conversations/${id}/messages`, { role: 'assistant', content: big })).status,
          201,
        );
        sent++;
      }
      assert.equal(await live(id), 1, 'the slow consumer was dropped');
      await api.post(`/v1/conversations/${id}/messages`, { role: 'assistant', content: 'after' });
      const got = await healthy.waitForEvents(sent + 1);
      assert.equal(got.length, sent + 1);
      assert.equal(got[sent]?.data.content, 'after');
      slow.ws.resume();
      const c = await slow.closed;
      assert.equal(c.code, 1013);
      assert.ok(slow.events().length <= sent, 'nothing is sent after the decision to close');
      assert.ok(!slow.events().some((e) => e.data.content === 'after'));
      healthy.close();
    });

    test('a dead peer (no pongs) is dropped by the heartbeat and stops counting', async () => {
      const id = (await beatingApi.post('/v1/conversations', { title: 'ghost' })).body.data.id as string;
      const url = `${beating.url}/v1/conversations/${id}/stream`;
      const auth = () => ({ headers: { authorization: `Bearer ${beatingKey}` } });
      const live = async (cid: string) => (await beatingApi.get(`/v1/conversations/${cid}`)).body.data.live_connections;
      const dead = await LiveSocket.ready(url, { ...auth(), autoPong: false });
      const alive = await LiveSocket.ready(url, auth());
      const c = await dead.closed;
      assert.equal(c.code, 1006, 'terminated without a closing handshake');
      assert.equal(await eventually(() => live(id), 1), 1);
      await beatingApi.post(`/v1/conversations/${id}/messages`, { role: 'user', content: 'still here' });
      assert.equal((await alive.waitForEvents(1))[0]?.data.content, 'still here');
      alive.close();
    });
  });
}
