"""Users: the registry in the main store, and everything a user owns outside the SQL tables.

The user registry is the mail store's ``users`` table (``mailmind users add|list|delete``). What
:meth:`api.services.Services.delete_user` removes beyond the per-store ``delete_user`` methods
lives here: the user's raw quarantine copies (``<data_dir>/quarantine/<user>/``) and their
LangGraph conversation checkpoints (thread ids ``"<user>/<conversation>"``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.store.base import check_user

if TYPE_CHECKING:
    from retrieval.store.base import Store
    from retrieval.store.keys import KeyStore
    from retrieval.store.pg_conn import PgConnection

#: File of LangGraph's SQLite checkpointer under the data dir.
CHECKPOINTS_FILE = "checkpoints.sqlite3"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One registered user with what they hold (``mailmind users list``)."""

    user: str
    messages: int
    api_keys: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"user": self.user, "messages": self.messages, "api_keys": self.api_keys}


def list_users(store: Store, keys: KeyStore) -> list[UserInfo]:
    """Registered users (the mail store's ``users`` table) with message and live-key counts."""
    live: dict[str, int] = {}
    for key in keys.list():
        if not key.revoked:
            live[key.user] = live.get(key.user, 0) + 1
    return [
        UserInfo(user=u, messages=store.stats(u).messages, api_keys=live.get(u, 0))
        for u in store.users()
    ]


# -- quarantine copies ---------------------------------------------------------------------------


def quarantine_dir_for(root: Path, user: str) -> Path:
    """The folder holding ``user``'s raw quarantine copies (``<root>/<user>``)."""
    return root / check_user(user)


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path`` (0 when it does not exist)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).stat().st_size
            except FileNotFoundError:
                continue  # removed while we walked
    return total


def delete_quarantine(root: Path, user: str) -> int:
    """Remove ``user``'s quarantine copies (``<root>/<user>/<aa>/<sha256>.eml``) and their
    folder; returns the number of files removed.

    Only the per-user layout's sub-folders are removed: before per-user folders, copies lay in
    ``<root>/<aa>/<sha256>.eml``, shared by all users, and a user id of two hex digits names
    such a folder. Files lying directly in it are that older layout's; the mail store removes
    the user's own among them (:meth:`~retrieval.store.sqlite.SQLiteStore.delete_user`).
    """
    folder = quarantine_dir_for(root, user)
    if not folder.is_dir():
        return 0
    removed = 0
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.is_symlink():
            removed += sum(len(names) for _d, _s, names in os.walk(sub))
            shutil.rmtree(sub)
    with contextlib.suppress(OSError):
        folder.rmdir()  # not empty: older-layout files of other users stay
    return removed


# -- conversation checkpoints --------------------------------------------------------------------


def delete_checkpoints(conn: sqlite3.Connection, user: str) -> dict[str, int]:
    """Delete ``user``'s LangGraph checkpoints: rows of every table with a ``thread_id``
    column whose thread id starts with ``"<user>/"``. Returns rows removed per table.

    Generic over the checkpointer's tables (``checkpoints``, ``writes`` today) so a LangGraph
    upgrade that adds one is still covered. ``conn`` may also be the psycopg connection or pool
    of LangGraph's Postgres checkpointer (see :func:`delete_pg_checkpoints`).
    """
    if not isinstance(conn, sqlite3.Connection):
        return delete_pg_checkpoints(conn, user)
    prefix = f"{check_user(user)}/"
    counts: dict[str, int] = {}
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    with conn:
        for table in tables:
            columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            if "thread_id" not in columns:
                continue
            # substr() instead of LIKE: user ids may contain LIKE's wildcard "_".
            cur = conn.execute(
                f'DELETE FROM "{table}" WHERE substr(thread_id, 1, ?) = ?',
                (len(prefix), prefix),
            )
            counts[table] = cur.rowcount
    return counts


def delete_pg_checkpoints(conn: Any, user: str) -> dict[str, int]:
    """:func:`delete_checkpoints` for LangGraph's Postgres checkpointer: ``conn`` is its
    psycopg connection or connection pool; every table of the schema with a ``thread_id``
    column (``checkpoints``, ``checkpoint_blobs``, ``checkpoint_writes`` today) is covered."""
    prefix = f"{check_user(user)}/"
    counts: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(conn.connection()) if hasattr(conn, "connection") else conn
        with db.transaction():
            tables = [
                r[0] if isinstance(r, tuple) else r["table_name"]
                for r in db.execute(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = "
                    "'thread_id' AND table_schema = current_schema() ORDER BY table_name"
                ).fetchall()
            ]
            for table in tables:
                # substr() instead of LIKE: user ids may contain LIKE's wildcard "_".
                cur = db.execute(
                    f'DELETE FROM "{table}" WHERE substr(thread_id, 1, %s) = %s'.encode(),
                    (len(prefix), prefix),
                )
                counts[table] = cur.rowcount
    return counts


def delete_checkpoint_file_rows(path: Path, user: str) -> dict[str, int]:
    """:func:`delete_checkpoints` on the checkpointer file at ``path`` (nothing if absent)."""
    if not path.is_file():
        return {}
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        return delete_checkpoints(conn, user)
    finally:
        conn.close()


# -- feedback ------------------------------------------------------------------------------------


def delete_feedback(conn: sqlite3.Connection, user: str) -> dict[str, int]:
    """Delete ``user``'s rows from the feedback tables (``feedback*``), if they exist.

    Generic over the table layout: the user column is ``user_id`` or ``user``. Returns rows
    removed per table (empty when feedback was never stored). On the Postgres backend ``conn``
    is its :class:`~retrieval.store.pg_conn.PgConnection` (typed as the SQLite one it stands in
    for) and the rows go in a transaction acting for ``user``.
    """
    check_user(user)
    if not isinstance(conn, sqlite3.Connection):
        return _delete_pg_feedback(conn, user)
    counts: dict[str, int] = {}
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'feedback%'"
        )
    ]
    with conn:
        for table in tables:
            columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            column = next((c for c in ("user_id", "user") if c in columns), None)
            if column is not None:
                cur = conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (user,))
                counts[table] = cur.rowcount
    return counts


def _delete_pg_feedback(conn: PgConnection, user: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with conn.scope(user):
        for table, columns in sorted(conn.table_columns("feedback").items()):
            column = next((c for c in ("user_id", "user") if c in columns), None)
            if column is not None:
                cur = conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (user,))
                counts[table] = cur.rowcount
    return counts
