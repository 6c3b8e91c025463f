"""One schema-migration mechanism for every table in the SQLite store.

Every component (``mail``, ``calendar``, ``contacts``, ``imap_sync``, ``dav_sync``,
``api_keys``, ``feedback``, ``actions``, …) owns an append-only list of migrations:
``migrations[i]`` is the list of SQL statements that upgrade the component from version ``i``
to ``i + 1``. The version in force is kept per component in one table,
``schema_versions(component, version)``, so every component can live in the one SQLite file
(``settings.store_path``) and evolve on its own.

Rules: never edit a released migration, append the next one; a database written by newer code
is refused with :class:`~core.errors.MigrationError` rather than misread. Databases from before
this table existed are adopted: the mail store's ``schema_version`` table and the other
components' ``pim_schema`` rows give their starting version (and are dropped once adopted).

Every mail table carries ``user_id`` and every index leads with it, because every query is scoped
to one user.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from core.errors import MigrationError

#: Component name of the mail tables (messages, threads, quarantine, …).
MAIL = "mail"

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

# v2: quarantined raw copies are capped per item; ``truncated`` says the copy is partial.
_V2 = ["ALTER TABLE quarantine ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0"]

#: Ordered list of mail migrations; the mail schema version is its length.
MIGRATIONS: list[list[str]] = [_V1, _V2]


# -- the mechanism ----------------------------------------------------------------------------

_VERSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_versions ("
    "component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


def split_statements(script: str) -> list[str]:
    """Split an SQL script into single statements (a trigger body's ``;`` stays inside)."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            statement = buf.strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def schema_versions(conn: sqlite3.Connection) -> dict[str, int]:
    """``{component: version}`` recorded in the database (empty for a fresh one)."""
    if not _table_exists(conn, "schema_versions"):
        return {}
    rows = conn.execute("SELECT component, version FROM schema_versions").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """Version of ``component`` in the database (0 when it has none yet)."""
    return schema_versions(conn).get(component, 0)


def _legacy_version(conn: sqlite3.Connection, component: str) -> int | None:
    """The version recorded by the pre-``schema_versions`` layouts, if any."""
    if component == MAIL and _table_exists(conn, "schema_version"):
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)
    if component != MAIL and _table_exists(conn, "pim_schema"):
        row = conn.execute(
            "SELECT version FROM pim_schema WHERE component = ?", (component,)
        ).fetchone()
        if row is not None:
            return int(row[0])
    return None


def _drop_legacy(conn: sqlite3.Connection, component: str) -> None:
    """Forget the adopted legacy record so there is one source of truth."""
    if component == MAIL:
        conn.execute("DROP TABLE IF EXISTS schema_version")
    elif _table_exists(conn, "pim_schema"):
        conn.execute("DELETE FROM pim_schema WHERE component = ?", (component,))
        if conn.execute("SELECT COUNT(*) FROM pim_schema").fetchone()[0] == 0:
            conn.execute("DROP TABLE pim_schema")


def _db_name(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row is not None and row[2] else ":memory:"


def _too_new(conn: sqlite3.Connection, component: str, current: int, latest: int) -> None:
    if current > latest:
        raise MigrationError(
            f"{component} tables in {_db_name(conn)} are at schema v{current}, this mailmind "
            f"knows up to v{latest}: upgrade mailmind or point MAILMIND_DATA_DIR elsewhere"
        )


def apply_migrations(
    conn: sqlite3.Connection, component: str, migrations: Sequence[Sequence[str]]
) -> int:
    """Bring ``component`` up to ``len(migrations)``; returns the version now in force.

    Pending migrations run in one ``BEGIN IMMEDIATE`` transaction (all or nothing; a second
    process migrating at the same time waits, then finds nothing left to do). An up-to-date
    database is checked without taking the write lock, so opening a store to read never waits
    for a writer. Works on autocommit and on default (implicit-transaction) connections.

    On the Postgres backend ``conn`` is a :class:`~retrieval.store.pg_conn.PgConnection` and
    the same migrations run through :func:`~retrieval.store.pg_migrations.apply_pg_migrations`.
    """
    if not isinstance(conn, sqlite3.Connection):
        from retrieval.store.pg_migrations import apply_pg_migrations

        return apply_pg_migrations(conn, component, migrations)
    latest = len(migrations)
    versions = schema_versions(conn)
    if component in versions:
        _too_new(conn, component, versions[component], latest)
        if versions[component] == latest:
            return latest
    if conn.in_transaction:
        conn.commit()  # a migration must not be mixed into a caller's pending writes
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise MigrationError(f"could not lock the database to migrate {component}: {exc}") from exc
    version = 0
    try:
        conn.execute(_VERSIONS_DDL)
        row = conn.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)
        ).fetchone()
        if row is not None:
            current = int(row[0])
        else:
            current = _legacy_version(conn, component) or 0
            _drop_legacy(conn, component)
        _too_new(conn, component, current, latest)
        for version in range(current + 1, latest + 1):
            for statement in migrations[version - 1]:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, max(current, latest)),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise MigrationError(f"migration of {component} to v{version} failed: {exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return latest
