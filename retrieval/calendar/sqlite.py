"""SQLite plumbing shared by the calendar, contacts and sync-state stores.

These stores keep their own tables (prefixed ``cal_``, ``contact_``, ``mail_people``, ``imap_``,
``dav_``) and a per-component schema version in ``pim_schema`` so they can live in the main
mailmind database file without touching its migrations (``PRAGMA user_version`` is left alone).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from core.errors import MigrationError

_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def connect(
    db: str | Path | sqlite3.Connection, busy_timeout_s: float = 30.0
) -> sqlite3.Connection:
    """Open (or reuse) a connection with WAL and a busy timeout; parents are created."""
    if isinstance(db, sqlite3.Connection):
        return db
    if str(db) != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    # Tools run in LangGraph's worker threads; SQLite here is built serialized (threadsafety 3),
    # so one connection may be shared across threads.
    conn = sqlite3.connect(str(db), timeout=busy_timeout_s, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure_schema(conn: sqlite3.Connection, component: str, version: int, ddl: str) -> None:
    """Create ``component``'s tables idempotently and record ``version``.

    The DDL must be re-runnable (``IF NOT EXISTS``). A database written by newer code is refused
    rather than silently misread.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS pim_schema "
        "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM pim_schema WHERE component = ?", (component,)
    ).fetchone()
    if row is not None and row[0] > version:
        raise MigrationError(
            f"{component} tables are at schema version {row[0]}, this code knows {version}: "
            "upgrade mailmind"
        )
    if row is None or row[0] < version:
        conn.executescript(ddl)  # commits first; the DDL is idempotent so a crash is harmless
    with conn:
        conn.execute(
            "INSERT INTO pim_schema (component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, version),
        )


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
