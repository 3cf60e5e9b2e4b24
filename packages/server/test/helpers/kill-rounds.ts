import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { counterIncrements } from '../../src/store/counters.js';
import { type Engine, groupedCommits } from './harness.js';
import { freshPostgresDatabase } from './postgres.js';
import { firstWorkspace, type ParleyProcess, sleep, spawnParley } from './processes.js';

/**
 * kill -9 under a mixed writer, on SQLite or PostgreSQL (on SQLite with group commit on, as by default: the kill lands among
 * writes sharing commits): four writers create conversations, append messages and
 * delete conversations (every write keyed) against a real `parley serve`, which is killed with
 * SIGKILL at a random moment and restarted on the same file. After each restart: every
 * acknowledged create and append is there, every acknowledged delete is gone, each request whose
 * answer was lost lands exactly once when retried with its key, counters equal rows, and
 * `PRAGMA integrity_check` is ok.
 */
export interface KillStats {
  rounds: number;
  creates: number;
  appends: number;
  deletes: number;
  /** Requests in flight at the kill, retried with their key after the restart. */
  retried: number;
  /** Of those, answered from the stored answer: committed before the crash, the answer lost. */
  replayed: number;
  /** Of those, found still claimed by the killed process (409 + Retry-After) and retried after the lock. */
  lockWaits: number;
  /** Commits that held more than one write (group commit), read from /metrics just before each kill. */
  grouped: number;
}

interface Pending {
  kind: 'create' | 'append' | 'delete';
  key: string;
  marker: string;
  conv?: string;
}

/** Plain SQL on the database a spawned server uses: `?` placeholders on both engines. */
export interface RawDb {
  all<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openRawDb(engine: Engine, url: string): Promise<RawDb> {
  if (engine === 'sqlite') {
    const db = new BetterSqlite3(url.replace(/^sqlite:/, ''), { fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return {
      all: async (text, params = []) => {
        const stmt = db.prepare(text);
        if (stmt.reader) return stmt.all(...params) as never;
        stmt.run(...params);
        return [] as never;
      },
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    all: async (text, params = []) => {
      let n = 0;
      return (
        await client.query(
          text.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows;
    },
    close: () => client.end(),
  };
}

/** A database for a spawned server: a file in `dataDir`, or a fresh PostgreSQL database. */
export async function processDatabase(engine: Engine, dataDir: string) {
  if (engine === 'sqlite') return { url: `sqlite:${path.join(dataDir, 'parley.db')}`, drop: async () => {} };
  return freshPostgresDatabase();
}

/**
 * What must hold after any crash: counters equal the rows (per conversation and per workspace, for
 * the conversations in view), no orphan message or tool invocation, and on SQLite
 * `PRAGMA integrity_check` ok.
 */
export async function checkRows(engine: Engine, url: string, workspaceId: string): Promise<void> {
  const db = await openRawDb(engine, url);
  try {
    if (engine === 'sqlite') {
      const integrity = await db.all<{ integrity_check: string }>('PRAGMA integrity_check');
      assert.deepEqual(
        integrity.map((r) => r.integrity_check),
        ['ok'],
        'PRAGMA integrity_check',
      );
    }
    const convs = await db.all<{
      id: string;
      userId: string | null;
      botId: string | null;
      archived: number;
      hidden: string | null;
      mc: number;
      tc: number;
      mr: number;
      tr: number;
    }>(
      `SELECT id, user_id AS "userId", bot_id AS "botId", archived, deleted_state AS hidden,
          message_count AS mc, tool_invocation_count AS tc,
          (SELECT count(*) FROM messages m WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id) AS mr,
          (SELECT count(*) FROM tool_invocations t WHERE t.workspace_id = c.workspace_id AND t.conversation_id = c.id) AS tr
         FROM conversations c WHERE workspace_id = ?`,
      [workspaceId],
    );
    for (const c of convs) {
      assert.equal(Number(c.mc), Number(c.mr), `${c.id}: message_count equals its message rows`);
      assert.equal(Number(c.tc), Number(c.tr), `${c.id}: tool_invocation_count equals its rows`);
    }
    const want: Record<string, number> = {};
    for (const inc of counterIncrements(
      convs
        .filter((c) => c.hidden === null)
        .map((c) => ({ workspaceId, userId: c.userId, botId: c.botId, archived: Number(c.archived) === 1 })),
    )) {
      want[inc.name] = (want[inc.name] ?? 0) + inc.value;
    }
    const stored: Record<string, number> = {};
    for (const r of await db.all<{ name: string; value: number }>(
      'SELECT name, value FROM counters WHERE workspace_id = ?',
      [workspaceId],
    )) {
      if (Number(r.value) !== 0) stored[r.name] = Number(r.value);
    }
    assert.deepEqual(stored, want, 'the counters equal the rows');
    const [orphans] = await db.all<{ n: number }>(
      `SELECT count(*) AS n FROM messages m WHERE NOT EXISTS
        (SELECT 1 FROM conversations c WHERE c.workspace_id = m.workspace_id AND c.id = m.conversation_id)`,
    );
    assert.equal(Number(orphans?.n), 0, 'no message outlives its conversation');
    const [toolOrphans] = await db.all<{ n: number }>(
      `SELECT count(*) AS n FROM tool_invocations t WHERE NOT EXISTS
        (SELECT 1 FROM conversations c WHERE c.workspace_id = t.workspace_id AND c.id = t.conversation_id)`,
    );
    assert.equal(Number(toolOrphans?.n), 0, 'no tool invocation outlives its conversation');
  } finally {
    await db.close();
  }
}

const LOCK_SECONDS = 5;

export async function killRounds(
  rounds: number,
  engine: Engine = 'sqlite',
  log: (s: string) => void = () => {},
): Promise<KillStats> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-kill-'));
  const database = await processDatabase(engine, dataDir);
  const dbUrl = database.url;
  // a request claimed but not committed at a kill holds its key for the lock time: 5 s here (the
  // default 60 s is the same code with a longer wait), so the retries after each kill take seconds
  const env = {
    PARLEY_DATA_DIR: dataDir,
    PARLEY_DATABASE_URL: dbUrl,
    PARLEY_RATE_LIMIT: '10000000',
    PARLEY_IDEMPOTENCY_LOCK: String(LOCK_SECONDS),
  };
  const stats: KillStats = {
    rounds: 0,
    creates: 0,
    appends: 0,
    deletes: 0,
    retried: 0,
    replayed: 0,
    lockWaits: 0,
    grouped: 0,
  };
  let proc: ParleyProcess | undefined = await spawnParley(env);
  try {
    const { key, workspaceId } = await firstWorkspace(proc, 'kill');
    // what the server acknowledged, across every round
    const live = new Map<string, Set<string>>(); // conversation -> its acknowledged message markers
    const deleted = new Set<string>();
    let seq = 0;

    for (let round = 0; round < rounds; round++) {
      const url = proc.url;
      const send = async (method: string, p: string, idem: string, body?: unknown) => {
        const res = await fetch(url + p, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            'idempotency-key': idem,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(20_000),
        });
        const text = await res.text();
        return { status: res.status, text, replayed: res.headers.get('idempotent-replayed') === 'true' };
      };
      const pending: Pending[] = [];
      let stop = false;
      const pick = () => {
        const ids = [...live.keys()];
        return ids[Math.floor(Math.random() * ids.length)];
      };
      // another writer's delete of the same conversation in flight
      const deleting = (op: Pending) => pending.some((p) => p !== op && p.kind === 'delete' && p.conv === op.conv);
      const writer = async () => {
        while (!stop) {
          const r = Math.random();
          const marker = `m${++seq}r${round}`;
          const idem = `kill-${marker}`;
          const conv = pick();
          const op: Pending =
            r < 0.35 || conv === undefined
              ? { kind: 'create', key: idem, marker }
              : r < 0.85
                ? { kind: 'append', key: idem, marker, conv }
                : { kind: 'delete', key: idem, marker, conv };
          pending.push(op);
          try {
            if (op.kind === 'create') {
              const a = await send('POST', '/v1/conversations', idem, {
                title: op.marker,
                user_id: `u${seq % 3}`,
                messages: [{ role: 'user', content: `first ${op.marker}` }],
              });
              assert.equal(a.status, 201, a.text);
              const id = (JSON.parse(a.text) as { data: { id: string } }).data.id;
              live.set(id, new Set([`first ${op.marker}`]));
              stats.creates++;
            } else if (op.kind === 'append') {
              const a = await send('POST', `/v1/conversations/${op.conv}/messages`, idem, {
                role: 'user',
                content: op.marker,
              });
              // another writer may have deleted it meanwhile: acknowledged, or committed with its 204 still
              // on the way back (that delete is still in `pending`)
              if (a.status === 404 && (deleted.has(op.conv as string) || deleting(op))) {
                pending.splice(pending.indexOf(op), 1);
                continue;
              }
              assert.equal(a.status, 201, a.text);
              live.get(op.conv as string)?.add(op.marker);
              stats.appends++;
            } else {
              const a = await send('DELETE', `/v1/conversations/${op.conv}`, idem);
              if (a.status === 404 && (deleted.has(op.conv as string) || deleting(op))) {
                pending.splice(pending.indexOf(op), 1);
                continue;
              }
              assert.equal(a.status, 204, a.text);
              live.delete(op.conv as string);
              deleted.add(op.conv as string);
              stats.deletes++;
            }
            pending.splice(pending.indexOf(op), 1);
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            // the connection died with the server: this request stays pending
            return;
          }
        }
      };
      const writers = Array.from({ length: 4 }, writer);
      await sleep(300 + Math.random() * 1200);
      // writes keep going while the metrics are read: the kill still lands among grouped writes
      stats.grouped += await groupedCommits(url).catch(() => 0);
      proc.child.kill('SIGKILL');
      await new Promise((r) => (proc?.child.exitCode !== null ? r(null) : proc?.child.once('exit', r)));
      stop = true;
      await Promise.all(writers);

      await checkRows(engine, dbUrl, workspaceId);
      proc = await spawnParley(env);
      const again = proc.url;
      const get = async (p: string) => {
        const res = await fetch(again + p, { headers: { authorization: `Bearer ${key}` } });
        return { status: res.status, body: (await res.json().catch(() => null)) as any };
      };
      // a request whose answer was lost lands exactly once when retried with its key
      for (const op of pending) {
        stats.retried++;
        const url2 = again;
        // a request claimed but not committed at the kill holds its key until the lock lapses: the
        // answer is 409 idempotency_in_progress with Retry-After, and the client tries again then
        const resend = async (method: string, p: string, body?: unknown): Promise<Response> => {
          // a bound on the waiting, whatever Retry-After says each time
          const deadline = Date.now() + LOCK_SECONDS * 1000 + 30_000;
          for (;;) {
            const res = await once(method, p, body);
            if (res.status !== 409 || Date.now() > deadline) return res;
            const code = ((await res.clone().json()) as { error?: { code?: string } }).error?.code;
            if (code !== 'idempotency_in_progress') return res;
            const wait = Number(res.headers.get('retry-after'));
            assert.ok(wait >= 1 && wait <= 61, `Retry-After ${wait}`);
            stats.lockWaits++;
            await res.arrayBuffer();
            await sleep(wait * 1000);
          }
        };
        const once = (method: string, p: string, body?: unknown) =>
          fetch(url2 + p, {
            method,
            headers: {
              authorization: `Bearer ${key}`,
              'idempotency-key': op.key,
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body: body !== undefined ? JSON.stringify(body) : undefined,
          });
        let res: Response;
        if (op.kind === 'create') {
          res = await resend('POST', '/v1/conversations', {
            title: op.marker,
            user_id: `u${Number(op.marker.slice(1, op.marker.indexOf('r'))) % 3}`,
            messages: [{ role: 'user', content: `first ${op.marker}` }],
          });
          assert.equal(res.status, 201, await res.clone().text());
          const id = ((await res.json()) as { data: { id: string } }).data.id;
          live.set(id, new Set([`first ${op.marker}`]));
          const found = await get(`/v1/conversations?search=${op.marker}&archived=true&per_page=10`);
          assert.equal(found.body.data.filter((c: { title: string }) => c.title === op.marker).length, 1);
        } else if (op.kind === 'append') {
          res = await resend('POST', `/v1/conversations/${op.conv}/messages`, { role: 'user', content: op.marker });
          if (res.status === 404 || res.status === 410) {
            // its conversation was deleted (an acknowledged or a lost delete)
            assert.ok(deleted.has(op.conv as string) || pending.some((p) => p.kind === 'delete' && p.conv === op.conv));
          } else {
            assert.equal(res.status, 201, await res.clone().text());
            live.get(op.conv as string)?.add(op.marker);
          }
        } else {
          res = await resend('DELETE', `/v1/conversations/${op.conv}`);
          assert.ok([204, 404, 410].includes(res.status), `retried delete: ${res.status}`);
          live.delete(op.conv as string);
          deleted.add(op.conv as string);
        }
        if (res.headers.get('idempotent-replayed') === 'true') stats.replayed++;
        await res.arrayBuffer().catch(() => undefined);
      }
      // every acknowledged write present (exactly once), every acknowledged delete gone
      for (const [id, markers] of live) {
        const c = await get(`/v1/conversations/${id}`);
        if (c.status === 404 && pending.some((p) => p.kind === 'delete' && p.conv === id)) {
          live.delete(id);
          deleted.add(id);
          continue;
        }
        assert.equal(c.status, 200, `acknowledged conversation ${id} is there`);
        const msgs = await get(`/v1/conversations/${id}/messages?limit=100`);
        const contents: string[] = msgs.body.data.map((m: { content: string }) => m.content);
        for (const m of markers) {
          assert.equal(contents.filter((x) => x === m).length, 1, `${id}: acknowledged message ${m} exactly once`);
        }
        assert.equal(c.body.data.message_count, contents.length, `${id}: message_count`);
      }
      for (const id of deleted) assert.equal((await get(`/v1/conversations/${id}`)).status, 404, `${id} stays deleted`);
      await checkRows(engine, dbUrl, workspaceId);
      stats.rounds++;
      log(`round ${round + 1}: ${live.size} live, ${deleted.size} deleted, ${pending.length} retried after the kill`);
    }
    return stats;
  } finally {
    await proc?.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
