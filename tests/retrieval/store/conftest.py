"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import Settings
from retrieval.store import open_store
from retrieval.store.sqlite import SQLiteStore


@pytest.fixture
def store(backend_settings: Settings) -> Iterator[SQLiteStore]:
    """A migrated mail store on the parametrised backend (the Postgres store is the SQLite
    store's code on the dialect layer, hence the common type)."""
    s = open_store(backend_settings)
    assert isinstance(s, SQLiteStore)
    yield s
    s.close()


def all_rows(store: SQLiteStore, sql: str) -> list[Any]:
    """Rows of ``sql`` across every user: maintenance visibility on Postgres, where row-level
    security hides every user's rows from a transaction that names no user."""
    pg = getattr(store, "pg", None)
    if pg is None:
        return store.conn.execute(sql).fetchall()
    with pg.scope(admin=True):
        return list(pg.execute(sql).fetchall())


def conn_rows(conn: Any, sql: str) -> list[Any]:
    """:func:`all_rows` on a store's connection (SQLite, or the Postgres one)."""
    scope = getattr(conn, "scope", None)
    if scope is None:
        return list(conn.execute(sql).fetchall())
    with scope(admin=True):
        return list(conn.execute(sql).fetchall())
