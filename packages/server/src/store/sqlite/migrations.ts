import type BetterSqlite3 from 'better-sqlite3';
import { rebuildSqliteSearch, SQLITE_SEARCH_DDL } from './search.js';

/**
 * SQLite migrations, numbered, applied in order inside one transaction each. Never edit a
 * shipped migration: add the next number.
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{
  version: number;
  name: string;
  sql: string;
  /** Data steps in JavaScript, in the same transaction, after `sql`. */
  run?: (raw: BetterSqlite3.Database) => void;
}> = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  prefix TEXT NOT NULL,
  scopes TEXT NOT NULL,
  user_id TEXT,
  instance_admin INTEGER NOT NULL DEFAULT 0,
  rate_limit INTEGER,
  expires_at INTEGER,
  revoked_at INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
-- the one lookup that finds the tenant; api_keys is a small reference table
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);

CREATE TABLE conversations (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  id TEXT NOT NULL,
  user_id TEXT,
  bot_id TEXT,
  title TEXT,
  title_source TEXT,
  contact_id TEXT,
  deal_id TEXT,
  matter_id TEXT,
  context_extra TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}',
  archived INTEGER NOT NULL DEFAULT 0,
  message_count INTEGER NOT NULL DEFAULT 0,
  tool_invocation_count INTEGER NOT NULL DEFAULT 0,
  last_message_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX conversations_updated ON conversations (workspace_id, updated_at, id);
CREATE INDEX conversations_created ON conversations (workspace_id, created_at, id);
CREATE INDEX conversations_user_updated ON conversations (workspace_id, user_id, updated_at, id);
CREATE INDEX conversations_bot ON conversations (workspace_id, bot_id, updated_at, id);
CREATE INDEX conversations_contact ON conversations (workspace_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX conversations_deal ON conversations (workspace_id, deal_id) WHERE deal_id IS NOT NULL;
CREATE INDEX conversations_matter ON conversations (workspace_id, matter_id) WHERE matter_id IS NOT NULL;

CREATE TABLE messages (
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id)
);
CREATE INDEX messages_conversation ON messages (workspace_id, conversation_id, id);

CREATE TABLE tool_invocations (
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  message_id TEXT,
  tool_name TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id),
  FOREIGN KEY (workspace_id, message_id) REFERENCES messages (workspace_id, id)
);
CREATE INDEX tool_invocations_conversation ON tool_invocations (workspace_id, conversation_id, id);
CREATE INDEX tool_invocations_message ON tool_invocations (workspace_id, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE idempotency_records (
  workspace_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  status_code INTEGER,
  response_body TEXT,
  created_at INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, idem_key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);

CREATE TABLE audit_events (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  id TEXT NOT NULL,
  actor_key_id TEXT,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  counts TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE counters (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, name)
);

CREATE TABLE instance_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- full-text index over message content and titles; external content, so text is stored once
CREATE VIRTUAL TABLE message_fts USING fts5(
  content, content='messages', content_rowid='rowid',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE title_fts USING fts5(
  title, content='conversations', content_rowid='rowid',
  tokenize = 'unicode61 remove_diacritics 2'
);
`,
  },
  {
    version: 2,
    name: 'conversation event log for live streams',
    // Each write appends its event with the next per-conversation seq in the write's own
    // transaction; streams resume from it. Rows go with their conversation on delete.
    sql: `
ALTER TABLE conversations ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE conversation_events (
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, conversation_id, seq)
);
`,
  },
  {
    version: 3,
    name: 'workspace-scoped full-text index with CJK and emoji tokens',
    // Replaces the external-content FTS5 tables of migration 1 with contentless ones whose tokens
    // carry the workspace (see search.ts), and re-indexes every existing title and message.
    sql: `
DROP TABLE message_fts;
DROP TABLE title_fts;
${SQLITE_SEARCH_DDL}`,
    run: (raw) => {
      rebuildSqliteSearch(raw);
    },
  },
  {
    version: 4,
    name: 'full-text secure-delete',
    // FTS5 secure-delete (SQLite >= 3.44; persistent): a tokenized delete removes the row's
    // entries from the segments at once. These tables are contentless with contentless_delete,
    // whose deletes go by rowid and leave a tombstone instead (measured: the option does not
    // change that); their postings go when the segment is merged (migration 12, compaction.ts).
    sql: `
INSERT INTO message_idx (message_idx, rank) VALUES ('secure-delete', 1);
INSERT INTO title_idx (title_idx, rank) VALUES ('secure-delete', 1);
`,
  },
  {
    version: 5,
    name: 'api key last use, audit actor type and filter indexes',
    // last_used_at is written at most once a minute per key (KeysService.authenticate). Audit rows
    // written before this migration without an actor cannot say who it was: 'unknown'; the CLI's
    // revocations were recorded under the placeholder actor 'cli': they were the operator's.
    sql: `
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE audit_events ADD COLUMN actor_type TEXT NOT NULL DEFAULT 'api_key';
UPDATE audit_events SET actor_type = 'operator', actor_key_id = NULL WHERE actor_key_id = 'cli';
UPDATE audit_events SET actor_type = 'unknown' WHERE actor_key_id IS NULL AND actor_type = 'api_key';

-- the audit log's filters: by action, by actor key, by target; keyset by id within each
CREATE INDEX audit_events_action ON audit_events (workspace_id, action, id);
CREATE INDEX audit_events_actor ON audit_events (workspace_id, actor_key_id, id);
CREATE INDEX audit_events_target ON audit_events (workspace_id, target_id, id);
`,
  },
  {
    version: 6,
    name: 'stored idempotent answers know their conversation',
    // A delete erases the stored answers of writes to the conversation (they carry its content);
    // the column finds them by index instead of by scanning every stored body.
    sql: `
ALTER TABLE idempotency_records ADD COLUMN conversation_id TEXT;
CREATE INDEX idempotency_records_conversation ON idempotency_records (workspace_id, conversation_id)
  WHERE conversation_id IS NOT NULL;
`,
  },
  {
    version: 7,
    name: 'trash, legal holds',
    // A conversation leaves view at once when deleted_state is set: 'trash' (restorable until
    // purge_at) or 'erasing' (a permanent delete whose rows are being erased in short batches;
    // the purge sweep finishes what a crash left). Counters drop it when it leaves view.
    sql: `
ALTER TABLE conversations ADD COLUMN deleted_state TEXT;
ALTER TABLE conversations ADD COLUMN trashed_at INTEGER;
ALTER TABLE conversations ADD COLUMN purge_at INTEGER;
CREATE INDEX conversations_trash ON conversations (workspace_id, deleted_state, id) WHERE deleted_state IS NOT NULL;
CREATE INDEX conversations_due ON conversations (purge_at) WHERE deleted_state IS NOT NULL;
ALTER TABLE workspaces ADD COLUMN trash_days INTEGER NOT NULL DEFAULT 0;

CREATE TABLE legal_holds (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_value TEXT NOT NULL,
  reason TEXT,
  created_at INTEGER NOT NULL,
  created_by TEXT,
  released_at INTEGER,
  released_by TEXT,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX legal_holds_active ON legal_holds (workspace_id, target_type, target_value) WHERE released_at IS NULL;
`,
  },
  {
    version: 9,
    name: 'webhook endpoints and delivery outbox',
    // Deliveries are written in the transaction of the change they announce and sent after
    // commit; due rows are found by (state, next_attempt_at), an endpoint's log by its id.
    sql: `
CREATE TABLE webhook_endpoints (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  id TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  description TEXT,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE webhook_outbox (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  last_attempt_at INTEGER,
  delivered_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (workspace_id, endpoint_id, id);
`,
  },
  {
    version: 10,
    name: 'jobs, retention policies, leases, audit details',
    // Jobs claimed with a lease and advanced batch by batch (a crash resumes at the stored cursor);
    // retention policies; the lease row that lets one instance at a time schedule retention; a
    // details column for receipts in the audit log (legal holds are migration 7's).
    sql: `
CREATE TABLE jobs (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  progress TEXT NOT NULL,
  cursor TEXT,
  result TEXT,
  error TEXT,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, id)
);
-- the runner's claim: unfinished jobs, oldest first
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_kind ON jobs (workspace_id, kind, state);

CREATE TABLE retention_policies (
  workspace_id TEXT PRIMARY KEY,
  policy TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT
);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until INTEGER NOT NULL
);

ALTER TABLE audit_events ADD COLUMN details TEXT;
`,
  },
  {
    version: 11,
    name: 'tool invocations restrict the delete of their message',
    // PostgreSQL migration 11 makes that foreign key ON DELETE RESTRICT (a cheaper trigger there);
    // SQLite checks foreign keys in-process (no per-row trigger query to save) and keeps NO ACTION,
    // which means the same here; the empty entry keeps both engines' migration numbers in step.
    sql: '',
  },
  {
    version: 12,
    name: 'full-text deletes leave merging to the compaction',
    // With contentless_delete a removal adds a tombstone to the segment holding the row, and FTS5
    // rewrote a whole level inside the deleting transaction once `deletemerge` (10 %) of it was
    // tombstoned: most of a bulk delete's cost. 0 turns that off; the background full-text
    // compaction (compaction.ts) merges the tombstoned segments away after erasures, in short
    // slices. The option is persistent, like secure-delete (migration 4).
    sql: `
INSERT INTO message_idx (message_idx, rank) VALUES ('deletemerge', 0);
INSERT INTO title_idx (title_idx, rank) VALUES ('deletemerge', 0);
`,
  },
  {
    version: 13,
    name: 'erase without a foreign key check per message',
    // PostgreSQL migration 13 drops the key tool_invocations.message_id -> messages (a trigger query
    // per deleted message) and makes the keys to conversations RESTRICT. SQLite keeps its keys as
    // they are (checked in-process; changing one means rebuilding the table); empty, for the numbers.
    sql: '',
  },
  {
    version: 14,
    name: 'job items',
    // What a job has done item by item (an erase job: the ids it erased), appended by each batch in
    // its transaction, read once when the job finishes. The ids lived in the job's cursor, which every
    // batch rewrote whole: quadratic in the size of the job.
    sql: `
CREATE TABLE job_items (
  workspace_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY (workspace_id, job_id, seq)
) WITHOUT ROWID;
`,
  },
];
