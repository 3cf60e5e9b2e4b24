// `parley erase <user_id>` spawned for real against a real server on every engine: confirmation,
// --yes, --no-wait, --json with the receipt, --export-to, a legal hold's refusal and exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, runCliOnTerminal } from './helpers/cli.js';
import { newWorkspace, startServer, type TestServer, type TestWorkspace, testEngines } from './helpers/harness.js';
import { placeHold, releaseHold } from './helpers/holds.js';
import { waitForJob } from './helpers/jobs.js';

for (const engine of testEngines()) {
  describe(`parley erase [${engine}]`, () => {
    let server: TestServer;
    let ws: TestWorkspace;
    let env: Record<string, string>;
    let dir: string;

    async function conversationsOf(user: string, n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const c = await ws.admin.post('/v1/conversations', {
          user_id: user,
          title: `${user} ${i}`,
          messages: [{ role: 'user', content: `${user} says ${i}` }],
        });
        assert.equal(c.status, 201, c.text);
        ids.push(c.body.data.id);
      }
      return ids;
    }

    before(async () => {
      server = await startServer(engine, { limits: { rate: 1_000_000 }, jobs: { batchSize: 2 } });
      ws = await newWorkspace(server, 'cli-erase');
      // an admin key not bound to a user (the workspace's first key is one)
      const admin = await ws.key(['admin', 'read:ai', 'write:ai']);
      env = { PARLEY_URL: server.url, PARLEY_KEY: admin.secret };
      dir = mkdtempSync(path.join(tmpdir(), 'parley-cli-erase-'));
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await server?.close();
    });

    test('--yes --json follows the job to its receipt; the conversations are gone', async () => {
      const ids = await conversationsOf('olga', 3);
      const r = await runCli(['erase', 'olga', '--yes', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout);
      assert.equal(job.kind, 'user.erase');
      assert.equal(job.state, 'succeeded');
      assert.deepEqual([...job.result.receipt.conversation_ids].sort(), [...ids].sort());
      assert.equal(job.result.receipt.counts.messages, 3);
      assert.equal(r.stderr, '', 'no progress bar without a terminal, nothing else on stderr');
      for (const id of ids) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 404);
    });

    test('without --yes and without a terminal it refuses (exit 2) and erases nothing', async () => {
      const [id] = await conversationsOf('pete', 1);
      const r = await runCli(['erase', 'pete'], env);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /without --yes/);
      assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 200);
    });

    test('on a terminal it asks first: "n" keeps everything, "y" erases and prints a summary', async () => {
      const ids = await conversationsOf('quinn', 2);
      const prompt = 'This cannot be undone. [y/N]';
      const kept = await runCliOnTerminal(['erase', 'quinn'], env, prompt, 'n');
      assert.ok(kept.prompted, kept.stdout);
      assert.equal(kept.code, 1, kept.stdout);
      assert.match(kept.stdout, /\(2 conversations, and any in the trash\)/);
      assert.match(kept.stdout, /not erased/);
      assert.equal((await ws.admin.get(`/v1/conversations/${ids[0]}`)).status, 200);
      const gone = await runCliOnTerminal(['erase', 'quinn'], env, prompt, 'y');
      assert.ok(gone.prompted, gone.stdout);
      assert.equal(gone.code, 0, gone.stdout);
      assert.match(gone.stdout, /erased user quinn: 2 conversations, 2 messages, 0 tool steps \(job job_/);
      for (const id of ids) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 404);
    });

    test('--no-wait prints the queued job; the job finishes on the server', async () => {
      await conversationsOf('rita', 2);
      const r = await runCli(['erase', 'rita', '--yes', '--no-wait', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout);
      assert.match(job.id, /^job_/);
      assert.ok(['queued', 'running', 'succeeded'].includes(job.state), job.state);
      assert.equal((await waitForJob(ws.admin, job.id)).state, 'succeeded');
      const plain = await runCli(['erase', 'nobody-at-all', '--yes', '--no-wait'], env);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^erase of nobody-at-all queued as job job_\S+ /);
    });

    test('--export-to saves the JSONL export the job wrote before erasing', async () => {
      const ids = await conversationsOf('sam', 2);
      const file = path.join(dir, 'sam.jsonl');
      const r = await runCli(['erase', 'sam', '--yes', '--export-to', file], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /erased user sam: 2 conversations/);
      assert.match(r.stdout, new RegExp(`export written to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(lines[0].type, 'export');
      assert.deepEqual(
        lines
          .filter((l) => l.type === 'conversation')
          .map((l) => l.id)
          .sort(),
        [...ids].sort(),
      );
      assert.deepEqual(lines.at(-1), { type: 'end', conversations: 2, messages: 2, tool_invocations: 0 });
      for (const id of ids) assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 404);
    });

    test('a held user: the error line names legal_hold, exit 1, nothing erased', async () => {
      const [id] = await conversationsOf('tess', 1);
      const hold = await placeHold(ws, 'user', 'tess');
      const r = await runCli(['erase', 'tess', '--yes'], env);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /^error: legal_hold: .+\(request req_[0-9A-Za-z]+\)\n$/);
      assert.equal((await ws.admin.get(`/v1/conversations/${id}`)).status, 200);
      await releaseHold(ws, hold);
    });
  });
}
