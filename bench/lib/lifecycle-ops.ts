/**
 * What the lifecycle scenarios' peer does by bare SQL (bench/servers/peer-lifecycle.ts), on the
 * scale peers' connection wrapper (scale-ops.ts openDb, SQLite with secure_delete on like
 * Parley's, so both sides erase the same way):
 * - bulkDeleteBare: the rows of up to 1,000 conversations per transaction, set-based (one DELETE
 *   per table with an IN list), derived rows first, counters, stored answers made content-free and
 *   one audit row per chunk: what Parley's bulk delete leaves behind, without its per-id checks,
 *   hide step, event, webhooks and batching;
 * - exportBare: a workspace's conversations as the export's JSONL lines (same fields, same order:
 *   conversations by created_at, id; each followed by its messages then its tool invocations),
 *   read in keyset pages of 500 conversations with one query per table per page.
 */
import { randomUUID } from 'node:crypto';
import { bump, counterNames, type Db } from './scale-ops.js';

const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');

/** Deletes `ids` of workspace `ws`, `chunk` per transaction; returns the messages deleted. */
export async function bulkDeleteBare(db: Db, ws: string, ids: readonly string[], chunk = 1000): Promise<number> {
  let messages = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    const inList = marks(part.length);
    messages += await db.tx(async (t) => {
      const args = [ws, ...part];
      const groups = await t.all(
        `SELECT user_id, bot_id, archived, count(*) AS n FROM conversations
         WHERE workspace_id = ? AND id IN (${inList}) GROUP BY user_id, bot_id, archived`,
        args,
      );
      if (t.engine === 'sqlite') {
        await t.run(
          `DELETE FROM message_idx WHERE rowid IN (SELECT rowid FROM messages WHERE workspace_id = ? AND conversation_id IN (${inList}))`,
          args,
        );
        await t.run(
          `DELETE FROM title_idx WHERE rowid IN (SELECT rowid FROM conversations WHERE workspace_id = ? AND id IN (${inList}) AND title IS NOT NULL)`,
          args,
        );
      }
      const tools = await t.run(
        `DELETE FROM tool_invocations WHERE workspace_id = ? AND conversation_id IN (${inList})`,
        args,
      );
      const msgs = await t.run(`DELETE FROM messages WHERE workspace_id = ? AND conversation_id IN (${inList})`, args);
      await t.run(`DELETE FROM conversation_events WHERE workspace_id = ? AND conversation_id IN (${inList})`, args);
      const convs = await t.run(`DELETE FROM conversations WHERE workspace_id = ? AND id IN (${inList})`, args);
      await t.run(
        `UPDATE idempotency_records SET response_body = NULL, status_code = 410, conversation_id = NULL
         WHERE workspace_id = ? AND conversation_id IN (${inList})`,
        args,
      );
      for (const g of groups) {
        const n = Number(g.n);
        await bump(t, ws, counterNames(g.user_id, g.bot_id, false), -n);
        if (Number(g.archived) === 1) await bump(t, ws, counterNames(g.user_id, g.bot_id, true), -n);
      }
      await t.run(
        `INSERT INTO audit_events (workspace_id, id, actor_key_id, action, target_type, target_id, counts, created_at)
         VALUES (?, ?, NULL, 'conversations.bulk_deleted', 'conversation', '*', ?, ?)`,
        [
          ws,
          `aud_${randomUUID()}`,
          JSON.stringify({ conversations: convs, messages: msgs, tool_invocations: tools }),
          Date.now(),
        ],
      );
      return msgs;
    });
  }
  return messages;
}

const iso = (v: unknown) => new Date(Number(v)).toISOString();
const isoOrNull = (v: unknown) => (v === null ? null : iso(v));
const numOrNull = (v: unknown) => (v === null ? null : Number(v));

function conversationLine(r: Record<string, unknown>): string {
  const context = JSON.parse(r.context_extra as string) as Record<string, unknown>;
  if (r.contact_id !== null) context.contact_id = r.contact_id;
  if (r.deal_id !== null) context.deal_id = r.deal_id;
  if (r.matter_id !== null) context.matter_id = r.matter_id;
  return JSON.stringify({
    type: 'conversation',
    id: r.id,
    title: r.title,
    title_source: r.title_source,
    user_id: r.user_id,
    bot_id: r.bot_id,
    context,
    metadata: JSON.parse(r.metadata as string),
    archived: Number(r.archived) === 1,
    message_count: Number(r.message_count),
    tool_invocation_count: Number(r.tool_invocation_count),
    last_message_at: isoOrNull(r.last_message_at),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  });
}

function messageLine(r: Record<string, unknown>): string {
  return JSON.stringify({
    type: 'message',
    id: r.id,
    conversation_id: r.conversation_id,
    role: r.role,
    content: r.content,
    metadata: JSON.parse(r.metadata as string),
    created_at: iso(r.created_at),
  });
}

function toolLine(r: Record<string, unknown>): string {
  const started = numOrNull(r.started_at);
  const finished = numOrNull(r.finished_at);
  return JSON.stringify({
    type: 'tool_invocation',
    id: r.id,
    conversation_id: r.conversation_id,
    message_id: r.message_id,
    tool_name: r.tool_name,
    input: JSON.parse(r.input as string),
    output: JSON.parse(r.output as string),
    status: r.status,
    started_at: isoOrNull(started),
    finished_at: isoOrNull(finished),
    duration_ms: started !== null && finished !== null ? finished - started : null,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  });
}

function byConversation(rows: Record<string, unknown>[]): Map<string, Record<string, unknown>[]> {
  const m = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const k = r.conversation_id as string;
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

/**
 * A workspace's export as JSONL text, one piece per page of conversations; `write` resolves when
 * the piece may be followed (backpressure), so memory holds one page.
 */
export async function exportBare(db: Db, ws: string, write: (text: string) => Promise<void>): Promise<number> {
  const page = 500;
  let after: { v: number; id: string } | null = null;
  let counts = { conversations: 0, messages: 0, tool_invocations: 0 };
  await write(
    `${JSON.stringify({ type: 'export', format: 'parley.export', version: 1, exported_at: new Date().toISOString() })}\n`,
  );
  for (;;) {
    const convs: Record<string, unknown>[] = await db.all(
      `SELECT id, title, title_source, user_id, bot_id, contact_id, deal_id, matter_id, context_extra, metadata,
              archived, message_count, tool_invocation_count, last_message_at, created_at, updated_at
       FROM conversations WHERE workspace_id = ? AND deleted_state IS NULL
       ${after ? 'AND (created_at > ? OR (created_at = ? AND id > ?))' : ''}
       ORDER BY created_at, id LIMIT ${page}`,
      after ? [ws, after.v, after.v, after.id] : [ws],
    );
    if (convs.length === 0) break;
    const ids = convs.map((c) => c.id as string);
    const inList = marks(ids.length);
    const msgs = byConversation(
      await db.all(
        `SELECT id, conversation_id, role, content, metadata, created_at FROM messages
         WHERE workspace_id = ? AND conversation_id IN (${inList}) ORDER BY conversation_id, id`,
        [ws, ...ids],
      ),
    );
    const tools = byConversation(
      await db.all(
        `SELECT id, conversation_id, message_id, tool_name, input, output, status, started_at, finished_at, created_at, updated_at
         FROM tool_invocations WHERE workspace_id = ? AND conversation_id IN (${inList}) ORDER BY conversation_id, id`,
        [ws, ...ids],
      ),
    );
    let text = '';
    for (const c of convs) {
      counts.conversations++;
      text += `${conversationLine(c)}\n`;
      for (const m of msgs.get(c.id as string) ?? []) {
        counts.messages++;
        text += `${messageLine(m)}\n`;
      }
      for (const t of tools.get(c.id as string) ?? []) {
        counts.tool_invocations++;
        text += `${toolLine(t)}\n`;
      }
    }
    await write(text);
    const last = convs[convs.length - 1] as Record<string, unknown>;
    after = { v: Number(last.created_at), id: last.id as string };
    if (convs.length < page) break;
  }
  counts = { ...counts };
  await write(`${JSON.stringify({ type: 'end', ...counts })}\n`);
  return counts.messages;
}
