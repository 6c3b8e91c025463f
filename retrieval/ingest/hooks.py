"""What mail ingestion feeds into calendar and contacts.

:class:`PimMailHook` is an ingest :data:`~retrieval.ingest.mail.BatchHook`: for each batch of new
messages it records the people seen in mail (counts, last contact, sent vs received) and applies
iCalendar invitations (REQUEST / REPLY / CANCEL) linked to their message. Both writes are
idempotent by message id, which is what lets the hook run before the mail batch commits.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from core.types import Message

if TYPE_CHECKING:
    from retrieval.store.base import Store
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore

#: Folder names mail clients use for sent mail (Maildir++, Outlook/Notes exports, Gmail).
_SENT_RE = re.compile(r"(^|[/._\\\\ ])(sent|sent[ _-]?items|sent[ _-]?mail|gesendet|envoy)", re.I)


def is_sent_folder(folder: str | None) -> bool:
    """True for folders holding the user's own sent mail."""
    return bool(folder and _SENT_RE.search(folder))


def own_addresses(store: Store, user: str, *, per_folder: int = 50) -> list[str]:
    """The user's own addresses, most used first: the senders of their sent folders."""
    from collections import Counter

    found: Counter[str] = Counter()
    for folder in store.stats(user).folders:
        if is_sent_folder(folder):
            for m in store.list_messages(user, folder=folder, limit=per_folder):
                if m.sender:
                    found[m.sender.email.lower()] += 1
    return [a for a, _ in found.most_common()]


class PimMailHook:
    """Batch hook feeding contacts (people seen in mail) and the calendar (invitations)."""

    def __init__(self, calendars: CalendarStore, contacts: ContactStore) -> None:
        self.calendars = calendars
        self.contacts = contacts

    def __call__(self, user: str, batch: list[tuple[Message, bytes | None]]) -> None:
        rows = [(m.sender, [*m.to, *m.cc], m.date, is_sent_folder(m.folder)) for m, _ in batch]
        self.contacts.record_mail_people_batch(
            user, rows, message_ids=[m.message_id for m, _ in batch]
        )
        for message, raw in batch:
            if raw is not None:
                self._apply_invitations(user, message, raw)

    def _apply_invitations(self, user: str, message: Message, raw: bytes) -> None:
        from retrieval.sources.calendar.invites import invitations_from_email

        for invitation in invitations_from_email(raw, message.id):
            self.calendars.apply_scheduling(user, invitation.parsed, message_id=message.id)
