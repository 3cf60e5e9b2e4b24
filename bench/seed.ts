/**
 * The bulk-load scenario: `parley seed-data`'s own path (src/seed: generator threads, the bulk
 * loader) into a fresh SQLite database against the bare bulk insert of the same rows with the
 * indexes built afterwards (bench/lib/bare-load.ts), alternating rounds, each into a new file.
 * Before timing counts, both databases must hold the same rows: table and full-text row counts,
 * counter sums, and the same hits for a few searches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SeedGenerator, type SeedOptions } from '../packages/server/src/seed/generator.js';
import { seedData } from '../packages/server/src/seed/run.js';
import { openStore } from '../packages/server/src/store/open.js';
import { workspaceTag } from '../packages/server/src/store/sqlite/search.js';
import {
  alternate,
  assertSameAnswers,
  type ReportSink,
  ratio,
  report,
  summarise,
  type Verdict,
  verdict,
} from './harness.js';
import { bareLoad } from './lib/bare-load.js';

export const SEED_SIZES = {
  '1m': { workspaces: 10, conversations: 100_000, messages: 1_000_000 },
  '100k': { workspaces: 10, conversations: 10_000, messages: 100_000 },
  quick: { workspaces: 4, conversations: 1_000, messages: 10_000 },
} as const;

export interface SeedSettings {
  size: keyof typeof SEED_SIZES;
  rounds: number;
}

export function seedSettings(quick: boolean, o: { size?: string; rounds?: string }): SeedSettings {
  const size = (o.size ?? (quick ? 'quick' : '1m')) as keyof typeof SEED_SIZES;
  if (!(size in SEED_SIZES)) throw new Error(`--size for seed: one of ${Object.keys(SEED_SIZES).join(', ')}`);
  const rounds = Number(o.rounds ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive whole number');
  return { size, rounds };
}

/** What the database holds, for the answer check. */
function contents(file: string, workspaceIds: string[]): unknown {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const tag = workspaceTag(
      (db.prepare('SELECT rowid AS r FROM workspaces WHERE id = ?').get(workspaceIds[0]) as { r: number }).r,
    );
    // message ids, not rowids: batches arrive from the generator threads in either order
    const hits = (word: string) =>
      (
        db
          .prepare(
            `SELECT m.id FROM message_idx JOIN messages m ON m.rowid = message_idx.rowid
             WHERE message_idx MATCH ? ORDER BY m.id`,
          )
          .all(`"${tag}_${word}"`) as Array<{ id: string }>
      ).map((x) => x.id);
    return {
      conversations: n('SELECT count(*) AS n FROM conversations'),
      messages: n('SELECT count(*) AS n FROM messages'),
      tools: n('SELECT count(*) AS n FROM tool_invocations'),
      messageIndex: n('SELECT count(*) AS n FROM message_idx'),
      titleIndex: n('SELECT count(*) AS n FROM title_idx'),
      counters: db.prepare('SELECT workspace_id, name, value FROM counters ORDER BY workspace_id, name').all(),
      indexes: db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name`).all(),
      hits: ['the', 'contract', 'de', 'zeitplan'].map((w) => {
        const ids = hits(w);
        return { w, rows: ids.length, first: ids.slice(0, 20) };
      }),
    };
  } finally {
    db.close();
  }
}

export async function runSeed(settings: SeedSettings, sink: ReportSink): Promise<Verdict[]> {
  const opts: SeedOptions = { ...SEED_SIZES[settings.size], seed: 1, now: Date.UTC(2026, 10, 1) };
  const plan = new SeedGenerator(opts);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-seed-'));
  const answers: Array<{ target: string; data: unknown }> = [];
  let file = 0;
  try {
    const targets = [
      { name: 'seed-data', kind: 'parley' as const, pid: process.pid },
      { name: 'bare', kind: 'peer' as const, pid: process.pid },
    ];
    const rows = await alternate(targets, { rounds: settings.rounds, label: 'seed' }, async (t, round) => {
      const db = path.join(dir, `${t.name}-${++file}.db`);
      // the schema comes from the migrations either way, untimed
      await (await openStore({ databaseUrl: `sqlite:${db}` })).close();
      const started = performance.now();
      let messages: number;
      if (t.name === 'seed-data') {
        const store = await openStore({ databaseUrl: `sqlite:${db}` });
        try {
          messages = (await seedData(store, opts)).messages;
        } finally {
          await store.close();
        }
      } else {
        const raw = new BetterSqlite3(db);
        try {
          raw.pragma('journal_mode = WAL');
          messages = await bareLoad(raw, opts, plan.workspaceIds);
        } finally {
          raw.close();
        }
      }
      const durationMs = performance.now() - started;
      if (round === 1) answers.push({ target: t.name, data: contents(db, plan.workspaceIds) });
      for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
      return { ops: messages, durationMs, figures: { seconds: durationMs / 1000 } };
    });
    assertSameAnswers(`the loaded database (${settings.size})`, answers);
    const r = ratio(rows, 'seed-data', 'bare', 'throughput');
    const summary = summarise(rows);
    const rate = summary.find((s) => s.target === 'seed-data')?.perSecond ?? Number.NaN;
    const big = settings.size === '1m';
    const verdicts = [
      verdict('seed-data messages/s into SQLite', rate, '/s', big ? { op: '>=', value: 50_000 } : null),
      verdict('seed-data / bare bulk insert, by messages/s', r.median, 'x', { op: '>=', value: 0.5 }, r),
    ];
    report(sink, {
      key: 'sqlite:seed',
      title: 'sqlite / seed',
      description:
        '`parley seed-data` (generator threads, the bulk loader) into a new SQLite database vs a bare bulk insert of the same rows with the indexes built afterwards',
      facts: [
        `Data: ${opts.workspaces} workspaces, ${opts.conversations.toLocaleString('en')} conversations, ~${opts.messages.toLocaleString('en')} messages (seed 1), each round into a new file`,
        `${settings.rounds} rounds per side, order flipping each round; both sides get their rows from the same generator threads; CPU is the whole process's (writer and generators)`,
        'Both databases checked to hold the same rows (counts, counters, full-text rows and hits) before the figures count',
      ],
      table: {
        head: ['target', 'median messages/s', 'median s', 'CPU us/message'],
        rows: summary.map((s) => [s.target, Math.round(s.perSecond), s.figures.seconds ?? Number.NaN, s.cpuUsPerOp]),
      },
      verdicts,
      record: { settings, opts, rows },
    });
    return verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
