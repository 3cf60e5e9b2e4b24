import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createParley, type Parley } from '../src/parley.js';
import { Client, testEngines } from './helpers/harness.js';
import { freePort, pgBin, sleep } from './helpers/processes.js';

/**
 * PostgreSQL restarted (immediate shutdown, i.e. a crash) under write load, on a private cluster
 * this test creates (initdb in a temp dir, its own port, run as the postgres user: PostgreSQL
 * refuses root), so the machine's server is never touched. Writers retry with their
 * Idempotency-Key on 503 / connection errors. Afterwards every acknowledged message exists exactly
 * once, nothing answered 500, and no request took 10 s.
 */
const WRITERS = 4;
const PER_WRITER = 30;

// scale-out suite: runs when PARLEY_TEST_ENGINES includes postgres (CI), and then fails, never
// skips, if a server is missing
if (testEngines().includes('postgres'))
  describe('PostgreSQL restart under load', () => {
    let dir: string;
    let dataDir: string;
    let port: number;
    let parley: Parley;
    let api: Client;

    const asPostgres = (bin: string, args: string[]) =>
      execFileSync('runuser', ['-u', 'postgres', '--', pgBin(bin), ...args], { stdio: 'pipe', timeout: 60_000 });
    const pgStart = () =>
      asPostgres('pg_ctl', [
        '-D',
        dataDir,
        '-l',
        path.join(dir, 'postgres.log'),
        '-w',
        '-t',
        '30',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
        'start',
      ]);
    const pgStop = (mode: 'immediate' | 'fast') => asPostgres('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'parley-pgfault-'));
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
      dataDir = path.join(dir, 'data');
      asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
      port = await freePort();
      pgStart();
      const config = loadConfig(
        {},
        {
          http: { host: '127.0.0.1', port: 0 },
          database: { dataDir: dir, url: `postgres://postgres@127.0.0.1:${port}/postgres` },
          log: { level: 'silent' },
          pg: { connectTimeoutMs: 2000, statementTimeoutMs: 3000 },
          limits: { rate: 1_000_000 },
        },
      );
      parley = await createParley(config, { logger: createLogger({ level: 'silent' }) });
      const url = await parley.start();
      const boot = parley.bootstrapped;
      assert.ok(boot);
      api = new Client(url, boot.key.secret);
    });

    after(async () => {
      await parley?.close();
      try {
        pgStop('fast');
      } catch {
        // already down
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test('acknowledged writes survive exactly once; 503 (never 500) while down; nothing hangs', async (t) => {
      const conversations: string[] = [];
      for (let w = 0; w < WRITERS; w++) {
        const r = await api.post('/v1/conversations', { title: `writer ${w}` });
        assert.equal(r.status, 201);
        conversations.push(r.body.data.id);
      }
      const statuses = new Map<number | string, number>();
      const note = (s: number | string) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
      let slowest = 0;
      const acked = new Map<string, string>(); // content -> message id
      const abandoned = new Set<string>();
      let restarted = false;
      let with503Header = 0;

      const writer = async (w: number) => {
        const conversationId = conversations[w] as string;
        for (let j = 0; j < PER_WRITER; j++) {
          const content = `w${w}-m${j}`;
          for (;;) {
            const started = Date.now();
            let status: number | string;
            let body: { data?: { id: string } } | undefined;
            let retryAfter: string | null = null;
            // only the request itself may fail as a network error; assertions stay outside the
            // try, so a failed one fails the test instead of counting as a retry
            try {
              const r = await api.post(
                `/v1/conversations/${conversationId}/messages`,
                { role: 'user', content },
                { 'idempotency-key': content },
              );
              status = r.status;
              body = r.body;
              retryAfter = r.headers.get('retry-after');
            } catch {
              status = 'network';
            }
            if (status === 503) {
              assert.match(retryAfter ?? '', /^\d+$/, `503 for ${content} carries Retry-After (got ${retryAfter})`);
              with503Header++;
            }
            slowest = Math.max(slowest, Date.now() - started);
            note(status);
            if (status === 201) {
              acked.set(content, body?.data?.id as string);
              break;
            }
            if (status === 409) {
              // the crash cut this request between its key claim and its effect: the key stays
              // locked until its lease ends. Its effect never committed; leave it and check that.
              abandoned.add(content);
              break;
            }
            assert.ok(status === 503 || status === 'network', `unexpected ${status}`);
            await sleep(100);
          }
          // pace the writers so the restart lands mid-load
          if (!restarted) await sleep(20);
        }
      };

      const crash = (async () => {
        while (acked.size < (WRITERS * PER_WRITER) / 4) await sleep(10);
        pgStop('immediate');
        await sleep(1500);
        pgStart();
        restarted = true;
      })();
      await Promise.all([crash, ...Array.from({ length: WRITERS }, (_, w) => writer(w))]);

      const seen = Object.fromEntries(statuses);
      t.diagnostic(
        `statuses ${JSON.stringify(seen)}; acked ${acked.size}; abandoned ${abandoned.size}; slowest ${slowest} ms`,
      );
      assert.ok(!statuses.has(500), `no 500: ${JSON.stringify(seen)}`);
      assert.ok((statuses.get(503) ?? 0) > 0, `the outage was seen as 503: ${JSON.stringify(seen)}`);
      assert.equal(with503Header, statuses.get(503), 'every 503 was checked for Retry-After');
      assert.ok(slowest < 10_000, `slowest request ${slowest} ms`);
      assert.ok(acked.size >= WRITERS * PER_WRITER - WRITERS, `acked ${acked.size}`);

      for (let w = 0; w < WRITERS; w++) {
        const r = await api.get(`/v1/conversations/${conversations[w]}?limit=1000`);
        assert.equal(r.status, 200);
        const contents = (r.body.data.messages as Array<{ id: string; content: string }>).map((m) => m.content);
        const counts = new Map<string, number>();
        for (const c of contents) counts.set(c, (counts.get(c) ?? 0) + 1);
        for (let j = 0; j < PER_WRITER; j++) {
          const content = `w${w}-m${j}`;
          const n = counts.get(content) ?? 0;
          if (acked.has(content)) assert.equal(n, 1, `${content} acknowledged, stored ${n} times`);
          else assert.equal(n, 0, `${content} never acknowledged, stored ${n} times`);
        }
        assert.equal(r.body.data.message_count, contents.length, 'message_count exact');
      }
      const ready = await api.with(undefined).get('/readyz');
      assert.equal(ready.status, 200);
    });
  });
