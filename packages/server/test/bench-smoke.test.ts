import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testEngines } from './helpers/harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The benchmark is not a test; this only proves `npm run bench -- --quick` still runs end to end
// and writes its results. No timing is asserted: ratios on a busy machine are whatever they are.
describe('bench smoke (--quick)', () => {
  // the bench child has 240 s of its own; the test gets more than the runner's default 120 s
  it('runs every scenario and writes JSON with ratios and a RESULTS.md section', { timeout: 300_000 }, () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-smoke-'));
    try {
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out, '--md', path.join(out, 'RESULTS.md')],
        { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 },
      );
      assert.equal(run.status, 0, `bench failed:\n${run.stdout}\n${run.stderr}`);
      const files = readdirSync(out).filter((f) => f.endsWith('.json'));
      assert.deepEqual(files.map((f) => f.replace(/^\d{4}-\d{2}-\d{2}-/, '')).sort(), [
        'fanout.json',
        'get.json',
        'list.json',
      ]);
      const fanout = JSON.parse(
        readFileSync(path.join(out, files.find((f) => f.endsWith('fanout.json')) ?? ''), 'utf8'),
      );
      const fr = fanout.runs[0].record;
      assert.equal(fr.deliveries, fr.settings.subscribers * fr.settings.messages, 'every subscriber got every message');
      assert.equal(fr.liveStreamsOnA, fr.settings.idleSockets, 'the idle sockets were all live on A');
      for (const f of files.filter((x) => !x.endsWith('fanout.json'))) {
        const doc = JSON.parse(readFileSync(path.join(out, f), 'utf8'));
        const runRecord = doc.runs[0];
        assert.equal(runRecord.engine, 'sqlite');
        assert.ok(runRecord.rows.length >= 2 * runRecord.targets.length, 'one row per target per round');
        for (const row of runRecord.rows) assert.equal(row.errors, 0);
        const judged = runRecord.ratios.find((r: { target: number | null }) => r.target !== null);
        assert.ok(judged, 'a judged ratio');
        assert.equal(judged.parley, 'parley');
        assert.equal(judged.peer, 'node-http');
        assert.ok(Number.isFinite(judged.median) && judged.median > 0);
        assert.equal(typeof judged.pass, 'boolean');
      }
      const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
      assert.match(md, /<!-- bench:sqlite:get:start -->/);
      assert.match(md, /<!-- bench:sqlite:list:start -->/);
      assert.match(md, /<!-- bench:redis:fanout:start -->/);
      assert.match(run.stdout, /ratio parley\/node-http: median/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

// PostgreSQL joins when the suite runs on it: its dataset, both peers (node:http + pg, Express + pg),
// their answers checked equal to Parley's before any timing, and the engine's own targets judged.
if (testEngines().includes('postgres')) {
  describe('bench smoke (--quick, postgres)', () => {
    it('runs both scenarios against the node-http and express peers and writes postgres sections', {
      timeout: 300_000,
    }, () => {
      const out = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-smoke-pg-'));
      try {
        const run = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/run.ts',
            '--quick',
            '--engine',
            'postgres',
            '--out',
            out,
            '--md',
            path.join(out, 'RESULTS.md'),
          ],
          { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 },
        );
        assert.equal(run.status, 0, `bench failed:\n${run.stdout}\n${run.stderr}`);
        // the get and list results (fanout is engine-independent and writes its own shape)
        const files = readdirSync(out).filter((x) => /-(get|list)\.json$/.test(x));
        assert.equal(files.length, 2, `get and list results in ${readdirSync(out).join(', ')}`);
        for (const f of files) {
          const runRecord = JSON.parse(readFileSync(path.join(out, f), 'utf8')).runs[0];
          assert.equal(runRecord.engine, 'postgres');
          for (const row of runRecord.rows) assert.equal(row.errors, 0);
          const judged = runRecord.ratios.filter((r: { target: number | null }) => r.target !== null);
          assert.deepEqual(judged.map((r: { peer: string; target: number }) => [r.peer, r.target]).sort(), [
            ['express', 1.5],
            ['node-http', 0.75],
          ]);
        }
        const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
        assert.match(md, /<!-- bench:postgres:get:start -->/);
        assert.match(md, /<!-- bench:postgres:list:start -->/);
        assert.match(run.stdout, /ratio parley\/express: median/);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
}
