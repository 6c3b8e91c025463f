"""iTIP (RFC 5546) replies to invitations: the user's PARTSTAT, addressed to the organizer."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import icalendar

PRODID = "-//mailmind//actions//EN"


def _event(ics: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return icalendar.Event.from_ical(ics)


def build_reply(stored_ics: str, attendee: str, partstat: str, comment: str | None = None) -> str:
    """A ``METHOD:REPLY`` calendar for the stored invitation ``stored_ics`` (one VEVENT).

    It carries UID, SEQUENCE, RECURRENCE-ID, DTSTART/DTEND, SUMMARY and ORGANIZER of the
    invitation, and exactly one ATTENDEE: the user, with ``partstat`` (RFC 5546 3.2.3)."""
    src = _event(stored_ics)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "REPLY")
    ev = icalendar.Event()
    for prop in ("UID", "SEQUENCE", "RECURRENCE-ID", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER"):
        if prop in src:
            ev[prop] = src[prop]
    ev.add("dtstamp", datetime.now(UTC))
    who = icalendar.vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = partstat
    ev.add("attendee", who)
    if comment:
        ev.add("comment", comment)
    cal.add_component(ev)
    return cal.to_ical().decode("utf-8")


def set_partstat(ev: Any, attendee: str, partstat: str) -> None:
    """Set ``attendee``'s PARTSTAT on the VEVENT ``ev`` (added as an attendee if absent)."""
    attendees = ev.get("ATTENDEE")
    found = False
    for att in attendees if isinstance(attendees, list) else [attendees]:
        if att is not None and str(att).lower().removeprefix("mailto:") == attendee.lower():
            att.params["PARTSTAT"] = partstat
            found = True
    if not found:
        who = icalendar.vCalAddress(f"mailto:{attendee}")
        who.params["PARTSTAT"] = partstat
        ev.add("attendee", who)


def attendees_of(ics: str) -> list[str]:
    """Attendee addresses of a stored VEVENT, lower case."""
    attendees = _event(ics).get("ATTENDEE")
    return [
        str(a).lower().removeprefix("mailto:")
        for a in (attendees if isinstance(attendees, list) else [attendees])
        if a is not None
    ]
