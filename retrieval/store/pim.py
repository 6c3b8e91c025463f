"""Opening the calendar, contact and sync-state stores (one SQLite connection for all four).

They live in the main store file, ``settings.store_path``, beside the mail tables: one SQLite
home, one migration mechanism (:mod:`retrieval.store.migrations`). On the Postgres backend they
share one pooled connection to the store's database instead (see
:func:`retrieval.store.postgres.open_postgres_pim`). Data written by earlier
versions to a separate ``<data_dir>/pim.sqlite3`` is copied in once on open (see
:func:`import_legacy_pim`).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.sources.sync.dav import DavState
    from retrieval.sources.sync.imap import ImapState
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore

log = logging.getLogger(__name__)

#: The file earlier versions kept calendar, contacts and sync state in.
LEGACY_PIM_FILE = "pim.sqlite3"
#: Sync-state tables keyed by account name (accounts map to users in the settings).
IMAP_TABLES = ("imap_folders", "imap_messages")
DAV_TABLES = ("dav_collections", "dav_items")
_LEGACY_TABLES = (
    "cal_components", "cal_people", "contact_cards", "contact_emails", "mail_people",
    "mail_people_seen", *IMAP_TABLES, *DAV_TABLES,
)  # fmt: skip


def pim_db_path(settings: Settings) -> Path:
    """SQLite file for calendar, contacts and sync state: the main store file."""
    return settings.store_path


@dataclass(slots=True)
class PimStores:
    """The calendar and contact stores plus the sync state, on one SQLite connection."""

    calendars: CalendarStore
    contacts: ContactStore
    imap_state: ImapState
    dav_state: DavState

    def close(self) -> None:
        """Close the shared connection."""
        self.calendars.close()

    def delete_user(
        self,
        user: str,
        *,
        imap_accounts: Iterable[str] = (),
        dav_accounts: Iterable[str] = (),
    ) -> dict[str, int]:
        """Remove ``user``'s calendar and contact rows and the sync state of their accounts.

        Sync state is keyed by account name, not user: the caller names the user's accounts
        (from the settings). Returns rows removed per table.
        """
        counts = {**self.calendars.delete_user(user), **self.contacts.delete_user(user)}
        conn = self.calendars.conn
        with conn:
            for tables, accounts in ((IMAP_TABLES, imap_accounts), (DAV_TABLES, dav_accounts)):
                names = sorted(set(accounts))
                for table in tables:
                    counts[table] = sum(
                        conn.execute(f"DELETE FROM {table} WHERE account = ?", (a,)).rowcount
                        for a in names
                    )
        return counts


def import_legacy_pim(conn: sqlite3.Connection, legacy: Path) -> int:
    """Copy calendar, contact and sync rows from a legacy ``pim.sqlite3`` into ``conn``'s
    database (idempotent: existing keys win), then rename the old file so it is read once.

    Returns the number of rows copied. The tables must already exist in ``conn``.
    """
    if not legacy.is_file():
        return 0
    copied = 0
    if conn.in_transaction:
        conn.commit()
    conn.execute("ATTACH DATABASE ? AS legacy_pim", (str(legacy),))
    try:
        present = {
            r["name"]
            for r in conn.execute("SELECT name FROM legacy_pim.sqlite_master WHERE type='table'")
        }
        with conn:
            for table in _LEGACY_TABLES:
                if table in present:
                    # Same DDL on both sides (the tables were created by the same code).
                    cur = conn.execute(
                        f"INSERT OR IGNORE INTO main.{table} SELECT * FROM legacy_pim.{table}"
                    )
                    copied += max(cur.rowcount, 0)
    finally:
        conn.execute("DETACH DATABASE legacy_pim")
    for suffix in ("", "-wal", "-shm"):
        part = legacy.with_name(legacy.name + suffix)
        # Missing: another process imported it at the same time.
        with contextlib.suppress(FileNotFoundError):
            part.replace(part.with_name(part.name + ".imported"))
    log.info("imported %d calendar/contact/sync rows from %s", copied, legacy)
    return copied


def open_pim(settings: Settings) -> PimStores:
    """Open (and create) the calendar/contact/sync tables for ``settings``."""
    if settings.store.backend == "postgres":
        from retrieval.store.postgres import open_postgres_pim

        return open_postgres_pim(settings)
    from retrieval.sources.sync.dav import DavState
    from retrieval.sources.sync.imap import ImapState
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore
    from retrieval.store.pim_sqlite import connect

    path = pim_db_path(settings)
    conn = connect(path, settings.store.busy_timeout_s)
    stores = PimStores(CalendarStore(conn), ContactStore(conn), ImapState(conn), DavState(conn))
    legacy = settings.data_dir / LEGACY_PIM_FILE
    if legacy.resolve() != path.resolve():
        import_legacy_pim(conn, legacy)
    return stores
