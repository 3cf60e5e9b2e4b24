import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

// Text that breaks naive storage: astral emoji, ZWJ sequences, flags, skin tones, RTL with marks,
// combining sequences (NFD, never normalised on the way through), CJK, and a 4-byte-only string.
const SAMPLES = [
  'emoji 😀🎉 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'family 👨‍👩‍👧‍👦 and 🏳️‍🌈 and 👍🏽',
  'flags 🇫🇷🇯🇵',
  'RTL: مرحبا بالعالم \u200f שלום עולם',
  'combining: e\u0301 a\u0308 n\u0303 Å (A+ring: A\u030a)',
  'CJK 漢字かなカナ 한국어',
  '𐍈𐍈𐍈',
  'zero width \u200b\u200c\u200d joiners, BOM \ufeff, line sep \u2028, newline \n tab \t',
];

for (const engine of testEngines()) {
  describe(`unicode [${engine}]`, () => {
    let server: TestServer;
    let api: Client;

    before(async () => {
      server = await startServer(engine);
      api = (await (await newWorkspace(server)).key(['read:ai', 'write:ai'])).client;
    });
    after(async () => server.close());

    test('titles, content, metadata, context, tool input/output round-trip byte-identical', async () => {
      for (const s of SAMPLES) {
        const created = await api.post('/v1/conversations', {
          title: s.slice(0, 60),
          context: { contact_id: s, note: s },
          metadata: { [s]: s, nested: [s, { s }] },
          messages: [{ role: 'user', content: s, metadata: { s } }],
        });
        assert.equal(created.status, 201, created.text);
        const id = created.body.data.id;
        const tool = await api.post(`/v1/conversations/${id}/tool-invocations`, {
          tool_name: 'echo',
          input: { text: s, list: [s] },
          output: { text: s },
        });
        assert.equal(tool.status, 201, tool.text);
        const got = await api.get(`/v1/conversations/${id}?include_tool_steps=true`);
        assert.equal(got.status, 200);
        const c = got.body.data;
        assert.equal(Buffer.compare(Buffer.from(c.title), Buffer.from(s.slice(0, 60))), 0, 'title bytes');
        assert.equal(Buffer.compare(Buffer.from(c.messages[0].content), Buffer.from(s)), 0, 'content bytes');
        assert.deepEqual(c.messages[0].metadata, { s });
        assert.deepEqual(c.metadata, { [s]: s, nested: [s, { s }] });
        assert.deepEqual(c.context, { contact_id: s, note: s });
        assert.deepEqual(c.tool_invocations[0].input, { text: s, list: [s] });
        assert.deepEqual(c.tool_invocations[0].output, { text: s });
        // the raw response text carries the same code points (JSON may escape, never alter)
        assert.ok(JSON.parse(got.text).data.messages[0].content === s);
      }
    });

    test('NUL and lone surrogates: the same 400 on every engine, nothing written', async () => {
      const before = (await api.get('/v1/conversations')).body.meta.total;
      const cases: Array<[string, string]> = [
        ['{"title":"a\\u0000b"}', '/body/title'],
        ['{"title":"a\\ud800b"}', '/body/title'],
        ['{"metadata":{"k":"\\udfff"}}', '/body/metadata/k'],
        ['{"messages":[{"role":"user","content":"x\\u0000"}]}', '/body/messages/0/content'],
      ];
      for (const [raw, field] of cases) {
        const r = await api.request('POST', '/v1/conversations', {
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(r.status, 400, raw);
        assert.equal(r.body.error.code, 'validation_failed');
        assert.equal(r.body.error.details[0].field, field);
      }
      const c = (await api.post('/v1/conversations', {})).body.data;
      const m = await api.request('POST', `/v1/conversations/${c.id}/messages`, {
        raw: '{"role":"user","content":"\\ud83d"}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(m.status, 400);
      assert.equal(m.body.error.details[0].field, '/body/content');
      const q = await api.get('/v1/conversations?search=%00x');
      assert.equal(q.status, 400);
      assert.equal((await api.get('/v1/conversations')).body.meta.total, before + 1);
    });

    test('search: accents, case, phrases, prefixes and punctuation behave alike', async () => {
      const c = (
        await api.post('/v1/conversations', {
          title: 'Quarterly numbers',
          messages: [{ role: 'user', content: 'Crème brûlée at the Straße café, pi is 3.14, mail ana@example.org' }],
        })
      ).body.data;
      const found = async (q: string) =>
        ((await api.get(`/v1/conversations?search=${encodeURIComponent(q)}`)).body.data as Array<{ id: string }>).some(
          (x) => x.id === c.id,
        );
      assert.equal(await found('creme'), true, 'accent-insensitive');
      assert.equal(await found('CRÈME BRÛ'), true, 'case and prefix');
      assert.equal(await found('"creme brulee"'), true, 'phrase');
      assert.equal(await found('"brulee creme"'), false, 'phrase order matters');
      assert.equal(await found('3.14'), true, 'numbers with a dot');
      assert.equal(await found('example.org'), true, 'address parts');
      assert.equal(await found('quarter'), true, 'title prefix');
      assert.equal(await found('cafe zebra'), false, 'every term must match');
      assert.equal(await found("brûlée') OR 1=1 --"), false, 'operators are just text');
      assert.equal((await api.get(`/v1/conversations?search=${encodeURIComponent('"*:&|!<->\'\\')}`)).status, 200);
    });
  });
}
