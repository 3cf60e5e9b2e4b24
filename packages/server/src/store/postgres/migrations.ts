import type pg from 'pg';
import { backfillPgSearch } from './search.js';

/**
 * PostgreSQL migrations, numbered, each applied in its own transaction under an advisory lock
 * (several instances may start at once). Never edit a shipped migration: add the next number.
 *
 * Same tables and columns as the SQLite schema. Timestamps are BIGINT epoch ms (parsed back to JS
 * numbers by the pool), flags INTEGER 0/1, JSON stays TEXT so every byte round-trips. Identifier
 * columns use the "C" collation: byte order for keyset pagination, whatever the database locale.
 */
export const PG_MIGRATIONS: ReadonlyArray<{
  version: number;
  name: string;
  sql: string;
  /** Data steps in JavaScript, in the same transaction, after `sql`. */
  run?: (client: pg.PoolClient) => Promise<void>;
  /** SQL run after `run` (indexes built once the data is in place). */
  sqlAfter?: string;
}> = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE workspaces (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
  workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
  id TEXT COLLATE "C" NOT NULL,
  name TEXT NOT NULL,
  key_hash TEXT COLLATE "C" NOT NULL,
  prefix TEXT NOT NULL,
  scopes TEXT NOT NULL,
  user_id TEXT,
  instance_admin INTEGER NOT NULL DEFAULT 0,
  rate_limit INTEGER,
  expires_at BIGINT,
  revoked_at BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
-- the one lookup that finds the tenant; api_keys is a small reference table (see docs/scale-out.md)
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);

CREATE TABLE conversations (
  workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
  id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C",
  bot_id TEXT COLLATE "C",
  title TEXT,
  title_source TEXT,
  contact_id TEXT COLLATE "C",
  deal_id TEXT COLLATE "C",
  matter_id TEXT COLLATE "C",
  context_extra TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}',
  archived INTEGER NOT NULL DEFAULT 0,
  message_count INTEGER NOT NULL DEFAULT 0,
  tool_invocation_count INTEGER NOT NULL DEFAULT 0,
  last_message_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
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
  workspace_id TEXT COLLATE "C" NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id)
);
CREATE INDEX messages_conversation ON messages (workspace_id, conversation_id, id);

CREATE TABLE tool_invocations (
  workspace_id TEXT COLLATE "C" NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  message_id TEXT COLLATE "C",
  tool_name TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id),
  FOREIGN KEY (workspace_id, message_id) REFERENCES messages (workspace_id, id)
);
CREATE INDEX tool_invocations_conversation ON tool_invocations (workspace_id, conversation_id, id);
CREATE INDEX tool_invocations_message ON tool_invocations (workspace_id, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE idempotency_records (
  workspace_id TEXT COLLATE "C" NOT NULL,
  idem_key TEXT COLLATE "C" NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  status_code INTEGER,
  response_body TEXT,
  created_at BIGINT NOT NULL,
  locked_until BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, idem_key)
);
-- the purge scans by age across tenants; workspace_id follows so the delete finds its row
CREATE INDEX idempotency_records_created ON idempotency_records (created_at, workspace_id);

CREATE TABLE audit_events (
  workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
  id TEXT COLLATE "C" NOT NULL,
  actor_key_id TEXT,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  counts TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE counters (
  workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
  name TEXT COLLATE "C" NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);

CREATE TABLE instance_meta (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'full-text search',
    // unaccent and btree_gin are contrib extensions; when the role may not create them (a managed
    // service without them), search still works, only accent-sensitive / without the workspace
    // column in the GIN index. docs/scale-out.md says so.
    sql: `
DO $do$ BEGIN
  CREATE EXTENSION IF NOT EXISTS unaccent;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'unaccent unavailable (%); search stays accent-sensitive', SQLERRM;
END $do$;
DO $do$ BEGIN
  CREATE EXTENSION IF NOT EXISTS btree_gin;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'btree_gin unavailable (%); GIN indexes without workspace_id', SQLERRM;
END $do$;

-- What the index and the query both see: NFKC, accents removed, lower case, ASCII punctuation as
-- spaces (so "3.14" or "a@b.io" split into words the way the SQLite tokenizer splits them).
DO $do$
DECLARE s text;
BEGIN
  SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'unaccent';
  IF s IS NOT NULL THEN
    EXECUTE format($f$CREATE FUNCTION parley_search_text(t text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $b$ SELECT lower(regexp_replace(%I.unaccent(%L::regdictionary, normalize(t, NFKC)), '[!-/:-@[-\`{-~]+', ' ', 'g')) $b$ $f$,
      s, s || '.unaccent');
  ELSE
    CREATE FUNCTION parley_search_text(t text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $b$ SELECT lower(regexp_replace(normalize(t, NFKC), '[!-/:-@[-\`{-~]+', ' ', 'g')) $b$;
  END IF;
END $do$;

CREATE FUNCTION parley_tsv(t text) RETURNS tsvector
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $b$ SELECT to_tsvector('simple'::regconfig, parley_search_text(t)) $b$;

-- One literal search term as a tsquery: the words as a phrase (<->), the last a prefix (:*).
-- The words go through the same parser as the documents; no user text is read as tsquery syntax
-- (the only text cast to tsquery is PostgreSQL's own rendering of a parsed query).
CREATE FUNCTION parley_term_query(words text, is_prefix boolean) RETURNS tsquery
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $b$ SELECT CASE WHEN NOT is_prefix OR numnode(q) = 0 THEN q ELSE (q::text || ':*')::tsquery END
         FROM phraseto_tsquery('simple'::regconfig, parley_search_text(words)) AS q $b$;

DO $do$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
    CREATE INDEX messages_search ON messages USING GIN (workspace_id, parley_tsv(content));
    CREATE INDEX conversations_title_search ON conversations USING GIN (workspace_id, parley_tsv(title))
      WHERE title IS NOT NULL;
  ELSE
    CREATE INDEX messages_search ON messages USING GIN (parley_tsv(content));
    CREATE INDEX conversations_title_search ON conversations USING GIN (parley_tsv(title)) WHERE title IS NOT NULL;
  END IF;
END $do$;
`,
  },
  {
    version: 3,
    name: 'conversation event log for live streams',
    // Same as SQLite migration 2: each write appends its event with the next per-conversation
    // seq in its own transaction; workspace_id leads the key (co-located with conversations).
    sql: `
ALTER TABLE conversations ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE conversation_events (
  workspace_id TEXT COLLATE "C" NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, conversation_id, seq)
);
`,
  },
  {
    version: 4,
    name: 'stored tsvectors from the shared analyzer, GIN by workspace',
    // The expression indexes of migration 2 tokenized with PostgreSQL's parser, which depends on
    // the locale and drops emoji; the index now stores the shared analyzer's tokens (search.ts),
    // written with each row. Existing rows are re-indexed here, then the indexes are built.
    sql: `
DROP INDEX IF EXISTS messages_search;
DROP INDEX IF EXISTS conversations_title_search;
ALTER TABLE messages ADD COLUMN search_tsv tsvector;
ALTER TABLE conversations ADD COLUMN search_tsv tsvector;
`,
    run: backfillPgSearch,
    sqlAfter: `
DO $do$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
    CREATE INDEX messages_search_tsv ON messages USING GIN (workspace_id, search_tsv);
    CREATE INDEX conversations_search_tsv ON conversations USING GIN (workspace_id, search_tsv)
      WHERE search_tsv IS NOT NULL;
  ELSE
    CREATE INDEX messages_search_tsv ON messages USING GIN (search_tsv);
    CREATE INDEX conversations_search_tsv ON conversations USING GIN (search_tsv) WHERE search_tsv IS NOT NULL;
  END IF;
END $do$;
`,
  },
  {
    version: 5,
    name: 'api key last use, audit actor type and filter indexes',
    // Same as SQLite migration 4.
    sql: `
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
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
    // Same as SQLite migration 6.
    sql: `
ALTER TABLE idempotency_records ADD COLUMN conversation_id TEXT;
CREATE INDEX idempotency_records_conversation ON idempotency_records (workspace_id, conversation_id)
  WHERE conversation_id IS NOT NULL;
`,
  },
  {
    version: 7,
    name: 'trash, legal holds',
    // Same as SQLite migration 7. A conversation leaves view at once when deleted_state is set:
    // 'trash' (restorable until purge_at) or 'erasing' (a permanent delete whose rows are being erased in short batches;
    // the purge sweep finishes what a crash left). Counters drop it when it leaves view.
    sql: `
ALTER TABLE conversations ADD COLUMN deleted_state TEXT;
ALTER TABLE conversations ADD COLUMN trashed_at BIGINT;
ALTER TABLE conversations ADD COLUMN purge_at BIGINT;
CREATE INDEX conversations_trash ON conversations (workspace_id, deleted_state, id) WHERE deleted_state IS NOT NULL;
CREATE INDEX conversations_due ON conversations (purge_at) WHERE deleted_state IS NOT NULL;
ALTER TABLE workspaces ADD COLUMN trash_days INTEGER NOT NULL DEFAULT 0;

CREATE TABLE legal_holds (
  workspace_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  target_type TEXT NOT NULL,
  target_value TEXT NOT NULL,
  reason TEXT,
  created_at BIGINT NOT NULL,
  created_by TEXT,
  released_at BIGINT,
  released_by TEXT,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX legal_holds_active ON legal_holds (workspace_id, target_type, target_value) WHERE released_at IS NULL;
`,
  },
  {
    version: 9,
    name: 'webhook endpoints and delivery outbox',
    // Same as SQLite migration 9. Deliveries are written in the transaction of the change they announce and sent after
    // commit; due rows are found by (state, next_attempt_at), an endpoint's log by its id.
    sql: `
CREATE TABLE webhook_endpoints (
  workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
  id TEXT COLLATE "C" NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  description TEXT,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE webhook_outbox (
  workspace_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  endpoint_id TEXT COLLATE "C" NOT NULL,
  event_type TEXT NOT NULL,
  event_id TEXT COLLATE "C" NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  last_attempt_at BIGINT,
  delivered_at BIGINT,
  lease_owner TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (workspace_id, endpoint_id, id);
`,
  },
  {
    version: 10,
    name: 'jobs, retention policies, leases, audit details',
    // Same as SQLite migration 10.
    sql: `
CREATE TABLE jobs (
  workspace_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  progress TEXT NOT NULL,
  cursor TEXT,
  result TEXT,
  error TEXT,
  created_by TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  lease_owner TEXT,
  lease_until BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, id)
);
-- the runner's claim: unfinished jobs, oldest first
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_kind ON jobs (workspace_id, kind, state);

CREATE TABLE retention_policies (
  workspace_id TEXT COLLATE "C" PRIMARY KEY,
  policy TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT
);

CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  until BIGINT NOT NULL
);

ALTER TABLE audit_events ADD COLUMN details TEXT;
`,
  },
  {
    version: 11,
    name: 'tool invocations restrict the delete of their message',
    // Same rule, cheaper check. Deleting a conversation's messages runs the foreign key's trigger
    // once per message; for NO ACTION PostgreSQL first looks for another row with the deleted key
    // (a second query per row), which RESTRICT skips: half the trigger time for a 1,000-message
    // erase (EXPLAIN ANALYZE, bench/RESULTS.md). The two differ only for deferred checks and keys
    // re-inserted in the same statement; this constraint is not deferrable and ids are never reused.
    // SQLite migration 11 is empty: its foreign keys are checked in-process. NOT VALID and no
    // VALIDATE: every existing row was checked by the constraint this replaces, dropped in this same
    // transaction (so no row came in between), and validating would hold the table locked while
    // it reads every tool invocation (longer than the statement timeout at 1 M messages).
    sql: `
ALTER TABLE tool_invocations DROP CONSTRAINT tool_invocations_workspace_id_message_id_fkey;
ALTER TABLE tool_invocations ADD CONSTRAINT tool_invocations_workspace_id_message_id_fkey
  FOREIGN KEY (workspace_id, message_id) REFERENCES messages (workspace_id, id) ON DELETE RESTRICT NOT VALID;
`,
  },
  {
    version: 12,
    name: 'full-text deletes leave merging to the compaction',
    // SQLite's FTS5 merge setting (its migration 12); PostgreSQL's GIN index has no such thing. Empty,
    // for the numbers.
    sql: '',
  },
  {
    version: 13,
    name: 'erase without a foreign key check per message',
    // An erase deleted ~10 messages per conversation, and the foreign key tool_invocations.message_id
    // -> messages ran its trigger query once per deleted message: 35-55 % of a set-based erase's time
    // (EXPLAIN ANALYZE, bench/RESULTS.md 2026-12-01), and the largest part of a single 1,000-message
    // delete. That key goes; what it guarded stays guarded by the writes themselves, each under the
    // conversation's row lock: a tool invocation names a message only after checkMessage found it in
    // the same conversation (create, update, import), a message's delete detaches its tool
    // invocations first, and an erase deletes both in one statement. The keys to conversations
    // stay (one check per conversation), as ON DELETE RESTRICT: the same rule for a constraint that
    // is not deferrable and ids that are never reused, one trigger query instead of two (migration
    // 11's reasoning; NOT VALID for the same reason). SQLite keeps its keys: it checks them
    // in-process (migration 13 is empty there).
    sql: `
ALTER TABLE tool_invocations DROP CONSTRAINT IF EXISTS tool_invocations_workspace_id_message_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_workspace_id_conversation_id_fkey;
ALTER TABLE messages ADD CONSTRAINT messages_workspace_id_conversation_id_fkey
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE tool_invocations DROP CONSTRAINT tool_invocations_workspace_id_conversation_id_fkey;
ALTER TABLE tool_invocations ADD CONSTRAINT tool_invocations_workspace_id_conversation_id_fkey
  FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id) ON DELETE RESTRICT NOT VALID;
`,
  },
  {
    version: 14,
    name: 'job items',
    // What a job has done item by item (an erase job: the ids it erased), appended by each batch in
    // its transaction, read once when the job finishes. The ids lived in the job's cursor, which every
    // batch rewrote whole: quadratic in the size of the job.
    sql: `
CREATE TABLE job_items (
  workspace_id TEXT COLLATE "C" NOT NULL,
  job_id TEXT COLLATE "C" NOT NULL,
  seq INTEGER NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY (workspace_id, job_id, seq)
);
`,
  },
];
