import { createHmac } from 'node:crypto';

/**
 * What both bare peers (node:http + better-sqlite3, node:http / Express + pg) share: the rows they
 * read and how they present them, written once so the two engines' peers do the same work.
 */
export interface KeyRow {
  workspace_id: string;
  id: string;
  scopes: string;
  user_id: string | null;
  revoked_at: number | null;
  expires_at: number | null;
}

export interface ConvRow {
  workspace_id: string;
  id: string;
  user_id: string | null;
  bot_id: string | null;
  title: string | null;
  title_source: string | null;
  contact_id: string | null;
  deal_id: string | null;
  matter_id: string | null;
  context_extra: string;
  metadata: string;
  archived: number;
  message_count: number;
  tool_invocation_count: number;
  last_message_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface MsgRow {
  conversation_id: string;
  id: string;
  role: string;
  content: string;
  metadata: string;
  created_at: number;
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function presentConversation(r: ConvRow) {
  const context = JSON.parse(r.context_extra) as Record<string, unknown>;
  if (r.contact_id !== null) context.contact_id = r.contact_id;
  if (r.deal_id !== null) context.deal_id = r.deal_id;
  if (r.matter_id !== null) context.matter_id = r.matter_id;
  return {
    id: r.id,
    title: r.title,
    title_source: r.title_source,
    user_id: r.user_id,
    bot_id: r.bot_id,
    context,
    metadata: JSON.parse(r.metadata),
    archived: r.archived === 1,
    message_count: r.message_count,
    tool_invocation_count: r.tool_invocation_count,
    last_message_at: r.last_message_at === null ? null : iso(r.last_message_at),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

export function presentMessage(r: MsgRow) {
  return {
    id: r.id,
    conversation_id: r.conversation_id,
    role: r.role,
    content: r.content,
    metadata: JSON.parse(r.metadata),
    created_at: iso(r.created_at),
  };
}

/** The same HMAC'd keyset cursor Parley mints for the default list (its filters and sort inside). */
export function listCursor(secret: string, workspaceId: string, last: ConvRow, perPage: number): string {
  const q = { orderBy: 'updated_at', order: 'desc', archived: 'false' };
  const payload = Buffer.from(JSON.stringify({ v: last.updated_at, i: last.id, q, n: perPage })).toString('base64url');
  const mac = createHmac('sha256', secret).update(`${workspaceId}|conversations|${payload}`).digest().subarray(0, 16);
  return `${payload}.${mac.toString('base64url')}`;
}
