import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { eventually, SseStream } from './helpers/live.js';

for (const engine of testEngines()) {
  describe(`realtime Server-Sent Events [${engine}]`, () => {
    let server: TestServer;
    let api: Client;
    let key: string;

    before(async () => {
      server = await startServer(engine, { ws: { heartbeatMs: 100 } });
      const k = await (await newWorkspace(server)).key(['read:ai', 'write:ai']);
      api = k.client;
      key = k.secret;
    });
    after(async () => server.close());

    const eventsUrl = (id: string, q = '') => `${server.url}/v1/conversations/${id}/events${q}`;
    const auth = () => ({ authorization: `Bearer ${key}` });
    const post = (id: string, content: string) =>
      api.post(`/v1/conversations/${id}/messages`, { role: 'user', content });

    test('events with id lines, heartbeat comments, and Last-Event-ID resume without gap or duplicate', async () => {
      const id = (await api.post('/v1/conversations', { title: 'sse' })).body.data.id as string;
      const a = await SseStream.open(eventsUrl(id), auth());
      assert.equal(a.status, 200);
      await a.waitFor(() => a.events.some((e) => e.event === 'stream.ready'));
      await post(id, 'one');
      await post(id, 'two');
      await a.waitFor(() => a.events.filter((e) => e.id !== undefined).length >= 2);
      await a.waitFor(() => a.comments.length > 0);
      assert.equal(a.comments[0], ': ping');
      const seen = a.events.filter((e) => e.id !== undefined);
      assert.deepEqual(
        seen.map((e) => e.event),
        ['message.created', 'message.created'],
      );
      assert.deepEqual(
        seen.map((e) => e.data.data.content),
        ['one', 'two'],
      );
      assert.equal(seen[1]?.id, String(seen[1]?.data.seq));
      const lastId = seen[1]?.id ?? '';
      a.close();
      assert.equal(
        await eventually(async () => (await api.get(`/v1/conversations/${id}`)).body.data.live_connections, 0),
        0,
      );

      await post(id, 'three');
      await post(id, 'four');
      const b = await SseStream.open(eventsUrl(id), { ...auth(), 'last-event-id': lastId });
      await b.waitFor(() => b.events.filter((e) => e.id !== undefined).length >= 2);
      await post(id, 'five');
      await b.waitFor(() => b.events.filter((e) => e.id !== undefined).length >= 3);
      const resumed = b.events.filter((e) => e.id !== undefined);
      assert.deepEqual(
        resumed.map((e) => e.data.data.content),
        ['three', 'four', 'five'],
      );
      assert.deepEqual(
        resumed.map((e) => Number(e.id)),
        [Number(lastId) + 1, Number(lastId) + 2, Number(lastId) + 3],
      );
      assert.equal((await api.get(`/v1/conversations/${id}`)).body.data.live_connections, 1);
      // an SSE client counts as live too: if_idle=true is refused, a plain DELETE ends the stream
      const busy = await api.delete(`/v1/conversations/${id}?if_idle=true`);
      assert.equal(busy.status, 409, busy.text);
      assert.equal(busy.body.error.code, 'conversation_busy');
      assert.match(busy.body.error.message, /if_idle/);
      assert.equal((await api.delete(`/v1/conversations/${id}`)).status, 204);
      await b.waitFor(() => b.ended);
      const tail = b.events.slice(-2);
      assert.equal(tail[0]?.event, 'conversation.deleted');
      assert.equal(tail[1]?.event, 'stream.closed');
      assert.equal(tail[1]?.data.code, 4410);
    });

    test('SSE refusals are plain HTTP errors: no credentials 401, bad token 401, foreign 404; stream token works', async () => {
      const id = (await api.post('/v1/conversations', { title: 'sse2' })).body.data.id as string;
      const none = await SseStream.open(eventsUrl(id), {});
      assert.equal(none.status, 401);
      const bad = await SseStream.open(eventsUrl(id, '?token=pst_x.y'), {});
      assert.equal(bad.status, 401);
      const other = await (await newWorkspace(server, 'other')).key(['read:ai']);
      const foreign = await SseStream.open(eventsUrl(id), { authorization: `Bearer ${other.secret}` });
      assert.equal(foreign.status, 404);
      const token = (await api.post(`/v1/conversations/${id}/stream-tokens`, {})).body.data.token;
      const ok = await SseStream.open(eventsUrl(id, `?token=${token}&after_seq=0`), {});
      assert.equal(ok.status, 200);
      await post(id, 'hi');
      await ok.waitFor(() => ok.events.some((e) => e.event === 'message.created'));
      ok.close();
    });
  });
}
