// @parley/sdk on every runtime its README names: the same program (test/fixtures/sdk-smoke.ts,
// bundled with the SDK's source by esbuild, no `node:` import) runs against a real server on this
// Node and on each runtime of PARLEY_TEST_SDK_RUNTIMES (`name=path,…`; CI passes the machine's
// Node 20 and Bun and Deno from the npm registry). A named runtime that is missing fails the test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { newWorkspace, startServer, type TestServer, testEngines } from './helpers/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Runtime {
  name: string;
  bin: string;
}

/** This Node, then each `name=path` of PARLEY_TEST_SDK_RUNTIMES. */
function runtimes(): Runtime[] {
  const listed = (process.env.PARLEY_TEST_SDK_RUNTIMES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new Error(`PARLEY_TEST_SDK_RUNTIMES: "${entry}" is not name=path`);
      return { name: entry.slice(0, eq), bin: entry.slice(eq + 1) };
    });
  return [{ name: `node ${process.version}`, bin: process.execPath }, ...listed];
}

/** The command line that runs an ES module file on a runtime. */
function commandFor(rt: Runtime, file: string): string[] {
  const base = path.basename(rt.bin);
  if (base.startsWith('deno')) return [rt.bin, 'run', '--no-prompt', '--allow-net=127.0.0.1', file];
  return [rt.bin, file];
}

function run(cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd[0] as string,
      cmd.slice(1),
      { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

for (const engine of testEngines()) {
  describe(`@parley/sdk on every runtime [${engine}]`, () => {
    let server: TestServer;
    let key: string;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-sdk-rt-'));

    before(async () => {
      server = await startServer(engine);
      const ws = await newWorkspace(server, 'sdk-runtimes');
      key = (await ws.key(['read:ai', 'write:ai'])).secret;
    });
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const [i, rt] of runtimes().entries()) {
      test(`${rt.name}: create, keyed retry, live event, pages, search, export, delete, typed error`, async () => {
        assert.ok(existsSync(rt.bin), `runtime ${rt.name} not found at ${rt.bin}`);
        const runId = `${engine}${i}`;
        const file = path.join(dir, `smoke-${runId}.mjs`);
        const out = await build({
          entryPoints: [path.join(here, 'fixtures', 'sdk-smoke.ts')],
          bundle: true,
          format: 'esm',
          platform: 'neutral',
          target: 'es2022',
          write: false,
          define: {
            __PARLEY_URL__: JSON.stringify(server.url),
            __PARLEY_KEY__: JSON.stringify(key),
            __PARLEY_RUN__: JSON.stringify(runId),
          },
        });
        writeFileSync(file, out.outputFiles[0]?.text ?? '');

        const r = await run(commandFor(rt, file));
        const steps = new Map<string, unknown>();
        for (const line of r.stdout.split('\n').filter(Boolean)) {
          const { step, value } = JSON.parse(line) as { step: string; value: unknown };
          steps.set(step, value);
        }
        assert.equal(steps.get('failed'), undefined, `${rt.name} failed: ${String(steps.get('failed'))}\n${r.stderr}`);
        assert.equal(steps.get('done'), true, `${rt.name} did not finish (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

        const id = steps.get('created') as string;
        assert.match(id, /^conv_/);
        assert.equal(steps.get('idempotent'), true, 'the keyed retry answered the stored message');
        assert.equal(steps.get('live'), true, 'the appended message arrived on the live stream');
        assert.deepEqual(steps.get('messages'), [`zebrafinch ${runId} question`, 'first answer', 'live answer']);
        assert.deepEqual(steps.get('listed'), [id]);
        assert.deepEqual(steps.get('found'), [id]);
        assert.deepEqual(steps.get('exported'), ['export', 'conversation', 'message', 'message', 'message', 'end']);
        assert.deepEqual(steps.get('gone'), { code: 'not_found', status: 404, hasRequestId: true });

        // the server agrees: the conversation the program deleted is gone
        const res = await fetch(`${server.url}/v1/conversations/${id}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(res.status, 404);
      });
    }
  });
}
