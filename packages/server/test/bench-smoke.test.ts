import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testEngines } from './helpers/harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Verdict {
  scope: string;
  label: string;
  value: number;
  spread?: { min: number; median: number; max: number; values: number[] };
  goal: { op: string; value: number } | null;
  pass: boolean | null;
}

/** Runs `npm run bench`'s entry with --quick into a temp folder; returns the folder's JSON by key. */
function bench(
  args: string[],
  out: string,
): { stdout: string; docs: Map<string, { verdicts: Verdict[]; record: any }> } {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/index.ts', '--quick', ...args, '--out', out, '--md', path.join(out, 'RESULTS.md')],
    { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 },
  );
  assert.equal(run.status, 0, `bench failed:\n${run.stdout}\n${run.stderr}`);
  const docs = new Map<string, { verdicts: Verdict[]; record: any }>();
  for (const f of readdirSync(out).filter((x) => x.endsWith('.json'))) {
    const doc = JSON.parse(readFileSync(path.join(out, f), 'utf8'));
    docs.set(doc.key, doc);
  }
  return { stdout: run.stdout, docs };
}

/** The judged CPU verdict of Parley against a peer: a finite ratio per round, a goal, a boolean. */
function assertJudgedCpu(verdicts: Verdict[], peer: string, goal: number): void {
  const v = verdicts.find((x) => x.label.startsWith(`parley vs ${peer}, CPU`));
  assert.ok(v, `a CPU verdict against ${peer}`);
  assert.deepEqual(v.goal, { op: '>=', value: goal });
  assert.equal(typeof v.pass, 'boolean');
  assert.ok(v.spread && v.spread.values.length >= 2, 'one ratio per round');
  for (const x of v.spread.values) assert.ok(Number.isFinite(x) && x > 0, `ratio ${x}`);
  assert.ok(v.spread.min <= v.value && v.value <= v.spread.max);
}

// The benchmark is not a test; this proves `npm run bench -- --quick` still runs end to end on the
// one harness: answers checked, rounds alternated, CPU read per round, a verdict per row, the
// RESULTS.md sections and the JSON written. No timing is asserted.
describe('bench smoke (--quick)', () => {
  // the bench child has 240 s of its own; the test gets more than the runner's default 120 s
  it('get, list, fanout and seed on SQLite: verdicts with their goals, JSON and RESULTS.md sections', {
    timeout: 300_000,
  }, () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-smoke-'));
    try {
      const { stdout, docs } = bench(['--scenario', 'get,list,fanout,seed', '--engine', 'sqlite'], out);
      assert.deepEqual([...docs.keys()].sort(), ['redis:fanout', 'sqlite:get', 'sqlite:list', 'sqlite:seed']);
      const fr = docs.get('redis:fanout')?.record;
      assert.equal(fr.deliveries, fr.settings.subscribers * fr.settings.messages, 'every subscriber got every message');
      assert.equal(fr.liveStreamsOnA, fr.settings.idleSockets, 'the idle sockets were all live on A');
      for (const [key, goal] of [
        ['sqlite:get', 0.85],
        ['sqlite:list', 0.8],
      ] as const) {
        const doc = docs.get(key);
        assert.ok(doc);
        const targets = new Set(doc.record.rows.map((r: { target: string }) => r.target));
        assert.deepEqual([...targets].sort(), ['fastify', 'node-http', 'parley', 'parley-info']);
        for (const row of doc.record.rows)
          assert.ok(row.ops > 0 && Number.isFinite(row.cpuUsPerOp), 'CPU per request read');
        assertJudgedCpu(doc.verdicts, 'node-http', goal);
      }
      const seed = docs.get('sqlite:seed');
      assert.ok(seed);
      const vs = seed.verdicts.find((v) => v.label.startsWith('seed-data / bare'));
      assert.ok(vs && Number.isFinite(vs.value) && vs.value > 0 && typeof vs.pass === 'boolean');
      const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
      for (const key of ['sqlite:get', 'sqlite:list', 'redis:fanout', 'sqlite:seed']) {
        assert.match(md, new RegExp(`<!-- bench:${key}:start -->`));
      }
      assert.match(
        stdout,
        /parley vs node-http, CPU per request \(node-http \/ parley\): [\d.]+x \(min [\d.]+, max [\d.]+\); goal >= 0.85x (MET|NOT MET)/,
      );
      assert.match(stdout, /^verdicts:$/m);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

// PostgreSQL joins when the suite runs on it: its dataset, both peers (node:http + pg, Express + pg),
// their answers checked equal to Parley's before any timing, and the engine's own goals judged.
if (testEngines().includes('postgres')) {
  describe('bench smoke (--quick, postgres)', () => {
    it('get and list against the node-http and express peers, with postgres sections', { timeout: 300_000 }, () => {
      const out = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-smoke-pg-'));
      try {
        const { stdout, docs } = bench(['--scenario', 'get,list', '--engine', 'postgres'], out);
        assert.deepEqual([...docs.keys()].sort(), ['postgres:get', 'postgres:list']);
        assertJudgedCpu(docs.get('postgres:get')?.verdicts ?? [], 'node-http', 0.8);
        assertJudgedCpu(docs.get('postgres:list')?.verdicts ?? [], 'node-http', 0.75);
        for (const doc of docs.values()) {
          const express = doc.verdicts.find((v) => v.label.startsWith('parley vs express, throughput'));
          assert.deepEqual(express?.goal, { op: '>=', value: 1.5 });
        }
        const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
        assert.match(md, /<!-- bench:postgres:get:start -->/);
        assert.match(md, /<!-- bench:postgres:list:start -->/);
        assert.match(stdout, /parley vs express, throughput \(parley \/ express\)/);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
}
