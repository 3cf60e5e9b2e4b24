// The `parley` commands that talk to a running server through the SDK, spawned for real against a
// real server on every engine: what they print (tables, --json, --jsonl), their one-line errors and
// exit codes (README "CLI"), and that they act on the server (a delete deletes).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, runCliOnTerminal } from './helpers/cli.js';
import { Client, startServer, type TestServer, testEngines } from './helpers/harness.js';
import { freePort } from './helpers/processes.js';
import { newSdkWorkspace, type SdkKey, type SdkWorkspace, sdk } from './helpers/sdk.js';

const REQUEST_LINE = (code: string) => new RegExp(`^error: ${code}: .+ \\(request req_[0-9A-Za-z]+\\)\\n$`);

/** The ids in a table's first column (the header line left out). */
function tableIds(stdout: string): string[] {
  const [header, ...rows] = stdout.trimEnd().split('\n');
  assert.match(header ?? '', /^ID\s+/, stdout);
  return rows.map((r) => r.split(/\s+/)[0] as string);
}

for (const engine of testEngines()) {
  describe(`cli against a server [${engine}]`, () => {
    let server: TestServer;
    let ws: SdkWorkspace;
    let reader: SdkKey;
    let env: Record<string, string>;
    const acme: string[] = [];
    let other: string;
    let archived: string;

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 } });
      ws = await newSdkWorkspace(server, 'cli');
      reader = await ws.key(['read:ai']);
      const api = ws.admin.parley;
      for (const [i, user] of ['u1', 'u2', 'u1'].entries()) {
        server.clock.advance(1000);
        const c = await api.conversations.create({
          title: `Acme renewal ${i}`,
          user_id: user,
          bot_id: 'sales',
          messages: [
            { role: 'user', content: `What did acme sign in round ${i}?\nSecond line` },
            { role: 'assistant', content: `Acme signed the Series B term sheet (${i}).` },
          ],
        });
        acme.push(c.id);
      }
      server.clock.advance(1000);
      other = (await api.conversations.create({ title: 'Weekly sync', user_id: 'u3', bot_id: 'ops' })).id;
      server.clock.advance(1000);
      archived = (await api.conversations.create({ title: 'Old acme thread', user_id: 'u1' })).id;
      await api.conversations.update(archived, { archived: true });
      env = { PARLEY_URL: server.url, PARLEY_KEY: ws.admin.secret };
    });
    after(async () => server?.close());

    test('conversations search acme --url --key prints a table of the matches, best first', async () => {
      const r = await runCli(['conversations', 'search', 'acme', '--url', server.url, '--key', ws.admin.secret]);
      assert.equal(r.code, 0, r.stderr);
      const ids = tableIds(r.stdout);
      assert.deepEqual(
        ids.slice().sort(),
        acme.slice().sort(),
        'the three live acme conversations, not the archived one',
      );
      const [header] = r.stdout.split('\n');
      for (const col of ['ID', 'UPDATED', 'USER', 'BOT', 'MSGS', 'TITLE', 'MATCH'])
        assert.ok(header?.includes(col), header);
      // aligned: every row's TITLE starts in the header's TITLE column
      const at = header?.indexOf('TITLE') as number;
      for (const row of r.stdout.trimEnd().split('\n').slice(1)) assert.match(row.slice(at), /^Acme renewal \d/, row);
      assert.match(r.stderr, /^3 of 3 conversations\n$/);
    });

    test('a narrow terminal (COLUMNS) shortens titles with "…", never the ids', async () => {
      const r = await runCli(['conversations', 'list'], { ...env, COLUMNS: '60' });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      for (const line of lines.slice(1)) assert.match(line, /^conv_[0-9A-Z]{26} /, line);
      assert.ok(
        lines.some((l) => l.includes('…')),
        r.stdout,
      );
      assert.deepEqual(tableIds(r.stdout).sort(), [...acme, other].sort());
    });

    test('conversations list --json is the list the API answers; filters pass through', async () => {
      const r = await runCli(['conversations', 'list', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const listed = JSON.parse(r.stdout) as Array<{ id: string; title: string; message_count: number }>;
      const expected = await ws.admin.parley.conversations.list().toArray();
      assert.deepEqual(listed, JSON.parse(JSON.stringify(expected)));
      assert.equal(r.stderr, '', 'no footer with --json');

      const mine = JSON.parse((await runCli(['conversations', 'list', '--user', 'u1', '--json'], env)).stdout);
      assert.deepEqual(mine.map((c: { id: string }) => c.id).sort(), [acme[0], acme[2]].sort());
      const withArchived = JSON.parse(
        (await runCli(['conversations', 'list', '--user', 'u1', '--archived', '--json'], env)).stdout,
      );
      assert.deepEqual(withArchived.map((c: { id: string }) => c.id).sort(), [acme[0], acme[2], archived].sort());
      const only = JSON.parse((await runCli(['conversations', 'list', '--only-archived', '--json'], env)).stdout);
      assert.deepEqual(
        only.map((c: { id: string }) => c.id),
        [archived],
      );
      const bot = JSON.parse((await runCli(['conversations', 'list', '--bot', 'ops', '--json'], env)).stdout);
      assert.deepEqual(
        bot.map((c: { id: string }) => c.id),
        [other],
      );
    });

    test('--limit stops early and says how many there are; --page-size walks several pages', async () => {
      const limited = await runCli(['conversations', 'list', '--limit', '2'], env);
      assert.equal(limited.code, 0, limited.stderr);
      assert.equal(tableIds(limited.stdout).length, 2);
      assert.match(limited.stderr, /^2 of 4 conversations\n$/);

      const paged = await runCli(['conversations', 'list', '--all', '--page-size', '1', '--jsonl'], env);
      assert.equal(paged.code, 0, paged.stderr);
      const lines = paged.stdout.trimEnd().split('\n');
      const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
      const expected = (await ws.admin.parley.conversations.list().toArray()).map((c) => c.id);
      assert.deepEqual(ids, expected, 'one page at a time, nothing repeated or skipped');
      assert.equal(ids.length, 4);
    });

    test('conversations search --json carries the match; the search filters apply', async () => {
      const r = await runCli(['conversations', 'search', 'series', '--user', 'u2', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const found = JSON.parse(r.stdout) as Array<{ id: string; match: { field: string; snippet: string } }>;
      assert.deepEqual(
        found.map((c) => c.id),
        [acme[1]],
      );
      assert.equal(found[0]?.match.field, 'content');
      assert.match(found[0]?.match.snippet ?? '', /Series/);
    });

    test('conversations show prints the conversation and every message; --json is one document', async () => {
      const id = acme[0] as string;
      const text = await runCli(['conversations', 'show', id], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^id\\s+${id}$`, 'm'));
      assert.match(text.stdout, /^title\s+Acme renewal 0$/m);
      assert.match(text.stdout, /^messages\s+2$/m);
      assert.match(text.stdout, /\n {2}What did acme sign in round 0\?\n {2}Second line\n/);
      assert.match(text.stdout, /\d{4}-\d\d-\d\dT[\d:.]+Z {2}assistant {2}msg_\w+\n {2}Acme signed the Series B/);

      const json = await runCli(['conversations', 'show', id, '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout) as { id: string; title: string; messages: Array<{ id: string }> };
      const messages = await ws.admin.parley.messages.list(id).toArray();
      assert.equal(doc.id, id);
      assert.equal(doc.title, 'Acme renewal 0');
      assert.deepEqual(doc.messages, JSON.parse(JSON.stringify(messages)));
    });

    test('messages list prints the messages oldest first, on one line each; --json and --order desc', async () => {
      const id = acme[1] as string;
      const r = await runCli(['messages', 'list', id], env);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trimEnd().split('\n');
      assert.equal(rows.length, 3, r.stdout);
      assert.match(rows[1] ?? '', /\buser {2,}What did acme sign in round 1\? Second line$/);
      assert.match(rows[2] ?? '', /\bassistant {2,}Acme signed/);
      const desc = JSON.parse((await runCli(['messages', 'list', id, '--order', 'desc', '--json'], env)).stdout);
      assert.deepEqual(
        desc.map((m: { role: string }) => m.role),
        ['assistant', 'user'],
      );
    });

    test('conversations delete: refused without --yes off a terminal, done with --yes, then not_found', async () => {
      const id = acme[2] as string;
      const refused = await runCli(['conversations', 'delete', id], env);
      assert.equal(refused.code, 2, refused.stdout);
      assert.match(
        refused.stderr,
        /^error: not deleting conv_\w+ without --yes: there is no terminal to confirm on\n$/,
      );
      assert.equal((await ws.admin.client.get(`/v1/conversations/${id}`)).status, 200, 'still there');

      const done = await runCli(['conversations', 'delete', id, '--yes'], env);
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stdout, `deleted ${id}\n`);
      assert.equal((await ws.admin.client.get(`/v1/conversations/${id}`)).status, 404);

      const again = await runCli(['conversations', 'show', id], env);
      assert.equal(again.code, 1);
      assert.equal(again.stdout, '');
      assert.match(again.stderr, REQUEST_LINE('not_found'));
      const requestId = /\(request (req_\w+)\)/.exec(again.stderr)?.[1];
      assert.ok(requestId);

      const events = JSON.parse(
        (await runCli(['audit', '--action', 'conversation.deleted', '--json'], env)).stdout,
      ) as Array<{ target_id: string; actor_key_id: string }>;
      assert.deepEqual(
        events.map((e) => [e.target_id, e.actor_key_id]),
        [[id, ws.admin.id]],
      );
    });

    test('on a terminal, delete shows what will go and asks: no keeps it, yes deletes it', async () => {
      const doomed = await ws.admin.parley.conversations.create({
        title: 'Doomed',
        messages: [{ role: 'user', content: 'bye' }],
      });
      const prompt = `Delete ${doomed.id} "Doomed" with its 1 message and 0 tool steps? This cannot be undone. [y/N]`;
      const kept = await runCliOnTerminal(['conversations', 'delete', doomed.id], env, prompt, 'n');
      assert.ok(kept.prompted, kept.stdout);
      assert.equal(kept.code, 1, kept.stdout);
      assert.match(kept.stdout, /not deleted/);
      assert.equal((await ws.admin.client.get(`/v1/conversations/${doomed.id}`)).status, 200, 'kept');

      const gone = await runCliOnTerminal(['conversations', 'delete', doomed.id], env, prompt, 'y');
      assert.ok(gone.prompted, gone.stdout);
      assert.equal(gone.code, 0, gone.stdout);
      assert.match(gone.stdout, new RegExp(`deleted ${doomed.id}`));
      assert.equal((await ws.admin.client.get(`/v1/conversations/${doomed.id}`)).status, 404);
    });

    test('audit walks every page up to --limit; --jsonl one event per line', async () => {
      const all = await ws.admin.parley.audit.list().toArray();
      assert.ok(all.length >= 4, 'workspace created, keys created, a rename/archive…');
      const everything = await runCli(['audit', '--all', '--page-size', '2', '--jsonl'], env);
      assert.equal(everything.code, 0, everything.stderr);
      assert.deepEqual(
        everything.stdout
          .trimEnd()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: string }).id),
        all.map((e) => e.id),
      );
      const three = await runCli(['audit', '--limit', '3', '--page-size', '2'], env);
      assert.equal(three.code, 0, three.stderr);
      const rows = three.stdout.trimEnd().split('\n');
      assert.match(rows[0] ?? '', /^CREATED\s+ACTION\s+ACTOR\s+TARGET\s+COUNTS$/);
      assert.equal(rows.length, 4);
      assert.match(three.stderr, /^3 events \(more: raise --limit or pass --all\)\n$/);
    });

    test('keys with --url: create (secret once), list, revoke → the key is refused', async () => {
      const made = await runCli(
        ['keys', 'create', '--name', 'from-cli', '--scopes', 'read:ai', '--user', 'u9', '--json'],
        env,
      );
      assert.equal(made.code, 0, made.stderr);
      const out = JSON.parse(made.stdout) as { key: { id: string; scopes: string[]; user_id: string }; secret: string };
      assert.deepEqual(out.key.scopes, ['read:ai']);
      assert.equal(out.key.user_id, 'u9');
      const client = new Client(server.url, out.secret);
      assert.equal((await client.get('/v1/conversations')).status, 200);

      const table = await runCli(['keys', 'list'], env);
      assert.equal(table.code, 0, table.stderr);
      const row = table.stdout.split('\n').find((l) => l.startsWith(out.key.id));
      assert.ok(row, table.stdout);
      assert.match(row, /read:ai\s+u9\s+default\s+never\s+\S+\s+active\s+from-cli$/);
      assert.doesNotMatch(table.stdout, /prl_[A-Za-z0-9_-]{43}/, 'no secret in a list');

      const revoked = await runCli(['keys', 'revoke', out.key.id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stdout, `revoked ${out.key.id}\n`);
      assert.equal((await client.get('/v1/conversations')).status, 401);
    });

    test('keys: operator-only options are usage errors with a server; --local reaches the database', async () => {
      const admin = await runCli(['keys', 'create', '--instance-admin'], env);
      assert.equal(admin.code, 2);
      assert.match(admin.stderr, /^error: --instance-admin acts on the database directly/);
      const ws2 = await runCli(['keys', 'list', '--workspace', ws.id], env);
      assert.equal(ws2.code, 2);
      assert.match(ws2.stderr, /--workspace acts on the database directly/);
      const both = await runCli(['keys', 'list', '--local', '--url', server.url], env);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /give --url or --local, not both/);
      // --local with PARLEY_URL set: the operator path, which opens the server's database
      const local = await runCli(['keys', 'list', '--local', '--workspace', ws.id, '--json'], {
        ...env,
        PARLEY_DATA_DIR: server.dataDir,
        PARLEY_DATABASE_URL: server.parley.config.database.url,
      });
      assert.equal(local.code, 0, local.stderr);
      const ids = (JSON.parse(local.stdout) as Array<{ id: string }>).map((k) => k.id);
      assert.ok(ids.includes(ws.admin.id), local.stdout);
    });

    test('workspaces list with --url needs the instance admin key', async () => {
      const instance = await runCli(['workspaces', 'list', '--json'], { ...env, PARLEY_KEY: server.instanceKey });
      assert.equal(instance.code, 0, instance.stderr);
      assert.deepEqual(
        (JSON.parse(instance.stdout) as Array<{ name: string }>).map((w) => w.name),
        ['default', 'cli'],
      );
      const refused = await runCli(['workspaces', 'list'], env);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(refused.stderr, REQUEST_LINE('insufficient_permissions'));
    });

    test('a wrong key exits 4 with the code and the request id; a key without the scope too', async () => {
      const wrong = await runCli(['conversations', 'list'], { ...env, PARLEY_KEY: `prl_${'x'.repeat(43)}` });
      assert.equal(wrong.code, 4);
      assert.equal(wrong.stdout, '');
      assert.match(wrong.stderr, REQUEST_LINE('invalid_key'));
      const scope = await runCli(['audit'], { ...env, PARLEY_KEY: reader.secret });
      assert.equal(scope.code, 4);
      assert.match(scope.stderr, REQUEST_LINE('insufficient_permissions'));
      const del = await runCli(['conversations', 'delete', other, '--yes'], { ...env, PARLEY_KEY: reader.secret });
      assert.equal(del.code, 4);
      assert.equal((await sdk(server, ws.admin.secret).conversations.get(other)).id, other, 'not deleted');
    });

    test('a missing id exits 1 with not_found and the request id', async () => {
      const r = await runCli(['conversations', 'show', 'conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA'], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, REQUEST_LINE('not_found'));
      const m = await runCli(['messages', 'list', 'nope'], env);
      assert.equal(m.code, 1);
      assert.match(m.stderr, REQUEST_LINE('not_found'));
    });

    test('an invalid filter is the server’s validation error, naming the field', async () => {
      const r = await runCli(['conversations', 'list', '--created-after', 'yesterday'], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: validation_failed: .*created_after.*\(request req_\w+\)\n$/);
    });
  });
}

describe('cli remote commands without a server', () => {
  test('an unreachable URL exits 3 with one line naming it', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli(['conversations', 'list', '--url', url, '--key', `prl_${'x'.repeat(43)}`]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^error: cannot connect to ${url}: ECONNREFUSED\\n$`));
  });

  test('usage errors exit 2 and touch nothing', async () => {
    const key = `prl_${'x'.repeat(43)}`;
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [['conversations', 'list', '--key', key], /^error: no server given: pass --url or set PARLEY_URL\n$/],
      [['conversations', 'list'], /^error: no API key given: set PARLEY_KEY/, { PARLEY_URL: 'http://127.0.0.1:9' }],
      [['conversations', 'list', '--url', 'ftp://x', '--key', key], /--url must be an http\(s\) URL/],
      [
        ['conversations', 'list', '--url', 'http://127.0.0.1:9', '--key', key, '--limit', 'ten'],
        /--limit must be a positive whole number/,
      ],
      [
        ['conversations', 'list', '--url', 'http://127.0.0.1:9', '--key', key, '--limit', '5', '--all'],
        /--limit or --all/,
      ],
      [
        ['conversations', 'list', '--url', 'http://127.0.0.1:9', '--key', key, '--page-size', '500'],
        /--page-size must be at most 100/,
      ],
      [
        ['conversations', 'list', '--url', 'http://127.0.0.1:9', '--key', key, '--json', '--jsonl'],
        /--json or --jsonl/,
      ],
      [
        ['conversations', 'list', '--url', 'http://127.0.0.1:9', '--key', key, '--order', 'sideways'],
        /--order must be asc or desc/,
      ],
      [['conversations', 'list', '--frobnicate'], /^error: unknown option '--frobnicate'/],
      [['conversations', 'show'], /^error: missing required argument 'id'/],
      [['conversations', 'frobnicate'], /unknown command 'frobnicate'/],
      [['conversations'], /Usage: parley conversations/],
    ];
    for (const [args, expected, env] of cases) {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
  });

  test('--help lists the remote commands, the variables and the exit codes, and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const s of ['conversations', 'messages', 'audit', 'PARLEY_URL', 'PARLEY_KEY', 'Exit codes']) {
      assert.ok(r.stdout.includes(s), s);
    }
    const sub = await runCli(['conversations', 'search', '--help']);
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /--archived/);
    assert.match(sub.stdout, /--jsonl/);
  });
});
