"""SQLite plumbing shared by the calendar, contacts, sync-state, key and feedback stores.

They all live in the main store file (``settings.store_path``) beside the mail tables, each with
its own prefixed tables (``cal_``, ``contact_``, ``mail_people``, ``imap_``, ``dav_``,
``api_keys``, ``feedback``) and its own migration list applied by
:func:`retrieval.store.migrations.apply_migrations` (one ``schema_versions`` table for all).
Connections hand out :class:`sqlite3.Row` rows so stores read columns by name.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from retrieval.store.migrations import apply_migrations, split_statements

_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def connect(
    db: str | Path | sqlite3.Connection, busy_timeout_s: float = 30.0
) -> sqlite3.Connection:
    """Open (or reuse) a connection with WAL, a busy timeout and :class:`sqlite3.Row` rows;
    parents are created. A Postgres :class:`~retrieval.store.pg_conn.PgConnection` passed in
    (typed as the connection it stands in for) is returned as it is."""
    if not isinstance(db, sqlite3.Connection | str | Path):
        return db
    if isinstance(db, sqlite3.Connection):
        db.row_factory = sqlite3.Row  # Row still indexes by position: callers keep working
        return db
    if str(db) != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    # Tools run in LangGraph's worker threads; SQLite here is built serialized (threadsafety 3),
    # so one connection may be shared across threads.
    conn = sqlite3.connect(str(db), timeout=busy_timeout_s, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure_schema(conn: sqlite3.Connection, component: str, version: int, ddl: str) -> None:
    """Bring a component whose schema is one idempotent DDL script up to ``version``.

    For components not yet written as a migration list: the script (``IF NOT EXISTS``) is
    migration ``version`` and the ones before it are empty, so a database at an older version
    re-runs the script and one written by newer code is refused
    (:class:`~core.errors.MigrationError`). New code should call
    :func:`~retrieval.store.migrations.apply_migrations` with a real list.
    """
    steps: list[list[str]] = [[] for _ in range(version - 1)]
    apply_migrations(conn, component, [*steps, split_statements(ddl)])


def ts(value: datetime | None) -> str | None:
    """Aware datetime -> sortable UTC text (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def from_ts(value: str | None) -> datetime | None:
    """Inverse of :func:`ts`."""
    if value is None:
        return None
    return datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)


def now_ts() -> str:
    """Current UTC time as stored text."""
    return datetime.now(UTC).strftime(_TS_FORMAT)
