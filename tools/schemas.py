"""Typed arguments and size-bounded results of the assistant's tools.

Argument models are what the model sees (field descriptions included) and what constrained
decoding forces it to produce; none has a user field. Result models are bounded: long text is
cut with a visible ``…[truncated N chars]`` marker so a small model's context is respected, and
every item carries the id the answer may cite.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

TRUNCATION_MARK = "…[truncated {n} chars]"


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters with a visible marker saying how much was dropped."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + " " + TRUNCATION_MARK.format(n=len(text) - limit)


# -- arguments --------------------------------------------------------------------------------


class SearchMailboxArgs(BaseModel):
    """Arguments of ``search_mailbox``."""

    query: str = Field(description="What to look for, e.g. 'housing quote from Castellan'.")
    sender: str | None = Field(None, description="Only messages from this address or name.")
    recipient: str | None = Field(None, description="Only messages sent to this address.")
    after: str | None = Field(None, description="Only messages on/after this date (YYYY-MM-DD).")
    before: str | None = Field(None, description="Only messages before this date (YYYY-MM-DD).")
    has_attachment: bool | None = Field(None, description="Only messages with attachments.")
    limit: int = Field(5, ge=1, le=20, description="How many messages to return.")


class ReadMessageArgs(BaseModel):
    """Arguments of ``read_message``."""

    message_id: str = Field(description="Id of a message returned by search_mailbox (m...).")


class ReadThreadArgs(BaseModel):
    """Arguments of ``read_thread``."""

    thread_id: str = Field(
        description="Id of a thread (t...) or of any message in it (m...), from search_mailbox."
    )


class ListEventsArgs(BaseModel):
    """Arguments of ``list_events``."""

    start: str = Field(
        description="Start of the period: YYYY-MM-DD, 'today', 'tomorrow', 'next week', a weekday."
    )
    end: str | None = Field(None, description="End of the period (exclusive); default: one day.")
    query: str | None = Field(None, description="Only events whose title or people match this.")
    limit: int = Field(10, ge=1, le=30)


class FindFreeTimeArgs(BaseModel):
    """Arguments of ``find_free_time``."""

    duration_minutes: int = Field(30, ge=5, le=480, description="Length of the meeting.")
    start: str = Field(description="Earliest day to consider: YYYY-MM-DD, 'tomorrow', 'next week'.")
    end: str | None = Field(None, description="Last day to consider; default: five days later.")
    attendees: list[str] = Field(
        default_factory=list, description="Email addresses of people who must also be free."
    )
    limit: int = Field(5, ge=1, le=10)


class LookupContactsArgs(BaseModel):
    """Arguments of ``lookup_contacts``."""

    query: str = Field(description="A name, email address or company, e.g. 'Kenji' or 'Castellan'.")
    limit: int = Field(5, ge=1, le=10)


class ListMessagesArgs(BaseModel):
    """Arguments of ``list_messages``."""

    sender: str | None = Field(None, description="Only mail from this person (name or address).")
    recipient: str | None = Field(
        None, description="Only mail the user sent to this person (name or address)."
    )
    after: str | None = Field(None, description="Only messages on/after this date (YYYY-MM-DD).")
    before: str | None = Field(None, description="Only messages before this date (YYYY-MM-DD).")
    sent: bool = Field(False, description="Only mail the user sent (counts its recipients).")
    limit: int = Field(5, ge=1, le=25, description="How many of the newest messages to return.")


# -- results ----------------------------------------------------------------------------------


class MessageHit(BaseModel):
    """A search hit."""

    message_id: str
    thread_id: str
    date: str | None
    sender: str
    subject: str
    snippet: str


class SearchMailboxResult(BaseModel):
    """Messages found, best first."""

    query: str
    hits: list[MessageHit]


class MessageView(BaseModel):
    """One message, its own new text (quotes removed) bounded in size."""

    message_id: str
    thread_id: str
    date: str | None
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    attachments: list[str]
    text: str


class PersonCount(BaseModel):
    """How many of the matching messages one person sent (or, in ``top_recipients``, got)."""

    person: str
    messages: int


class ListMessagesResult(BaseModel):
    """Messages matching the filters, newest first, with the exact total and who sent them."""

    sender: str | None = None
    recipient: str | None = None
    after: str | None = None
    before: str | None = None
    people: list[str] = Field(
        default_factory=list, description="Addresses the sender/recipient name stands for."
    )
    total: int = Field(description="How many messages match (all of them, not only listed).")
    capped: bool = Field(False, description="True: there may be more than ``total``.")
    messages: list[MessageHit]
    top_senders: list[PersonCount] = Field(default_factory=list)
    top_recipients: list[PersonCount] = Field(
        default_factory=list, description="With ``sent``: whom the user wrote to most."
    )


class ThreadView(BaseModel):
    """A thread, oldest message first."""

    thread_id: str
    subject: str
    messages: list[MessageView]


class EventView(BaseModel):
    """One calendar occurrence."""

    event_id: str
    summary: str
    start: str
    end: str
    all_day: bool
    location: str
    status: str
    organizer: str | None
    attendees: list[str]
    you: str | None = Field(None, description="How the user appears among the attendees.")
    description: str


class ListEventsResult(BaseModel):
    """Events in a period (those matching ``query``; all of a short period when none did)."""

    start: str
    end: str
    events: list[EventView]
    query: str | None = None
    matched: bool = Field(True, description="False: no event matched the query words.")
    known_elsewhere: bool = Field(
        False, description="The query matches events outside this period (none inside)."
    )


class SlotView(BaseModel):
    """A free slot."""

    start: str
    end: str
    tentative_conflicts: list[str]


class FreeRangeView(BaseModel):
    """A free stretch of a working day (not aligned to any grid)."""

    start: str
    end: str


class BusyView(BaseModel):
    """An event that takes time in the window: the reason a time is not free."""

    event_id: str
    summary: str
    start: str
    end: str
    all_day: bool = False
    tentative: bool = False
    shows_as_free: bool = Field(False, description="Marked free in the calendar (a holiday).")


class FindFreeTimeResult(BaseModel):
    """Free slots, best first, with the free stretches and busy events they come from."""

    duration_minutes: int
    window_start: str
    window_end: str
    slots: list[SlotView]
    attendees: list[str] = Field(default_factory=list, description="Who else must be free.")
    free: list[FreeRangeView] = Field(default_factory=list)
    busy: list[BusyView] = Field(default_factory=list)


class ContactView(BaseModel):
    """A contact."""

    contact_id: str
    name: str
    emails: list[str]
    phones: list[str]
    organization: str
    title: str
    notes: str
    birthday: str | None = Field(None, description="YYYY-MM-DD, from the vCard's BDAY.")
    messages_from: int
    messages_to: int
    last_contact: str | None


class LookupContactsResult(BaseModel):
    """Contacts matching a query, best first."""

    query: str
    contacts: list[ContactView]
