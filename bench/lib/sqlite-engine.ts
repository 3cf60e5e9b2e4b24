import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../packages/server/src/clock.js';
import { newId } from '../../packages/server/src/ids.js';
import { KeysService } from '../../packages/server/src/services/keys.js';
import { WorkspacesService } from '../../packages/server/src/services/workspaces.js';
import { createSqliteStore } from '../../packages/server/src/store/sqlite/index.js';
import { rebuildSqliteSearch } from '../../packages/server/src/store/sqlite/search.js';
import type { Dataset, EngineDef } from './types.js';

export const WORDS = (
  'contract renewal invoice deadline client meeting budget review draft clause liability payment ' +
  'schedule delivery proposal discount support ticket refund account migration report quarter ' +
  'forecast pipeline lead prospect demo pricing onboarding training policy compliance audit ' +
  'summary question answer follow up next steps thanks please confirm details attached'
).split(' ');

/** Small deterministic PRNG so two runs build the same data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)] as string);
  const s = out.join(' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

/**
 * One workspace with `conversations` conversations of 2–6 messages each, columns filled the way
 * the API fills them (generated titles, context ids, metadata, counters, full-text rows). The
 * workspace and key go through the services; the bulk rows go in one raw transaction for speed.
 */
export async function prepareSqlite(size: { conversations: number; quiet: boolean }): Promise<Dataset> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const databaseUrl = `sqlite:${path.join(dir, 'parley.db')}`;
  const store = createSqliteStore(databaseUrl);
  const started = Date.now();
  try {
    const deps = { store, clock: systemClock };
    const keys = new KeysService(deps);
    const ws = await new WorkspacesService(deps, keys).createAsOperator('bench');
    const workspaceId = ws.workspace.id;
    const key = await store.transact(workspaceId, (w) =>
      keys.insert(w, { name: 'bench reader', scopes: ['read:ai'], rateLimit: 10_000_000 }),
    );

    const rand = rng(42);
    const db = store.raw;
    const insConv = db.prepare(`INSERT INTO conversations (workspace_id, id, user_id, bot_id, title, title_source,
      contact_id, deal_id, matter_id, context_extra, metadata, archived, message_count, tool_invocation_count,
      last_message_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
    const insMsg =
      db.prepare(`INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
      VALUES (?,?,?,?,?,?,?)`);
    const counters = new Map<string, number>();
    const bump = (name: string) => counters.set(name, (counters.get(name) ?? 0) + 1);
    const ids: string[] = [];
    let messages = 0;
    const now = Date.now();
    const span = 90 * 24 * 3600 * 1000;
    db.transaction(() => {
      for (let i = 0; i < size.conversations; i++) {
        const created = now - span + Math.floor((span * i) / size.conversations);
        const id = newId('conversation', created);
        const userId = `user_${Math.floor(rand() * 200)}`;
        const botId = `bot_${Math.floor(rand() * 5)}`;
        const n = 2 + Math.floor(rand() * 5);
        const archived = rand() < 0.05;
        let t = created;
        let title: string | null = null;
        const rows: Array<[string, string, string, number]> = [];
        for (let m = 0; m < n; m++) {
          t += 1000 + Math.floor(rand() * 60_000);
          const role = m % 2 === 0 ? 'user' : 'assistant';
          const content = sentence(
            rand,
            role === 'user' ? 20 + Math.floor(rand() * 40) : 60 + Math.floor(rand() * 120),
          );
          if (title === null && role === 'user') title = content.slice(0, 60);
          rows.push([newId('message', t), role, content, t]);
        }
        messages += n;
        const contact = rand() < 0.5 ? `contact_${Math.floor(rand() * 5000)}` : null;
        const deal = rand() < 0.2 ? `deal_${Math.floor(rand() * 1000)}` : null;
        insConv.run(
          workspaceId,
          id,
          userId,
          botId,
          title,
          'auto',
          contact,
          deal,
          null,
          '{"channel":"web","locale":"en"}',
          '{"source":"bench"}',
          archived ? 1 : 0,
          n,
          0,
          t,
          created,
          t,
        );
        for (const [mid, role, content, at] of rows) {
          const meta = role === 'assistant' ? '{"model":"bench-1","tokens":215}' : '{}';
          insMsg.run(workspaceId, id, mid, role, content, meta, at);
        }
        for (const name of ['all', `user:${userId}`, `bot:${botId}`]) bump(name);
        if (archived) for (const name of ['archived', `user_archived:${userId}`, `bot_archived:${botId}`]) bump(name);
        ids.push(id);
      }
      const insCounter = db.prepare('INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)');
      for (const [name, value] of counters) insCounter.run(workspaceId, name, value);
      // the full-text index is filled from the rows once, after the bulk insert
      rebuildSqliteSearch(db);
    })();
    db.exec('ANALYZE');
    db.pragma('wal_checkpoint(TRUNCATE)');
    if (!size.quiet) {
      console.error(
        `prepared ${size.conversations} conversations, ${messages} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    return {
      engine: 'sqlite',
      databaseUrl,
      workspaceId,
      apiKey: key.secret,
      conversationIds: ids,
      conversations: size.conversations,
      messages,
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } finally {
    await store.close();
  }
}

export const sqliteEngine: EngineDef = {
  name: 'sqlite',
  prepare: prepareSqlite,
  targets: (ds) => [
    {
      name: 'parley',
      kind: 'parley',
      script: 'servers/parley.ts',
      options: { databaseUrl: ds.databaseUrl, log: 'silent' },
    },
    {
      name: 'parley-info',
      kind: 'parley',
      script: 'servers/parley.ts',
      options: { databaseUrl: ds.databaseUrl, log: 'info-devnull' },
    },
    { name: 'node-http', kind: 'peer', script: 'servers/peer-sqlite.ts', options: { databaseUrl: ds.databaseUrl } },
  ],
};
