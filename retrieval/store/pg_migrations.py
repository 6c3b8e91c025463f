"""The migration mechanism of :mod:`retrieval.store.migrations`, on Postgres.

Same idea, same ``schema_versions(component, version)`` table, same version numbers: version
*n* of a component means the same tables on both backends. Each component's SQLite migrations
are translated statement by statement (:func:`~retrieval.store.dialect.translate_ddl`, which also
puts row-level security on user-owned tables); a component whose SQLite schema cannot be
translated (the mail tables' FTS5 index) has its Postgres list here, in
:data:`PG_MIGRATIONS`.

Pending migrations of a component run in one transaction under an advisory lock, so two
processes migrating at once take turns and the second finds nothing left to do; DDL is
transactional in Postgres, so a failing migration leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import MigrationError
from retrieval.store.dialect import translate_ddl
from retrieval.store.migrations import _V1 as _MAIL_V1
from retrieval.store.migrations import _V2 as _MAIL_V2
from retrieval.store.migrations import MAIL, MIGRATIONS

if TYPE_CHECKING:
    from retrieval.store.pg_conn import PgConnection

_VERSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_versions ("
    "component TEXT PRIMARY KEY, version BIGINT NOT NULL)"
)
#: Key of the advisory lock every migrating process takes (any constant would do).
_LOCK_KEY = 0x6D61696C6D696E64  # "mailmind"

# Full-text search in place of FTS5: a stored tsvector over subject (weight A) and the
# message's own new text (weight B), English stemming ("meetings" finds "meeting"), GIN-indexed.
_MAIL_FTS = [
    """ALTER TABLE messages ADD COLUMN fts tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('english', coalesce(new_text, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_messages_fts ON messages USING GIN (fts)",
]


def _translated(statements: Sequence[str], *, skip_fts5: bool = False) -> list[str]:
    out: list[str] = []
    for statement in statements:
        head = " ".join(statement.split()[:3]).upper()
        if skip_fts5 and (head.startswith("CREATE VIRTUAL TABLE") or "TRIGGER" in head):
            continue  # SQLite's FTS5 table and the triggers feeding it; see _MAIL_FTS
        out.extend(translate_ddl(statement))
    return out


#: Components whose Postgres schema is not a plain translation of their SQLite migrations.
PG_MIGRATIONS: dict[str, list[list[str]]] = {
    MAIL: [
        [*_translated(_MAIL_V1, skip_fts5=True), *_MAIL_FTS],
        _translated(_MAIL_V2),
    ],
}
assert len(PG_MIGRATIONS[MAIL]) == len(MIGRATIONS), "a mail migration lacks its Postgres form"


def pg_schema_versions(conn: PgConnection) -> dict[str, int]:
    """``{component: version}`` recorded in the database (empty for a fresh one)."""
    exists = conn.execute("SELECT to_regclass('schema_versions') IS NOT NULL").fetchone()
    if exists is None or not exists[0]:
        return {}
    rows = conn.execute("SELECT component, version FROM schema_versions").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def _too_new(conn: PgConnection, component: str, current: int, latest: int) -> None:
    if current > latest:
        from retrieval.store.pg_conn import _redact

        raise MigrationError(
            f"{component} tables in {_redact(conn.url)} are at schema v{current}, this mailmind "
            f"knows up to v{latest}: upgrade mailmind or point MAILMIND_STORE__URL elsewhere"
        )


def apply_pg_migrations(
    conn: PgConnection, component: str, migrations: Sequence[Sequence[str]]
) -> int:
    """Bring ``component`` up to ``len(migrations)`` (its SQLite migrations, translated unless
    :data:`PG_MIGRATIONS` has its own list); returns the version now in force."""
    import psycopg

    latest = len(migrations)
    versions = pg_schema_versions(conn)
    if component in versions:
        _too_new(conn, component, versions[component], latest)
        if versions[component] == latest:
            return latest
    steps = PG_MIGRATIONS.get(component) or [_translated(m) for m in migrations]
    version = 0
    try:
        with conn.scope(admin=True):
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
            conn.run_ddl(_VERSIONS_DDL)
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = int(row[0]) if row is not None else 0
            _too_new(conn, component, current, latest)
            for version in range(current + 1, latest + 1):
                for statement in steps[version - 1]:
                    conn.run_ddl(statement)
            conn.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, max(current, latest)),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"migration of {component} to v{version} failed: {exc}") from exc
    finally:
        conn.forget_schema()
    return latest
