"""Versioned schema of the SQLite store.

``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``. Migrations are append-only: never
edit a released one, add the next. Every table carries ``user_id`` and every index leads with it,
because every query is scoped to one user.
"""

from __future__ import annotations

_V1 = [
    """CREATE TABLE users (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        uri TEXT NOT NULL,
        format TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (user_id, uri)
    )""",
    """CREATE TABLE messages (
        user_id TEXT NOT NULL REFERENCES users(id),
        id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message_id_synthetic INTEGER NOT NULL DEFAULT 0,
        thread_id TEXT NOT NULL,
        source_id INTEGER REFERENCES sources(id),
        locator TEXT,
        folder TEXT,
        subject TEXT,
        normalized_subject TEXT,
        subject_is_reply INTEGER NOT NULL DEFAULT 0,
        from_name TEXT,
        from_email TEXT,
        to_json TEXT NOT NULL DEFAULT '[]',
        cc_json TEXT NOT NULL DEFAULT '[]',
        bcc_json TEXT NOT NULL DEFAULT '[]',
        reply_to_json TEXT NOT NULL DEFAULT '[]',
        date_ts REAL,
        date_flag TEXT NOT NULL,
        in_reply_to TEXT,
        references_json TEXT NOT NULL DEFAULT '[]',
        body_text TEXT NOT NULL DEFAULT '',
        body_from_html INTEGER NOT NULL DEFAULT 0,
        new_text TEXT NOT NULL DEFAULT '',
        headers_json TEXT NOT NULL DEFAULT '{}',
        size INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        defects_json TEXT NOT NULL DEFAULT '[]',
        has_attachments INTEGER NOT NULL DEFAULT 0,
        ingested_at TEXT NOT NULL,
        UNIQUE (user_id, id)
    )""",
    "CREATE INDEX ix_messages_thread ON messages(user_id, thread_id, date_ts)",
    "CREATE INDEX ix_messages_sender ON messages(user_id, from_email, date_ts)",
    "CREATE INDEX ix_messages_date ON messages(user_id, date_ts)",
    "CREATE INDEX ix_messages_folder ON messages(user_id, folder, date_ts)",
    "CREATE INDEX ix_messages_msgid ON messages(user_id, message_id)",
    """CREATE TABLE message_locations (
        user_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        locator TEXT NOT NULL,
        folder TEXT,
        UNIQUE (user_id, source_id, locator)
    )""",
    "CREATE INDEX ix_locations_message ON message_locations(user_id, message_id)",
    """CREATE TABLE message_addresses (
        user_id TEXT NOT NULL,
        message_rowid INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('from', 'to', 'cc', 'bcc')),
        email TEXT NOT NULL,
        name TEXT
    )""",
    "CREATE INDEX ix_addresses_email ON message_addresses(user_id, email, kind)",
    "CREATE INDEX ix_addresses_message ON message_addresses(user_id, message_rowid)",
    """CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        message_rowid INTEGER NOT NULL,
        filename TEXT,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_id TEXT,
        disposition TEXT
    )""",
    "CREATE INDEX ix_attachments_message ON attachments(user_id, message_rowid)",
    """CREATE TABLE threads (
        user_id TEXT NOT NULL,
        id TEXT NOT NULL,
        subject TEXT,
        message_count INTEGER NOT NULL,
        first_ts REAL,
        last_ts REAL,
        PRIMARY KEY (user_id, id)
    )""",
    "CREATE INDEX ix_threads_last ON threads(user_id, last_ts)",
    """CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        source_id INTEGER REFERENCES sources(id),
        locator TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (reason <> ''),
        raw_path TEXT,
        content_hash TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (user_id, source_id, locator)
    )""",
    """CREATE TABLE ingest_runs (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        source_id INTEGER REFERENCES sources(id),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        counts_json TEXT
    )""",
    """CREATE TABLE deletions (
        user_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        deleted_at TEXT NOT NULL
    )""",
    "CREATE INDEX ix_deletions_user ON deletions(user_id, deleted_at)",
    # FTS5 over subject + new text, kept in sync by triggers (external content: no duplicate
    # copy of the text). Porter stemming so "meetings" finds "meeting".
    """CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, new_text, content='messages', content_rowid='rowid',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, subject, new_text)
        VALUES (new.rowid, new.subject, new.new_text);
    END""",
    """CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, subject, new_text)
        VALUES ('delete', old.rowid, old.subject, old.new_text);
    END""",
    """CREATE TRIGGER messages_au AFTER UPDATE OF subject, new_text ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, subject, new_text)
        VALUES ('delete', old.rowid, old.subject, old.new_text);
        INSERT INTO messages_fts(rowid, subject, new_text)
        VALUES (new.rowid, new.subject, new.new_text);
    END""",
]

#: Ordered list of migrations; the schema version is its length.
MIGRATIONS: list[list[str]] = [_V1]
