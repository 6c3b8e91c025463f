"""Incremental IMAP sync (imapclient), per folder by UIDVALIDITY + UID.

Each run, per folder:

1. ``SELECT`` (read-only). A UIDVALIDITY different from the stored one means every UID we know
   is void (RFC 3501 2.3.1.1): all known messages are reported expunged and the folder is
   fetched again from scratch.
2. With CONDSTORE (RFC 7162), an unchanged HIGHESTMODSEQ + UIDNEXT + EXISTS means nothing
   happened: the folder is skipped without listing it.
3. Otherwise ``UID SEARCH ALL`` + ``UID FETCH (FLAGS)`` list the folder: UIDs we do not know
   are new (their raw RFC 822 bytes are fetched with ``BODY.PEEK[]`` so the server's \\Seen
   flag is untouched), known UIDs that are gone were expunged, and differing flags are flag
   changes.

The callback runs *before* the state row is written, so a crash re-delivers a message instead
of losing it; ingestion is expected to deduplicate by Message-ID / locator.
Credentials come from :class:`MailAccount` (a ``SecretStr``) and are never logged.
"""

from __future__ import annotations

import logging
import sqlite3
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SyncError
from core.settings import MailAccount
from retrieval.store.pim_sqlite import connect, ensure_schema, now_ts

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS imap_folders (
    account TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER,
    highestmodseq INTEGER,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE IF NOT EXISTS imap_messages (
    account TEXT NOT NULL,
    folder TEXT NOT NULL,
    uid INTEGER NOT NULL,
    flags TEXT NOT NULL,
    PRIMARY KEY (account, folder, uid)
);
"""


@dataclass(slots=True, frozen=True)
class MessageLocator:
    """Where a message lives on the server; ``(account, folder, uidvalidity, uid)`` is unique."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    flags: tuple[str, ...] = ()


#: ``on_message(user, folder, raw_bytes, locator)``
OnMessage = Callable[[str, str, bytes, MessageLocator], None]
#: ``on_expunge(user, folder, locators)`` and ``on_flags(user, folder, locators)``
OnLocators = Callable[[str, str, list[MessageLocator]], None]
#: ``progress(account, folder, done, total)`` while new messages are fetched
OnProgress = Callable[[str, str, int, int], None]


@dataclass(slots=True)
class FolderReport:
    """What one folder's sync did."""

    folder: str
    uidvalidity: int = 0
    new: int = 0
    flags_changed: int = 0
    expunged: int = 0
    resynced: bool = False
    unchanged: bool = False


@dataclass(slots=True)
class ImapSyncReport:
    """What one account's sync did."""

    account: str
    folders: list[FolderReport] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def new(self) -> int:
        """Messages delivered to ``on_message``."""
        return sum(f.new for f in self.folders)


class ImapState:
    """Per-account, per-folder sync state (UIDVALIDITY, known UIDs and their flags)."""

    def __init__(self, db: str | Path | sqlite3.Connection):
        self.conn = connect(db)
        ensure_schema(self.conn, "imap_sync", SCHEMA_VERSION, _DDL)

    def folder(self, account: str, folder: str) -> tuple[int, int | None, int | None] | None:
        """``(uidvalidity, uidnext, highestmodseq)`` of the last sync, or ``None``."""
        row = self.conn.execute(
            "SELECT uidvalidity, uidnext, highestmodseq FROM imap_folders"
            " WHERE account = ? AND folder = ?",
            (account, folder),
        ).fetchone()
        return (int(row[0]), row[1], row[2]) if row else None

    def known(self, account: str, folder: str) -> dict[int, tuple[str, ...]]:
        """Known UIDs and their flags."""
        rows = self.conn.execute(
            "SELECT uid, flags FROM imap_messages WHERE account = ? AND folder = ?",
            (account, folder),
        )
        return {int(uid): tuple(f for f in flags.split(" ") if f) for uid, flags in rows}

    def put_messages(
        self, account: str, folder: str, items: Iterable[tuple[int, tuple[str, ...]]]
    ) -> None:
        """Record UIDs (new or with changed flags)."""
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO imap_messages (account, folder, uid, flags)"
                " VALUES (?, ?, ?, ?)",
                [(account, folder, uid, " ".join(flags)) for uid, flags in items],
            )

    def drop_messages(self, account: str, folder: str, uids: Iterable[int] | None = None) -> None:
        """Forget some UIDs, or all of a folder's when ``uids`` is ``None``."""
        with self.conn:
            if uids is None:
                self.conn.execute(
                    "DELETE FROM imap_messages WHERE account = ? AND folder = ?",
                    (account, folder),
                )
            else:
                self.conn.executemany(
                    "DELETE FROM imap_messages WHERE account = ? AND folder = ? AND uid = ?",
                    [(account, folder, uid) for uid in uids],
                )

    def set_folder(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        uidnext: int | None,
        modseq: int | None,
    ) -> None:
        """Record a finished folder sync."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO imap_folders (account, folder, uidvalidity, uidnext,"
                " highestmodseq, synced_at) VALUES (?, ?, ?, ?, ?, ?)",
                (account, folder, uidvalidity, uidnext, modseq, now_ts()),
            )


def _flags(value: Iterable[Any]) -> tuple[str, ...]:
    names = (f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f) for f in value)
    # \Recent belongs to one session, not to the message: it would look like a change.
    return tuple(sorted(n for n in names if n.lower() != "\\recent"))


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def connect_imap(
    account: MailAccount, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 60.0
) -> Any:
    """Open and log in an :class:`imapclient.IMAPClient` for ``account``.

    Implicit TLS when ``account.tls``; STARTTLS when ``account.starttls``; plain only when both
    are off (meant for a loopback test server).
    """
    from imapclient import IMAPClient

    context = ssl_context or ssl.create_default_context()
    if not account.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.tls and not account.starttls,
            ssl_context=context,
            timeout=timeout,
        )
        if account.starttls:
            client.starttls(context)
        client.login(account.username, account.password.get_secret_value())
    except Exception as exc:
        # The message names host and user, never the password.
        raise SyncError(
            f"IMAP login to {account.host}:{account.port} as {account.username} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return client


def _folders(client: Any, wanted: list[str]) -> list[str]:
    if wanted != ["*"]:
        return wanted
    names = []
    for flags, _delim, name in client.list_folders():
        if b"\\Noselect" not in flags and b"\\NonExistent" not in flags:
            names.append(name)
    return names


def sync_imap_account(
    account: MailAccount,
    state: ImapState,
    on_message: OnMessage,
    on_expunge: OnLocators,
    on_flags: OnLocators | None = None,
    *,
    progress: OnProgress | None = None,
    client: Any = None,
    batch_size: int = 50,
) -> ImapSyncReport:
    """Sync every configured folder of ``account`` once; see the module docstring.

    ``client`` (an already logged-in IMAPClient) is for tests; normally one is opened and
    closed here. Errors in one folder are reported and do not stop the others.
    """
    report = ImapSyncReport(account.name)
    own = client is None
    conn = connect_imap(account) if own else client
    try:
        if conn.has_capability("CONDSTORE") and conn.has_capability("ENABLE"):
            conn.enable("CONDSTORE")  # makes SELECT report HIGHESTMODSEQ (cheap no-op syncs)
        for folder in _folders(conn, account.folders):
            try:
                report.folders.append(
                    _sync_folder(
                        conn,
                        account,
                        folder,
                        state,
                        on_message=on_message,
                        on_expunge=on_expunge,
                        on_flags=on_flags,
                        progress=progress,
                        batch_size=batch_size,
                    )
                )
            except Exception as exc:  # noqa: BLE001 - one bad folder must not stop the rest
                log.warning("IMAP sync of %s/%s failed: %s", account.name, folder, exc)
                report.errors.append((folder, f"{type(exc).__name__}: {exc}"))
    finally:
        if own:
            try:
                conn.logout()
            except Exception:
                log.debug("IMAP logout failed", exc_info=True)
    return report


def _sync_folder(
    conn: Any,
    account: MailAccount,
    folder: str,
    state: ImapState,
    *,
    on_message: OnMessage,
    on_expunge: OnLocators,
    on_flags: OnLocators | None,
    progress: OnProgress | None,
    batch_size: int,
) -> FolderReport:
    info = conn.select_folder(folder, readonly=True)
    uidvalidity = int(info[b"UIDVALIDITY"])
    exists = int(info.get(b"EXISTS", 0))
    uidnext = int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None
    modseq = int(info[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in info else None
    result = FolderReport(folder, uidvalidity)
    name, user = account.name, account.user

    def locator(uid: int, flags: tuple[str, ...], validity: int = uidvalidity) -> MessageLocator:
        return MessageLocator(name, folder, validity, uid, flags)

    stored = state.folder(name, folder)
    known = state.known(name, folder)
    if stored is not None and stored[0] != uidvalidity:
        # Every old UID is meaningless now: retract them all, then fetch the folder anew.
        log.info("UIDVALIDITY of %s/%s changed: resyncing", name, folder)
        gone = [locator(uid, flags, stored[0]) for uid, flags in sorted(known.items())]
        if gone:
            on_expunge(user, folder, gone)
        state.drop_messages(name, folder)
        result.expunged, result.resynced, known, stored = len(gone), True, {}, None
    if (
        stored is not None
        and modseq is not None
        and stored[2] == modseq
        and stored[1] == uidnext
        and exists == len(known)
    ):
        result.unchanged = True
        return result

    current: dict[int, tuple[str, ...]] = {}
    if exists:
        uids = sorted(int(u) for u in conn.search("ALL"))
        for chunk in _chunks(uids, 2000):  # keeps command lines short on big folders
            for uid, data in conn.fetch(chunk, ["FLAGS"]).items():
                current[int(uid)] = _flags(data.get(b"FLAGS", ()))

    expunged = sorted(set(known) - set(current))
    if expunged:
        on_expunge(user, folder, [locator(uid, known[uid]) for uid in expunged])
        state.drop_messages(name, folder, expunged)
        result.expunged += len(expunged)

    changed = sorted(uid for uid in set(known) & set(current) if known[uid] != current[uid])
    if changed:
        if on_flags is not None:
            on_flags(user, folder, [locator(uid, current[uid]) for uid in changed])
        state.put_messages(name, folder, [(uid, current[uid]) for uid in changed])
        result.flags_changed = len(changed)

    new = sorted(set(current) - set(known))
    for batch in _chunks(new, batch_size):
        fetched = conn.fetch(batch, ["BODY.PEEK[]", "FLAGS"])
        done = []
        for uid in batch:
            data = fetched.get(uid)
            if data is None:  # expunged between the listing and the fetch
                continue
            raw = data.get(b"BODY[]")
            if not isinstance(raw, bytes):
                continue
            flags = _flags(data.get(b"FLAGS", ()))
            on_message(user, folder, raw, locator(uid, flags))
            done.append((uid, flags))
        state.put_messages(name, folder, done)
        result.new += len(done)
        if progress is not None:
            progress(name, folder, result.new, len(new))
    state.set_folder(name, folder, uidvalidity, uidnext, modseq)
    return result
