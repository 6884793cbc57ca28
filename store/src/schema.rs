//! The database schema, as an ordered list of migrations (tracked in `PRAGMA user_version`).

use rusqlite_migration::{Migrations, M};

const V1: &str = r#"
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

-- An INTEGER PRIMARY KEY keeps rowids stable through VACUUM, which the search index relies on.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    uid              TEXT NOT NULL UNIQUE,
    conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content          TEXT NOT NULL,
    status           TEXT NOT NULL,
    status_detail    TEXT,
    model            TEXT,
    receipt          TEXT,
    writer_pid       INTEGER,
    created_ms       INTEGER NOT NULL,
    completed_ms     INTEGER
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_in_flight ON messages(status) WHERE status = 'streaming';

CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
-- Deleted messages leave no tokens behind in the index.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

CREATE TABLE attachments (
    uid          TEXT PRIMARY KEY,
    message_uid  TEXT NOT NULL REFERENCES messages(uid) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments(message_uid);

CREATE TABLE images (
    uid              TEXT PRIMARY KEY,
    conversation_id  TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    prompt           TEXT NOT NULL,
    model            TEXT,
    media_type       TEXT NOT NULL,
    bytes            BLOB NOT NULL,
    receipt          TEXT,
    created_ms       INTEGER NOT NULL
);

CREATE TABLE agent_steps (
    uid              TEXT PRIMARY KEY,
    conversation_id  TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    run_id           TEXT NOT NULL,
    step             INTEGER NOT NULL,
    tool             TEXT NOT NULL,
    input            TEXT NOT NULL,
    output           TEXT NOT NULL,
    files            TEXT NOT NULL DEFAULT '[]',
    duration_ms      INTEGER NOT NULL,
    sent_bytes       BLOB,
    created_ms       INTEGER NOT NULL
);
CREATE INDEX agent_steps_by_run ON agent_steps(run_id, step);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"#;

/// Rows brought in from an archive are marked: their receipts and statuses were never checked
/// on this device, so they are labelled as imported and never sent back as verified turns.
const V2: &str = r#"
ALTER TABLE messages ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
"#;

/// What each verified reply's check used (attestation bundle, root, expectations, the exact
/// request and reply bytes, the receipt), so it can be checked again offline.
const V3: &str = r#"
CREATE TABLE proofs (
    message_uid  TEXT PRIMARY KEY REFERENCES messages(uid) ON DELETE CASCADE,
    material     TEXT NOT NULL
);
"#;

/// "What left this device": one row per network request Sotto made.
const V4: &str = r#"
CREATE TABLE network_ledger (
    id               INTEGER PRIMARY KEY,
    at_ms            INTEGER NOT NULL,
    host             TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status           INTEGER NOT NULL,
    bytes_sent       INTEGER NOT NULL,
    bytes_received   INTEGER NOT NULL,
    conversation_id  TEXT,
    user_content     INTEGER NOT NULL
);
CREATE INDEX network_ledger_by_time ON network_ledger(at_ms);
"#;

/// Whether a request carried an account credential (OpenGradient's token) in the clear.
const V5: &str = r#"
ALTER TABLE network_ledger ADD COLUMN credential INTEGER NOT NULL DEFAULT 0;
"#;

/// Image Studio's gallery. A generation keeps the verified reply exactly as the receipt covers
/// it (the PNGs live inside it, base64) and what its check used; each output keeps its size,
/// hash and a small thumbnail so the gallery opens without decoding any full image.
const V6: &str = r#"
CREATE TABLE image_generations (
    uid          TEXT PRIMARY KEY,
    prompt       TEXT NOT NULL,
    settings     TEXT NOT NULL,
    model        TEXT NOT NULL,
    receipt      TEXT NOT NULL,
    material     TEXT,
    reply        BLOB NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX image_generations_by_time ON image_generations(created_ms);
CREATE TABLE image_outputs (
    generation_uid  TEXT NOT NULL REFERENCES image_generations(uid) ON DELETE CASCADE,
    idx             INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    thumbnail       BLOB NOT NULL,
    PRIMARY KEY (generation_uid, idx)
);
"#;

/// Projects: conversations grouped with shared instructions and files (their text, as the
/// sandboxed reader gave it). Deleting a project deletes its conversations too.
const V7: &str = r#"
CREATE TABLE projects (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    instructions  TEXT NOT NULL DEFAULT '',
    -- Whether requests in the project carry the user's memories.
    memory        INTEGER NOT NULL DEFAULT 1,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE TABLE project_files (
    uid          TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX project_files_by_project ON project_files(project_id);
ALTER TABLE conversations ADD COLUMN project_id TEXT REFERENCES projects(id) ON DELETE CASCADE;
"#;

/// Memory: facts the user chose to keep, found again for each request by the same kind of
/// full-text index as the history (deleted facts leave no tokens behind).
const V8: &str = r#"
CREATE TABLE memories (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    text        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, content = 'memories', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts(memories_fts, rank) VALUES ('secure-delete', 1);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
END;
"#;

/// Web search is switched per conversation and remembered (every later request obeys it).
const V9: &str = r#"
ALTER TABLE conversations ADD COLUMN web_search INTEGER NOT NULL DEFAULT 0;
"#;

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9];

pub fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The newest schema version this build knows.
pub fn latest() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
