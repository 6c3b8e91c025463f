"""Domain types shared by every package: mail, calendar, contacts.

Plain slotted dataclasses: they are built by the hundred thousand during ingest, where pydantic
validation would cost more than parsing. Wire schemas (API, tools) are pydantic models built from
these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

DateFlag = Literal["ok", "missing", "unparseable", "naive", "implausible"]


@dataclass(slots=True, frozen=True)
class Address:
    """A mailbox: display name (decoded from RFC 2047 words) and lower-cased address."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(slots=True, frozen=True)
class Attachment:
    """Metadata of one attachment; the content itself is not kept."""

    filename: str | None
    content_type: str
    size: int
    content_id: str | None = None
    disposition: str | None = None


@dataclass(slots=True)
class Message:
    """One parsed email.

    ``id`` is stable: derived from the RFC 5322 Message-ID, or from a hash of the raw bytes when
    the header is missing (``message_id_synthetic``), so re-ingesting yields the same id.
    """

    id: str
    message_id: str
    message_id_synthetic: bool
    subject: str
    normalized_subject: str
    subject_is_reply: bool
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    date_flag: DateFlag
    in_reply_to: str | None
    references: list[str]
    body_text: str
    body_from_html: bool
    new_text: str
    attachments: list[Attachment]
    headers: dict[str, str]
    size: int
    content_hash: str
    folder: str | None = None
    defects: list[str] = field(default_factory=list)
    thread_id: str | None = None


@dataclass(slots=True)
class Thread:
    """A conversation: messages linked by References/In-Reply-To or by subject."""

    id: str
    subject: str
    message_ids: list[str]
    first_date: datetime | None
    last_date: datetime | None


@dataclass(slots=True, frozen=True)
class Attendee:
    """An event attendee with their participation status (PARTSTAT)."""

    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"
    role: str = "REQ-PARTICIPANT"


@dataclass(slots=True)
class Event:
    """One calendar event occurrence (recurring events are expanded per query window)."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    all_day: bool = False
    description: str = ""
    location: str = ""
    organizer: str | None = None
    attendees: list[Attendee] = field(default_factory=list)
    status: str = "CONFIRMED"
    transparency: str = "OPAQUE"
    recurrence_id: datetime | None = None
    rrule: str | None = None
    calendar: str | None = None
    message_id: str | None = None
    method: str | None = None


@dataclass(slots=True)
class Contact:
    """A person: from a vCard, from mail history, or both merged by email address."""

    uid: str
    full_name: str
    emails: list[str] = field(default_factory=list)
    given_name: str = ""
    family_name: str = ""
    nicknames: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    organization: str = ""
    title: str = ""
    notes: str = ""
    birthday: date | None = None
    source: Literal["vcard", "mail", "merged"] = "vcard"
    messages_from: int = 0
    messages_to: int = 0
    last_contact: datetime | None = None
