"""iCalendar invitations inside emails (iTIP over iMIP, RFC 6047).

An invitation is a ``text/calendar`` part (sometimes ``application/ics`` or an ``.ics``
attachment) whose METHOD says what to do: REQUEST creates/updates, CANCEL cancels, REPLY
carries an attendee's answer. The store applies them (:meth:`CalendarStore.apply_scheduling`);
this module only finds and parses them.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import tzinfo
from email.message import Message as EmailMessage

from core.types import Event
from retrieval.sources.calendar.parse import (
    Failure,
    ParsedCalendar,
    _calendars,
    component_to_event,
    parse_ics,
)
from retrieval.sources.calendar.tz import UTC

_CALENDAR_TYPES = {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics"}


@dataclass(slots=True)
class Invitation:
    """One calendar part of an email, parsed."""

    method: str
    message_id: str | None
    parsed: ParsedCalendar
    events: list[Event] = field(default_factory=list)

    @property
    def failures(self) -> list[Failure]:
        """Components of this part that could not be used."""
        return self.parsed.failures


def _as_message(raw: bytes | str | EmailMessage) -> EmailMessage:
    if isinstance(raw, EmailMessage):
        return raw
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _is_calendar_part(part: EmailMessage) -> bool:
    ctype = part.get_content_type().lower()
    if ctype in _CALENDAR_TYPES:
        return True
    filename = (part.get_filename() or "").lower()
    return filename.endswith((".ics", ".ical", ".vcs"))


def invitations_from_email(
    raw_or_message: bytes | str | EmailMessage,
    message_id: str | None = None,
    *,
    tz: tzinfo = UTC,
) -> list[Invitation]:
    """Every calendar part of an email with its METHOD, components and events.

    ``message_id`` defaults to the message's Message-ID header (angle brackets stripped).
    Outlook sends the same invitation twice (``text/calendar`` inline and an ``.ics``
    attachment); identical parts are returned once.
    """
    msg = _as_message(raw_or_message)
    if message_id is None:
        header = msg.get("Message-ID")
        message_id = str(header).strip().strip("<>") if header else None
    seen: set[str] = set()
    result: list[Invitation] = []
    for part in msg.walk():
        if part.is_multipart() or not _is_calendar_part(part):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:  # unknown charset name
            text = payload.decode("utf-8", errors="replace")
        # The inline part and the attachment differ only in line endings / transfer encoding.
        fingerprint = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        parsed = parse_ics(text, f"mail:{message_id}")
        method = (parsed.method or str(part.get_param("method") or "") or "PUBLISH").upper()
        parsed.method = method
        events = []
        for comp in parsed.components:
            if comp.range_start is None:
                continue  # REPLY/CANCEL without DTSTART: no occurrence to show
            vevent = _calendars(f"BEGIN:VCALENDAR\r\n{comp.timezones}{comp.ics}END:VCALENDAR\r\n")
            for item in vevent[0].walk("VEVENT"):
                events.append(component_to_event(item, tz, method=method, message_id=message_id))
        result.append(Invitation(method, message_id, parsed, events))
    return result


def events_from_email(
    raw_or_message: bytes | str | EmailMessage,
    message_id: str | None = None,
    *,
    tz: tzinfo = UTC,
) -> list[Event]:
    """Events of all calendar parts of an email, each tagged with ``method`` and ``message_id``.

    Recurring invitations yield their first occurrence (with ``rrule`` set); store them with
    :meth:`CalendarStore.apply_scheduling` to query expanded occurrences.
    """
    return [
        e for inv in invitations_from_email(raw_or_message, message_id, tz=tz) for e in inv.events
    ]
