"""The relational store: one :class:`~retrieval.store.base.Store` protocol, SQLite behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.store.base import Store


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the configured store, applying migrations unless told not to."""
    from retrieval.store.sqlite import SQLiteStore

    store = SQLiteStore(settings.store_path, busy_timeout_s=settings.store.busy_timeout_s)
    if migrate:
        store.migrate()
    return store
