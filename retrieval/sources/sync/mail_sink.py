"""Where IMAP sync delivers mail: the same ingest pipeline as files, one commit per message.

Sync saves its UID state only after a callback returns, so every callback commits before it
returns; a crash re-delivers at most the message in flight, which the store skips as a
duplicate. Threads are recomputed once per sync in :meth:`MailSink.finish`.
"""

from __future__ import annotations

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


class MailSink:
    """``on_message`` / ``on_expunge`` / ``on_flags`` callbacks backed by an :class:`Ingestor`."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.touched_users: set[str] = set()
        self.added = 0
        self.removed = 0
        self.quarantined = 0

    def on_message(self, user: str, folder: str, raw: bytes, loc: MessageLocator) -> None:
        """Parse and store one fetched message (quarantined with its reason if unparseable)."""
        item = RawItem(locator_key(loc), folder, raw, len(raw))
        report = self.ingestor.ingest_items(
            user, source_uri(loc.account, folder), "imap", [item], rethread=False
        )
        self.added += report.added
        self.quarantined += report.quarantined
        self.touched_users.add(user)

    def on_expunge(self, user: str, folder: str, locators: list[MessageLocator]) -> None:
        """Forget expunged messages; a message still present in another folder is kept."""
        by_source: dict[str, list[str]] = {}
        for loc in locators:
            by_source.setdefault(source_uri(loc.account, folder), []).append(locator_key(loc))
        for uri, keys in by_source.items():
            self.removed += len(self.ingestor.store.remove_locations(user, uri, keys))
        self.touched_users.add(user)

    def on_flags(self, user: str, folder: str, locators: list[MessageLocator]) -> None:
        """Flags (seen, answered, flagged) are not stored yet: nothing reads them."""

    def callbacks(self) -> tuple[object, object, object]:
        """The triple ``run_sync`` expects."""
        return (self.on_message, self.on_expunge, self.on_flags)

    def finish(self) -> None:
        """Recompute threads for every user whose mail changed."""
        for user in sorted(self.touched_users):
            self.ingestor.store.rethread(user)
