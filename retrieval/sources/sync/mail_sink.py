"""Where IMAP sync delivers mail: the same ingest pipeline as files, one commit per message.

Sync saves its UID state only after a callback returns, so every callback commits before it
returns; a crash re-delivers at most the message in flight, which the store skips as a
duplicate. Threads are recomputed once per sync in :meth:`MailSink.finish`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from retrieval.sources.mail.sources import RawItem

if TYPE_CHECKING:
    from retrieval.ingest.mail import Ingestor
    from retrieval.sources.sync.imap import MessageLocator


def source_uri(account: str, folder: str) -> str:
    """The store's source id for one IMAP folder."""
    return f"imap://{account}/{folder}"


def locator_key(loc: MessageLocator) -> str:
    """A message's locator inside its folder source: UIDVALIDITY/UID."""
    return f"{loc.uidvalidity}/{loc.uid}"


#: ``announce(user, added_ids, removed_ids)``, called by :meth:`MailSink.finish` per user.
Announce = Callable[[str, list[str], list[str]], None]


class MailSink:
    """``on_message`` / ``on_expunge`` / ``on_flags`` callbacks backed by an :class:`Ingestor`.

    ``announce`` (``sync --watch``: publish events) hears, once threads are recomputed, which
    messages each user gained and lost since the last :meth:`finish`."""

    def __init__(self, ingestor: Ingestor, *, announce: Announce | None = None) -> None:
        self.ingestor = ingestor
        self.announce = announce
        self.touched_users: set[str] = set()
        self.added = 0
        self.removed = 0
        self.quarantined = 0
        self._added_ids: dict[str, list[str]] = {}
        self._removed_ids: dict[str, list[str]] = {}

    def on_message(self, user: str, folder: str, raw: bytes, loc: MessageLocator) -> None:
        """Parse and store one fetched message (quarantined with its reason if unparseable)."""
        item = RawItem(locator_key(loc), folder, raw, len(raw))
        report = self.ingestor.ingest_items(
            user, source_uri(loc.account, folder), "imap", [item], rethread=False
        )
        self.added += report.added
        self.quarantined += report.quarantined
        self._added_ids.setdefault(user, []).extend(report.added_ids)
        self.touched_users.add(user)

    def on_expunge(self, user: str, folder: str, locators: list[MessageLocator]) -> None:
        """Forget expunged messages; a message still present in another folder is kept."""
        by_source: dict[str, list[str]] = {}
        for loc in locators:
            by_source.setdefault(source_uri(loc.account, folder), []).append(locator_key(loc))
        for uri, keys in by_source.items():
            gone = self.ingestor.store.remove_locations(user, uri, keys)
            self.removed += len(gone)
            self._removed_ids.setdefault(user, []).extend(gone)
        self.touched_users.add(user)

    def on_flags(self, user: str, folder: str, locators: list[MessageLocator]) -> None:
        """Flags (seen, answered, flagged) are not stored yet: nothing reads them."""

    def callbacks(self) -> tuple[object, object, object]:
        """The triple ``run_sync`` expects."""
        return (self.on_message, self.on_expunge, self.on_flags)

    def finish(self) -> None:
        """Recompute threads for every user whose mail changed, then announce the changes."""
        for user in sorted(self.touched_users):
            self.ingestor.store.rethread(user)
        added, removed = self._added_ids, self._removed_ids
        self._added_ids, self._removed_ids = {}, {}
        if self.announce is not None:
            for user in sorted(set(added) | set(removed)):
                self.announce(user, added.get(user, []), removed.get(user, []))
