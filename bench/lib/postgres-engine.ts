import { systemClock } from '../../packages/server/src/clock.js';
import { newId } from '../../packages/server/src/ids.js';
import { KeysService } from '../../packages/server/src/services/keys.js';
import { WorkspacesService } from '../../packages/server/src/services/workspaces.js';
import { createPostgresStore } from '../../packages/server/src/store/postgres/index.js';
import { freshPostgresDatabase } from '../../packages/server/test/helpers/postgres.js';
import { rng, sentence } from './sqlite-engine.js';
import type { Dataset, EngineDef } from './types.js';

/** Same as Parley's default pool (PARLEY_PG_POOL_SIZE); the peers use it too. */
export const BENCH_PG_POOL = 10;

/**
 * The same data as the SQLite bench (same generator, same seed) in a fresh PostgreSQL database
 * on the machine's server (test/helpers/postgres.ts). The workspace and key go through the
 * services; the bulk rows go in as unnest() batches in one transaction, then ANALYZE.
 */
export async function preparePostgres(size: { conversations: number; quiet: boolean }): Promise<Dataset> {
  const fresh = await freshPostgresDatabase();
  const started = Date.now();
  let ok = false;
  const store = await createPostgresStore(fresh.url);
  try {
    const deps = { store, clock: systemClock };
    const keys = new KeysService(deps);
    const ws = await new WorkspacesService(deps, keys).createAsOperator('bench');
    const workspaceId = ws.workspace.id;
    const key = await store.transact(workspaceId, (w) =>
      keys.insert(w, { name: 'bench reader', scopes: ['read:ai'], rateLimit: 10_000_000 }),
    );

    const rand = rng(42);
    const counters = new Map<string, number>();
    const bump = (name: string) => counters.set(name, (counters.get(name) ?? 0) + 1);
    const ids: string[] = [];
    let messages = 0;
    const now = Date.now();
    const span = 90 * 24 * 3600 * 1000;
    type Col = unknown[];
    const conv: Col[] = Array.from({ length: 16 }, () => []);
    const msg: Col[] = Array.from({ length: 6 }, () => []);
    const client = await store.pool.connect();
    const flush = async () => {
      await client.query(
        `INSERT INTO conversations (workspace_id, id, user_id, bot_id, title, title_source, contact_id, deal_id,
           matter_id, context_extra, metadata, archived, message_count, tool_invocation_count, last_message_at,
           created_at, updated_at)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::text[], $11::text[], $12::int[], $13::int[], $14::int[], $15::int8[], $16::int8[], $17::int8[])`,
        [workspaceId, ...conv],
      );
      await client.query(
        `INSERT INTO messages (workspace_id, conversation_id, id, role, content, metadata, created_at)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[])`,
        [workspaceId, ...msg],
      );
      for (const c of [...conv, ...msg]) c.length = 0;
    };
    try {
      await client.query('BEGIN');
      // same loop and draw order as prepareSqlite, so both engines hold the same rows
      for (let i = 0; i < size.conversations; i++) {
        const created = now - span + Math.floor((span * i) / size.conversations);
        const id = newId('conversation', created);
        const userId = `user_${Math.floor(rand() * 200)}`;
        const botId = `bot_${Math.floor(rand() * 5)}`;
        const n = 2 + Math.floor(rand() * 5);
        const archived = rand() < 0.05;
        let t = created;
        let title: string | null = null;
        for (let m = 0; m < n; m++) {
          t += 1000 + Math.floor(rand() * 60_000);
          const role = m % 2 === 0 ? 'user' : 'assistant';
          const content = sentence(
            rand,
            role === 'user' ? 20 + Math.floor(rand() * 40) : 60 + Math.floor(rand() * 120),
          );
          if (title === null && role === 'user') title = content.slice(0, 60);
          const row = [
            id,
            newId('message', t),
            role,
            content,
            role === 'assistant' ? '{"model":"bench-1","tokens":215}' : '{}',
            t,
          ];
          row.forEach((v, k) => {
            msg[k]?.push(v);
          });
        }
        messages += n;
        const contact = rand() < 0.5 ? `contact_${Math.floor(rand() * 5000)}` : null;
        const deal = rand() < 0.2 ? `deal_${Math.floor(rand() * 1000)}` : null;
        const row = [
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
        ];
        row.forEach((v, k) => {
          conv[k]?.push(v);
        });
        for (const name of ['all', `user:${userId}`, `bot:${botId}`]) bump(name);
        if (archived) for (const name of ['archived', `user_archived:${userId}`, `bot_archived:${botId}`]) bump(name);
        ids.push(id);
        if ((conv[0] as Col).length >= 2000) await flush();
      }
      if ((conv[0] as Col).length > 0) await flush();
      await client.query(
        'INSERT INTO counters (workspace_id, name, value) SELECT $1, * FROM unnest($2::text[], $3::int8[])',
        [workspaceId, [...counters.keys()], [...counters.values()]],
      );
      await client.query('COMMIT');
      await client.query('VACUUM ANALYZE');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (!size.quiet) {
      console.error(
        `prepared ${size.conversations} conversations, ${messages} messages in PostgreSQL in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    ok = true;
    return {
      engine: 'postgres',
      databaseUrl: fresh.url,
      workspaceId,
      apiKey: key.secret,
      conversationIds: ids,
      conversations: size.conversations,
      messages,
      drop: fresh.drop,
    };
  } finally {
    await store.close();
    if (!ok) await fresh.drop().catch(() => undefined);
  }
}

export const postgresEngine: EngineDef = {
  name: 'postgres',
  prepare: preparePostgres,
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
    {
      name: 'node-http',
      kind: 'peer',
      script: 'servers/peer-pg.ts',
      options: { databaseUrl: ds.databaseUrl, framework: 'node-http', poolSize: BENCH_PG_POOL },
    },
    {
      name: 'express',
      kind: 'peer',
      script: 'servers/peer-pg.ts',
      options: { databaseUrl: ds.databaseUrl, framework: 'express', poolSize: BENCH_PG_POOL },
    },
  ],
  // the PostgreSQL targets: within 0.75x of bare node:http + pg, and at least 1.5x an ordinary Express app
  ratioTargets: {
    get: { 'node-http': 0.75, express: 1.5 },
    list: { 'node-http': 0.75, express: 1.5 },
  },
};
