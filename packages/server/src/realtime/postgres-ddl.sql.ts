/**
 * PostgreSQL equivalent of SQLite migration 2 (conversation event log). Not applied by anything
 * yet: add it as the next numbered PostgreSQL migration once the PostgreSQL store is merged.
 * workspace_id leads the key, so the table distributes by workspace (Citus) like the others,
 * co-located with conversations.
 */
export const POSTGRES_CONVERSATION_EVENTS_DDL = `
ALTER TABLE conversations ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE conversation_events (
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, conversation_id, seq)
);
`;
