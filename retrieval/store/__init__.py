"""The relational store: one :class:`~retrieval.store.base.Store` protocol, SQLite or Postgres
behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.store.base import Store


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the configured store (SQLite, or Postgres with ``MAILMIND_STORE__BACKEND=
    postgres``), applying migrations unless told not to."""
    store: Store
    if settings.store.backend == "postgres":
        from retrieval.store.postgres import open_postgres_store

        store = open_postgres_store(settings)
    else:
        from retrieval.store.sqlite import SQLiteStore

        store = SQLiteStore(settings.store_path, busy_timeout_s=settings.store.busy_timeout_s)
    if migrate:
        store.migrate()
    return store
