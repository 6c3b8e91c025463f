"""People seen in mail: who the user writes to and hears from, how often and when."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.types import Address

#: One message as mail ingestion sees it: sender, To+Cc recipients, date, sent by the user?
MailRow = tuple[Address | None, Sequence[Address], datetime | None, bool]


@dataclass(slots=True)
class MailPerson:
    """Aggregated mail history with one address."""

    email: str
    names: Counter[str] = field(default_factory=Counter)
    messages_from: int = 0
    messages_to: int = 0
    last_contact: datetime | None = None

    @property
    def name(self) -> str:
        """The display name used most often (ties: the first seen)."""
        return self.names.most_common(1)[0][0] if self.names else ""


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def people_from_mail(rows: Iterable[MailRow]) -> dict[str, MailPerson]:
    """Aggregate messages into people, keyed by lower-cased address.

    A message the user sent counts towards each recipient's ``messages_to``; a received one
    towards the sender's ``messages_from``. Co-recipients of received mail are not counted:
    being cc'd next to someone says little about the user's relationship with them.
    """
    people: dict[str, MailPerson] = {}

    def touch(addr: Address, when: datetime | None) -> MailPerson | None:
        email = addr.email.strip().lower()
        if not email or "@" not in email:
            return None
        person = people.setdefault(email, MailPerson(email))
        if addr.name and addr.name.strip().lower() != email:
            person.names[addr.name.strip()] += 1
        person.last_contact = _later(person.last_contact, when)
        return person

    for sender, recipients, when, is_sent in rows:
        if is_sent:
            seen: set[str] = set()
            for addr in recipients:
                if addr.email.lower() in seen:  # one count per message per person
                    continue
                seen.add(addr.email.lower())
                person = touch(addr, when)
                if person is not None:
                    person.messages_to += 1
        elif sender is not None:
            person = touch(sender, when)
            if person is not None:
                person.messages_from += 1
    return people
