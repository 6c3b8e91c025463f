"""Results computed ahead of time by the event workers (smart-reply chips, thread summaries).

One row per ``(user, kind, key, version)``: ``key`` is a message id (chips) or a thread id
(summaries) and ``version`` names everything the result depends on (the response set, the
summary method, the thread's message ids). Writing the same key and version again keeps the
first row, so re-handling an event changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from retrieval.store.base import check_user
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, now_ts

if TYPE_CHECKING:
    from core.settings import Settings

_COMPONENT = "precomputed"
_V1 = """
CREATE TABLE IF NOT EXISTS precomputed (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, key, version)
);
"""
MIGRATIONS: list[list[str]] = [split_statements(_V1)]


class PrecomputedStore:
    """The ``precomputed`` table in the main SQLite file; every query per user."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        apply_migrations(conn, _COMPONENT, MIGRATIONS)

    def put(self, user: str, kind: str, key: str, version: str, payload: Any) -> bool:
        """Store a result unless this key and version already has one; True when written."""
        check_user(user)
        with self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO precomputed (user_id, kind, key, version, payload_json,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user, kind, key, version, json.dumps(payload, ensure_ascii=False), now_ts()),
            )
        return cur.rowcount == 1

    def has(self, user: str, kind: str, key: str, version: str) -> bool:
        """Whether this exact result exists."""
        check_user(user)
        row = self.conn.execute(
            "SELECT 1 FROM precomputed WHERE user_id = ? AND kind = ? AND key = ? AND version = ?",
            (user, kind, key, version),
        ).fetchone()
        return row is not None

    def get(self, user: str, kind: str, key: str, version: str | None = None) -> Any | None:
        """The payload for ``key`` (of ``version``, else the newest), or ``None``."""
        check_user(user)
        sql = "SELECT payload_json FROM precomputed WHERE user_id = ? AND kind = ? AND key = ?"
        args: tuple[str, ...] = (user, kind, key)
        if version is not None:
            sql, args = sql + " AND version = ?", (*args, version)
        row = self.conn.execute(sql + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return json.loads(row[0]) if row else None

    def keys(self, user: str, kind: str) -> list[tuple[str, str]]:
        """``(key, version)`` of every result of ``kind`` for ``user``."""
        check_user(user)
        rows = self.conn.execute(
            "SELECT key, version FROM precomputed WHERE user_id = ? AND kind = ? ORDER BY key",
            (user, kind),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove every row of ``user``; rows removed per table."""
        check_user(user)
        with self.conn:
            cur = self.conn.execute("DELETE FROM precomputed WHERE user_id = ?", (user,))
        return {"precomputed": cur.rowcount}

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def open_precomputed_store(settings: Settings) -> PrecomputedStore:
    """The precomputed-results store in the main SQLite file of ``settings`` (or on its Postgres
    backend, every method in its user's scope)."""
    if settings.store.backend == "postgres":
        from typing import cast

        from retrieval.store.pg_conn import user_scoped
        from retrieval.store.postgres import pg_connection

        conn = cast("sqlite3.Connection", pg_connection(settings))
        return user_scoped(PrecomputedStore)(conn)
    return PrecomputedStore(connect(settings.store_path, settings.store.busy_timeout_s))
