"""The relational store interface: what every other package may ask of stored mail.

SQLite implements it (:mod:`retrieval.store.sqlite`), and so does Postgres
(:mod:`retrieval.store.postgres`, ``MAILMIND_STORE__BACKEND=postgres``). Every method takes the
user as a required, first argument: per-user isolation is enforced here, never by callers or
the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.ids import check_user_id
from core.types import Message, Thread


def check_user(user: str) -> str:
    """Validate a user id (see :func:`core.ids.check_user_id`); returns it unchanged."""
    return check_user_id(user)


@dataclass(slots=True, frozen=True)
class StoredItem:
    """A parsed message ready to be stored, with where it came from."""

    message: Message
    locator: str


@dataclass(slots=True, frozen=True)
class QuarantineItem:
    """An input that could not be parsed, with the reason and a pointer to its raw copy."""

    locator: str
    reason: str
    raw_path: str | None
    content_hash: str | None
    size: int
    #: The raw copy keeps only the first bytes (``MAILMIND_INGEST__QUARANTINE_MAX_ITEM_BYTES``).
    truncated: bool = False


@dataclass(slots=True)
class BatchResult:
    """What one :meth:`Store.add_batch` call did."""

    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    added_ids: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class TextHit:
    """A keyword-search hit."""

    message_id: str
    thread_id: str
    score: float
    snippet: str


@dataclass(slots=True)
class UserStats:
    """Counts for ``mailmind stats``."""

    user: str
    messages: int
    threads: int
    quarantined: int
    sources: int
    first_date: datetime | None
    last_date: datetime | None
    attachments: int
    folders: dict[str, int]


#: The folder name messages without one (a top-level Maildir, a single mbox) are listed under.
INBOX = "INBOX"


@dataclass(slots=True, frozen=True)
class FolderCount:
    """A folder of one user with its message and unread counts (``GET /v1/folders``)."""

    name: str
    messages: int
    unread: int
    last_date: datetime | None


@dataclass(slots=True, frozen=True)
class ListedMessage:
    """A row of a message list: the message, whether it is unread, and its thread's size."""

    message: Message
    unread: bool
    thread_size: int


class Store(Protocol):
    """Mail store used by ingestion, tools and the API."""

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the schema version now in force."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def ensure_user(self, user: str) -> None:
        """Create the user row if missing."""
        ...

    def ensure_source(self, user: str, uri: str, fmt: str) -> int:
        """Register (or find) a source for ``user``; returns its id."""
        ...

    def known_locators(self, user: str, source_id: int) -> set[str]:
        """Locators of ``source_id`` already stored or quarantined (resume skips them)."""
        ...

    def start_run(self, user: str, source_id: int) -> int:
        """Record the start of an ingestion run."""
        ...

    def finish_run(self, user: str, run_id: int, status: str, counts: dict[str, int]) -> None:
        """Record the end of an ingestion run."""
        ...

    def add_batch(
        self,
        user: str,
        source_id: int,
        items: Sequence[StoredItem],
        quarantine: Sequence[QuarantineItem],
    ) -> BatchResult:
        """Store a batch atomically: all of it or none of it (the crash-safety unit)."""
        ...

    def rethread(self, user: str) -> int:
        """Recompute threads for ``user`` over all their messages; returns the thread count."""
        ...

    def stats(self, user: str) -> UserStats:
        """Counts and date range for ``user``."""
        ...

    def get_message(self, user: str, message_id: str) -> Message | None:
        """One message by its stable id, or None (also for other users' ids)."""
        ...

    def get_messages(self, user: str, message_ids: Sequence[str]) -> list[Message]:
        """Messages by stable id, in the order given; unknown ids are skipped."""
        ...

    def get_thread(self, user: str, thread_id: str) -> tuple[Thread, list[Message]] | None:
        """A thread and its messages oldest first, or None."""
        ...

    def list_messages(
        self,
        user: str,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        folder: str | None = None,
        thread_id: str | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Messages matching all given filters, newest first."""
        ...

    def folders(self, user: str) -> list[FolderCount]:
        """``user``'s folders (messages without one under :data:`INBOX`), by name."""
        ...

    def page_messages(
        self, user: str, *, folder: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[ListedMessage]]:
        """One page of ``user``'s messages (of ``folder`` when given), newest first, and the
        total count."""
        ...

    def search_text(self, user: str, query: str, *, limit: int = 20) -> list[TextHit]:
        """Keyword search over subject and new text (FTS5 on SQLite, ``tsvector`` on Postgres)."""
        ...

    def iter_messages(self, user: str, *, batch_size: int = 500) -> Iterator[Message]:
        """Every message of ``user`` in storage order (for indexing and exports)."""
        ...

    def message_ids(self, user: str) -> set[str]:
        """All stable message ids of ``user``."""
        ...

    def remove_locations(self, user: str, source_uri: str, locators: Sequence[str]) -> list[str]:
        """Drop message locations; delete messages left without any; returns deleted ids."""
        ...

    def delete_messages(self, user: str, message_ids: Sequence[str]) -> int:
        """Delete messages (e.g. expunged on the server); returns how many were removed."""
        ...

    def list_quarantine(self, user: str, *, source_id: int | None = None) -> list[QuarantineItem]:
        """Quarantined items of ``user`` (of one source when ``source_id`` is given)."""
        ...

    def users(self) -> list[str]:
        """All user ids (admin/maintenance only)."""
        ...

    def delete_user(self, user: str) -> dict[str, int]:
        """Delete every row of ``user`` (and their raw quarantine copies); counts per table."""
        ...
