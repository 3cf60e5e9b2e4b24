// The `parley` lifecycle commands (export, import, purge, trash, holds, bulk delete, webhooks),
// spawned for real against a real server on every engine: files written whole, the export → import
// round trip through files, idempotent re-imports, per-line import errors and exit codes, the trash
// with a moved clock, and legal holds refusing deletes with the `legal_hold` code.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, runCliOnTerminal } from './helpers/cli.js';
import { startServer, type TestServer, testEngines } from './helpers/harness.js';
import { newSdkWorkspace, type SdkWorkspace } from './helpers/sdk.js';

const REQUEST_LINE = (code: string) => new RegExp(`^error: ${code}: .+ \\(request req_[0-9A-Za-z]+\\)\\n$`);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Each test spawns the CLI several times (a few seconds each on a loaded machine). */
const SLOW = { timeout: 600_000 };

/** A JSONL export without its first line (the header carries the time of the export). */
const body = (jsonl: string) => jsonl.split('\n').slice(1).join('\n');

/** The workspace's JSONL export, read through the SDK (what the CLI commands are compared with). */
async function jsonl(w: SdkWorkspace): Promise<string> {
  return new Response((await w.admin.parley.exports.workspace()).body).text();
}

for (const engine of testEngines()) {
  describe(`cli lifecycle commands [${engine}]`, () => {
    let server: TestServer;
    let source: SdkWorkspace;
    let target: SdkWorkspace;
    let dir: string;
    const envOf = (w: SdkWorkspace) => ({ PARLEY_URL: server.url, PARLEY_KEY: w.admin.secret });
    const ids: string[] = [];

    before(async () => {
      // the periodic purge sweep kept out of the way (a day apart): with the clock moved past the trash
      // window, a sweep between the move and `parley purge` would purge what the command is to report
      server = await startServer(engine, {
        limits: { rate: 1_000_000 },
        webhooks: { allowPrivate: true },
        lifecycle: { purgeIntervalSeconds: 86_400 },
      });
      source = await newSdkWorkspace(server, 'source');
      target = await newSdkWorkspace(server, 'target');
      dir = mkdtempSync(path.join(os.tmpdir(), 'parley-cli-lifecycle-'));
      const api = source.admin.parley;
      for (const [i, user] of ['u1', 'u2', 'u1'].entries()) {
        server.clock.advance(1000);
        const c = await api.conversations.create({
          title: `Deal ${i}`,
          user_id: user,
          bot_id: 'sales',
          context: { matter_id: `m-${i}` },
          metadata: { n: i },
          messages: [
            { role: 'user', content: `line one ${i}\nline two "quoted" 日本` },
            { role: 'assistant', content: `answer ${i}` },
          ],
        });
        await api.toolInvocations.create(c.id, { tool_name: 'crm.lookup', input: { q: i }, output: { ok: true } });
        ids.push(c.id);
      }
      await api.conversations.update(ids[2] as string, { archived: true });
    });
    after(async () => {
      await server?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test(
      'export → import → export through files: the copy is equal, and a second import creates nothing',
      SLOW,
      async () => {
        const a = path.join(dir, 'a.jsonl');
        const out = await runCli(['export', '--out', a, '--json'], envOf(source));
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), {
          file: a,
          format: 'jsonl',
          bytes: readFileSync(a).length,
          conversations: 3,
          messages: 6,
          tool_invocations: 3,
        });
        const text = readFileSync(a, 'utf8');
        assert.match(text, /^\{"type":"export","format":"parley.export"/);
        assert.match(text, /\{"type":"end","conversations":3,"messages":6,"tool_invocations":3\}\n$/);
        assert.deepEqual(readdirSync(dir), ['a.jsonl'], 'no temporary file left beside it');

        const first = await runCli(['import', a, '--json'], envOf(target));
        assert.equal(first.code, 0, first.stderr);
        const report = JSON.parse(first.stdout);
        assert.deepEqual(report.conversations, { created: 3, skipped: 0, failed: 0 });
        assert.deepEqual(report.messages, { created: 6, skipped: 0, failed: 0 });
        assert.deepEqual(report.tool_invocations, { created: 3, skipped: 0, failed: 0 });
        assert.equal(report.errors, 0);

        const b = path.join(dir, 'b.jsonl');
        const back = await runCli(['export', '--out', b], envOf(target));
        assert.equal(back.code, 0, back.stderr);
        assert.equal(
          back.stdout,
          `exported 3 conversations, 6 messages, 3 tool invocations (${(readFileSync(b).length / 1000).toFixed(1)} KB) to ${b}\n`,
        );
        assert.equal(body(readFileSync(b, 'utf8')), body(text), 'the copy equals the original, line for line');

        // again: nothing new, each conversation reported already present, exit 0
        const again = await runCli(['import', a], envOf(target));
        assert.equal(again.code, 0, again.stderr);
        const rows = again.stdout.trimEnd().split('\n');
        assert.match(rows[0] ?? '', /^LINE\s+TYPE\s+STATUS\s+ID\s+ERROR$/);
        assert.equal(rows.length, 4, again.stdout);
        for (const row of rows.slice(1))
          assert.match(row, /^\s*\d+ {2}conversation {2}already present {2}conv_\w+/, row);
        assert.match(again.stderr, /conversations 0 created, 3 already present; messages 0 created, 6 already present/);
        assert.equal(body(await jsonl(target)), body(text), 'the target is unchanged');
      },
    );

    test('export of one conversation or a user’s; markdown; a JSON export imports back', SLOW, async () => {
      const one = await runCli(['export', ids[1] as string], envOf(source));
      assert.equal(one.code, 0, one.stderr);
      const lines = one.stdout.trimEnd().split('\n');
      assert.deepEqual(
        lines.map((l) => JSON.parse(l).type),
        ['export', 'conversation', 'message', 'message', 'tool_invocation', 'end'],
      );
      assert.equal(JSON.parse(lines[1] as string).id, ids[1]);
      assert.equal(one.stderr, '', 'no bar, no summary when stdout is the export');

      // u1 has Deal 0 and Deal 2 (archived): --archived false leaves Deal 2 out
      const md = path.join(dir, 'u1.md');
      const markdown = await runCli(
        ['export', '--user', 'u1', '--archived', 'false', '--format', 'markdown', '--out', md],
        envOf(source),
      );
      assert.equal(markdown.code, 0, markdown.stderr);
      assert.match(markdown.stdout, /^exported 1 conversation, 2 messages, 1 tool invocation /);
      const transcript = readFileSync(md, 'utf8');
      assert.match(transcript, /^# Parley export\n[\s\S]*## Deal 0\n/);
      assert.doesNotMatch(transcript, /Deal [12]/);

      const json = path.join(dir, 'all.json');
      assert.equal((await runCli(['export', '--format', 'json', '--out', json], envOf(source))).code, 0);
      const third = await newSdkWorkspace(server, 'third');
      const imported = await runCli(['import', json, '--json'], envOf(third));
      assert.equal(imported.code, 0, imported.stderr);
      assert.deepEqual(JSON.parse(imported.stdout).messages, { created: 6, skipped: 0, failed: 0 });
      assert.equal(body(await jsonl(third)), body(await jsonl(source)), 'the JSON document round-trips too');
    });

    test('an export that fails leaves the existing file as it was; bad options are usage errors', SLOW, async () => {
      const file = path.join(dir, 'keep.jsonl');
      writeFileSync(file, 'previous export\n');
      const missing = await runCli(['export', 'conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA', '--out', file], envOf(source));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, REQUEST_LINE('not_found'));
      assert.equal(readFileSync(file, 'utf8'), 'previous export\n');
      assert.ok(!readdirSync(dir).some((f) => f.endsWith('.part')), 'no temporary file left');

      for (const [args, expected] of [
        [['export', ids[0] as string, '--user', 'u1'], /give it or filters \(user_id\), not both/],
        [['import', path.join(dir, 'nope.jsonl')], /^error: no such file: /],
      ] as Array<[string[], RegExp]>) {
        const r = await runCli(args, envOf(source));
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, expected, args.join(' '));
      }
    });

    test(
      'a bad file: the lines that are right are imported, each bad line reported by number, exit 1',
      SLOW,
      async () => {
        const bad = path.join(dir, 'bad.jsonl');
        writeFileSync(
          bad,
          [
            '{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"hi"}],"external_id":"t-1"}',
            'this is not json',
            '',
            '{"messages":[{"role":"wizard","content":"abracadabra"}]}',
            '{"type":"message","id":"msg_01KF0Z8J1R5Q0V7M4T2B9XW3NB","role":"user","content":"orphan"}',
          ].join('\n'),
        );
        const fresh = await newSdkWorkspace(server, 'bad-file');
        const r = await runCli(['import', bad], envOf(fresh));
        assert.equal(r.code, 1, r.stderr);
        const rows = r.stdout.trimEnd().split('\n').slice(1);
        assert.equal(rows.length, 4, r.stdout);
        assert.match(rows[0] ?? '', /^\s*1\s+chat\s+created\s+conv_\w+\s+-$/);
        assert.match(rows[1] ?? '', /^\s*2\s.*\serror\s+-\s+invalid_json: /);
        assert.match(rows[2] ?? '', /^\s*4\s+chat\s+error\s+-\s+validation_failed: .*role/);
        assert.match(rows[3] ?? '', /^\s*5\s+message\s+error\s+-\s+validation_failed: .*conversation_id/);
        assert.match(r.stderr, /4 lines read: .*; 3 lines in error\n$/);

        const json = await runCli(['import', bad, '--json'], envOf(fresh));
        assert.equal(json.code, 1, 'still 1 with --json');
        const report = JSON.parse(json.stdout);
        assert.equal(report.errors, 3);
        assert.deepEqual(
          report.conversations,
          { created: 0, skipped: 1, failed: 1 },
          'the good chat is not created twice; the bad one fails again',
        );
        assert.deepEqual(
          report.results.filter((e: { status: string }) => e.status === 'error').map((e: { line: number }) => e.line),
          [2, 4, 5],
        );
      },
    );

    test(
      'trash: days set and read, bulk delete to the trash, restore, purge after the window (moved clock)',
      SLOW,
      async () => {
        const w = await newSdkWorkspace(server, 'trash');
        const env = envOf(w);
        const set = await runCli(['trash', 'days', '3'], env);
        assert.equal(set.code, 0, set.stderr);
        assert.equal(set.stdout, 'trash_days 3: deleted conversations stay restorable that many days\n');
        assert.equal((await w.admin.parley.workspaces.current()).trash_days, 3);

        const made: string[] = [];
        for (let i = 0; i < 3; i++) {
          made.push(
            (await w.admin.parley.conversations.create({ title: `T${i}`, messages: [{ role: 'user', content: 'x' }] }))
              .id,
          );
        }
        const missing = 'conv_01KF0Z8J1R5Q0V7M4T2B9XW3NA';
        const del = await runCli(['conversations', 'bulk-delete', '--stdin', '--yes', '--json'], env, {
          stdin: `${made.join('\n')}\n${missing}\n`,
        });
        assert.equal(del.code, 1, 'one id was not found');
        const answer = JSON.parse(del.stdout);
        assert.deepEqual(answer.meta, { deleted: 3, not_found: 1, held: 0, trashed: true });
        assert.deepEqual(
          answer.data.map((r: { id: string; status: string }) => [r.id, r.status]),
          [...made.map((id) => [id, 'deleted']), [missing, 'not_found']],
        );

        const listed = JSON.parse((await runCli(['trash', 'list', '--json'], env)).stdout);
        assert.deepEqual(
          listed.map((t: { conversation: { id: string } }) => t.conversation.id).sort(),
          [...made].sort(),
        );

        const restored = await runCli(['trash', 'restore', made[0] as string, missing], env);
        assert.equal(restored.code, 1, 'one of the two was not in the trash');
        assert.equal(restored.stdout, `restored ${made[0]}\n`);
        assert.match(restored.stderr, new RegExp(`^error: ${missing}: not_found: .+ \\(request req_\\w+\\)\\n$`));
        assert.equal((await w.admin.parley.conversations.get(made[0] as string)).id, made[0]);

        // the test clock runs on from real time: an hour's margin either side of the window
        server.clock.advance(3 * DAY - HOUR);
        assert.deepEqual(await w.admin.parley.trash.purge(), { purged: 0, held: 0, messages: 0 }, 'not due yet');
        server.clock.advance(2 * HOUR);
        const due = await runCli(['purge', '--json'], env);
        assert.equal(due.code, 0, due.stderr);
        assert.deepEqual(JSON.parse(due.stdout), { purged: 2, held: 0, messages: 2 });
        assert.deepEqual(await w.admin.parley.trash.list().toArray(), []);
      },
    );

    test(
      'holds: a held conversation is refused with legal_hold and exit 1 on every delete; release lets it go',
      SLOW,
      async () => {
        const w = await newSdkWorkspace(server, 'holds');
        const env = envOf(w);
        const api = w.admin.parley;
        const held = (await api.conversations.create({ title: 'Held' })).id;
        const matter = (await api.conversations.create({ title: 'Matter', context: { matter_id: 'mx-1' } })).id;
        const free = (await api.conversations.create({ title: 'Free' })).id;

        const made = await runCli(
          ['holds', 'create', '--conversation', held, '--reason', 'dispute 114', '--json'],
          env,
        );
        assert.equal(made.code, 0, made.stderr);
        const hold = JSON.parse(made.stdout);
        assert.equal(hold.target_type, 'conversation');
        assert.equal(hold.reason, 'dispute 114');
        const matterHold = (await api.holds.create({ target_type: 'matter_id', target_value: 'mx-1' })).id;

        const one = await runCli(['conversations', 'delete', held, '--yes'], env);
        assert.equal(one.code, 1);
        assert.match(one.stderr, REQUEST_LINE('legal_hold'));
        assert.match(one.stderr, new RegExp(`conversation ${held} is held by ${hold.id}`));
        await assert.rejects(api.conversations.delete(matter), { code: 'legal_hold' }, 'the matter hold covers it');

        const atomic = await runCli(['conversations', 'bulk-delete', held, free, '--yes'], env);
        assert.equal(atomic.code, 1);
        assert.match(atomic.stderr, REQUEST_LINE('legal_hold'));
        assert.equal((await api.conversations.get(free)).id, free, 'all or nothing: the free one stays');

        const partial = await runCli(['conversations', 'bulk-delete', held, free, '--yes', '--no-atomic'], env);
        assert.equal(partial.code, 1, 'the held one was not deleted');
        assert.match(partial.stdout, new RegExp(`^${held}\\s+held\\s+${hold.id}$`, 'm'));
        assert.match(partial.stdout, new RegExp(`^${free}\\s+deleted`, 'm'));
        assert.equal(partial.stderr, '1 deleted, 0 not found, 1 held\n');

        const table = await runCli(['holds', 'list'], env);
        assert.equal(table.code, 0, table.stderr);
        assert.match(table.stdout, new RegExp(`^${hold.id}\\s+conversation ${held}\\s+active\\s+.*dispute 114$`, 'm'));
        assert.match(table.stdout, new RegExp(`^${matterHold}\\s+matter_id mx-1\\s+active`, 'm'));

        const released = await runCli(['holds', 'release', hold.id, matterHold], env);
        assert.equal(released.code, 0, released.stderr);
        assert.equal(
          released.stdout,
          `released ${hold.id} (conversation ${held})\nreleased ${matterHold} (matter_id mx-1)\n`,
        );
        const listed = await api.holds.list({ include_released: 'true' }).toArray();
        assert.deepEqual(
          listed.map((h) => h.active),
          [false, false],
        );
        const gone = await api.conversations.bulkDelete({ ids: [held, matter] });
        assert.deepEqual(gone.meta, { deleted: 2, not_found: 0, held: 0, trashed: false });
      },
    );

    test('purge keeps held conversations in the trash and says so', SLOW, async () => {
      const w = await newSdkWorkspace(server, 'purge-held');
      const env = envOf(w);
      const api = w.admin.parley;
      await api.workspaces.updateCurrent({ trash_days: 1 });
      const a = (await api.conversations.create({ title: 'A', user_id: 'keep' })).id;
      const b = (await api.conversations.create({ title: 'B', user_id: 'other' })).id;
      await api.conversations.bulkDelete({ ids: [a, b] });
      await api.holds.create({ target_type: 'user', target_value: 'keep' });
      const refused = await runCli(['purge', '--all'], env);
      assert.equal(refused.code, 2, 'no terminal to confirm on');
      assert.match(refused.stderr, /not purging the whole trash without --yes/);
      const r = await runCli(['purge', '--all', '--yes'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'purged 1 conversation (0 messages); 1 held by a legal hold stays in the trash\n');
      const left = (await api.trash.list().toArray()).map((t) => t.conversation.id);
      assert.deepEqual(left, [a]);
    });

    test('webhooks: create (secret once), deliveries, rotate, delete', SLOW, async () => {
      const received: string[] = [];
      const receiver: Server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          received.push(String(req.headers['webhook-id']));
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
        const w = await newSdkWorkspace(server, 'hooks');
        const env = envOf(w);
        const made = await runCli(['webhooks', 'create', endpoint, '--events', 'conversation.created', '--json'], env);
        assert.equal(made.code, 0, made.stderr);
        const { webhook, secret } = JSON.parse(made.stdout);
        assert.match(secret, /^whsec_/);

        await w.admin.parley.conversations.create({ title: 'ping' });
        // bounded wait for the delivery worker (the test fails, never hangs, if it never delivers)
        for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(received.length, 1, 'delivered once');
        const log = await runCli(['webhooks', 'deliveries', webhook.id, '--json'], env);
        assert.equal(log.code, 0, log.stderr);
        const deliveries = JSON.parse(log.stdout);
        assert.deepEqual(
          deliveries.map((d: { id: string; event_type: string }) => [d.id, d.event_type]),
          [[received[0], 'conversation.created']],
        );

        const rotated = await runCli(['webhooks', 'rotate', webhook.id], env);
        assert.equal(rotated.code, 0, rotated.stderr);
        assert.match(rotated.stdout, new RegExp(`^webhook ${webhook.id}\\nsecret \\(shown once\\): whsec_\\S+\\n$`));
        assert.doesNotMatch(rotated.stdout, new RegExp(secret));
        const del = await runCli(['webhooks', 'delete', webhook.id], env);
        assert.equal(del.stdout, `deleted ${webhook.id}\n`);
        await assert.rejects(w.admin.parley.webhooks.get(webhook.id), { code: 'not_found' });
      } finally {
        receiver.close();
      }
    });

    test('at a terminal, export draws a progress bar on stderr and still writes the file whole', SLOW, async () => {
      const file = path.join(dir, 'tty.jsonl');
      const r = await runCliOnTerminal(['export', '--out', file], envOf(source), '\u0000never', '');
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /3\/3 conversations/, 'the bar, as the terminal shows it');
      assert.match(r.stdout, /exported 3 conversations/);
      assert.match(readFileSync(file, 'utf8'), /\{"type":"end","conversations":3,/);
    });
  });
}

test('the lifecycle commands are in --help', async () => {
  const r = await runCli(['--help']);
  for (const c of ['export', 'import', 'purge', 'trash', 'holds', 'webhooks']) {
    assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), c);
  }
});
