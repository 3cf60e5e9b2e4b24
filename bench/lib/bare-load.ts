/**
 * The bulk-load peer: the same generated rows written the plainest fast way into SQLite, for
 * `parley seed-data` to be measured against. Secondary indexes dropped first; one transaction for
 * everything; one single-row prepared INSERT per row; each row's full-text body (the same tokens,
 * tagged the same way) staged in a plain table; after the load the indexes are created and the
 * full-text tables filled from the staging table in one statement each, FTS5 at its defaults.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SeedConversation, SeedOptions } from '../../packages/server/src/seed/generator.js';
import { CONVERSATION_COLUMNS, MESSAGE_COLUMNS, TOOL_COLUMNS } from '../../packages/server/src/seed/rows.js';
import { generateBatches } from '../../packages/server/src/seed/run.js';
import { workspaceTag } from '../../packages/server/src/store/sqlite/search.js';

const insert = (db: BetterSqlite3.Database, table: string, columns: ReadonlyArray<{ name: string }>) =>
  db.prepare(
    `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );

const tagged = (tag: string, tokens: string) =>
  tokens.length === 0 ? '' : `${tag}_${tokens.replaceAll(' ', ` ${tag}_`)}`;

/** Loads the data set `opts` into a migrated, empty SQLite database; returns messages written. */
export async function bareLoad(db: BetterSqlite3.Database, opts: SeedOptions, workspaceIds: string[]): Promise<number> {
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const indexes = db
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
       AND tbl_name IN ('conversations', 'messages', 'tool_invocations')`,
    )
    .all() as Array<{ name: string; sql: string }>;
  for (const ix of indexes) db.exec(`DROP INDEX "${ix.name}"`);
  db.exec('CREATE TEMP TABLE stage_msg (rowid INTEGER PRIMARY KEY, conv INTEGER, body TEXT)');
  db.exec('CREATE TEMP TABLE stage_title (rowid INTEGER PRIMARY KEY, body TEXT)');
  const ins = {
    ws: db.prepare('INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)'),
    conv: insert(db, 'conversations', CONVERSATION_COLUMNS),
    msg: insert(db, 'messages', MESSAGE_COLUMNS),
    tool: insert(db, 'tool_invocations', TOOL_COLUMNS),
    stageMsg: db.prepare('INSERT INTO stage_msg (rowid, conv, body) VALUES (?, ?, ?)'),
    stageTitle: db.prepare('INSERT INTO stage_title (rowid, body) VALUES (?, ?)'),
    counter: db.prepare(`INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, 1)
      ON CONFLICT (workspace_id, name) DO UPDATE SET value = value + 1`),
  };
  const tags = new Map<string, string>();
  let messages = 0;
  db.exec('BEGIN');
  try {
    workspaceIds.forEach((id, i) => {
      const r = ins.ws.run(id, `seed workspace ${i + 1}`, opts.now - 200 * 86_400_000);
      tags.set(id, workspaceTag(Number(r.lastInsertRowid)));
    });
    await generateBatches(opts, {}, async (batch: SeedConversation[]) => {
      for (const c of batch) {
        const tag = tags.get(c.workspaceId) as string;
        const conv = ins.conv.run(CONVERSATION_COLUMNS.map((col) => col.of(c))).lastInsertRowid;
        ins.stageTitle.run(conv, tagged(tag, c.titleTokens ?? ''));
        for (const m of c.messages) {
          const row = ins.msg.run(MESSAGE_COLUMNS.map((col) => col.of({ c, m }))).lastInsertRowid;
          ins.stageMsg.run(row, conv, tagged(tag, m.tokens ?? ''));
        }
        for (const t of c.tools) ins.tool.run(TOOL_COLUMNS.map((col) => col.of({ c, t })));
        const names = c.archived
          ? [
              'all',
              `user:${c.userId}`,
              `bot:${c.botId}`,
              'archived',
              `user_archived:${c.userId}`,
              `bot_archived:${c.botId}`,
            ]
          : ['all', `user:${c.userId}`, `bot:${c.botId}`];
        for (const n of names) ins.counter.run(c.workspaceId, n);
        messages += c.messages.length;
      }
    });
    for (const ix of indexes) db.exec(ix.sql);
    db.exec('INSERT INTO message_idx (rowid, conv, body) SELECT rowid, conv, body FROM stage_msg');
    db.exec('INSERT INTO title_idx (rowid, body) SELECT rowid, body FROM stage_title');
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  db.exec('DROP TABLE stage_msg; DROP TABLE stage_title');
  db.exec('ANALYZE');
  return messages;
}
