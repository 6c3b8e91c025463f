"""Calendar store: user scoping, invitations (REQUEST/CANCEL/REPLY) linked to their message."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from core.errors import InputError
from retrieval.sources.calendar.invites import events_from_email, invitations_from_email
from retrieval.sources.calendar.parse import parse_ics
from retrieval.store.calendar import CalendarStore

JAN = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))


def _itip(method: str, *, seq: int = 0, extra: str = "", partstat: str = "NEEDS-ACTION") -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:{method}\r\n"
        "BEGIN:VEVENT\r\nUID:meet-1@example.com\r\nDTSTAMP:20240101T000000Z\r\n"
        f"SEQUENCE:{seq}\r\nDTSTART:20240110T140000Z\r\nDTEND:20240110T150000Z\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Planning\r\n"
        "ORGANIZER;CN=Olga:mailto:olga@example.com\r\n"
        f"ATTENDEE;CN=Bob;PARTSTAT={partstat}:mailto:Bob@Example.com\r\n"
        f"{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _mail(ics: str, method: str, message_id: str = "<inv-1@example.com>") -> bytes:
    msg = EmailMessage()
    msg["From"] = "olga@example.com"
    msg["To"] = "bob@example.com"
    msg["Subject"] = "Invitation: Planning"
    msg["Message-ID"] = message_id
    msg.set_content("You are invited.")
    msg.add_alternative(ics, subtype="calendar", params={"method": method})
    msg.add_attachment(ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
    return msg.as_bytes()


def test_events_from_email_links_method_and_message() -> None:
    raw = _mail(_itip("REQUEST"), "REQUEST")
    events = events_from_email(raw)
    assert len(events) == 1  # inline part and identical .ics attachment are one invitation
    (event,) = events
    assert event.method == "REQUEST"
    assert event.message_id == "inv-1@example.com"
    assert event.organizer == "olga@example.com"
    assert event.attendees[0].email == "bob@example.com"
    assert event.attendees[0].partstat == "NEEDS-ACTION"
    assert event.start == datetime(2024, 1, 10, 14, tzinfo=UTC)
    assert event.rrule == "FREQ=WEEKLY;COUNT=3"


def test_no_calendar_part() -> None:
    msg = EmailMessage()
    msg.set_content("hello")
    assert events_from_email(msg, "x") == []


def test_request_cancel_reply_flow(store: CalendarStore) -> None:
    (inv,) = invitations_from_email(_mail(_itip("REQUEST"), "REQUEST"))
    assert store.apply_scheduling("bob", inv.parsed, message_id=inv.message_id) == {"inserted": 1}
    events = store.events_between("bob", *JAN)
    assert [e.start.day for e in events] == [10, 17, 24]
    assert events[0].message_id == "inv-1@example.com"

    # An older copy arriving late does not overwrite the newer one.
    newer = parse_ics(_itip("REQUEST", seq=2, extra="LOCATION:Room 4\r\n"))
    store.apply_scheduling("bob", newer, message_id="inv-2")
    stale = parse_ics(_itip("REQUEST", seq=1))
    assert store.apply_scheduling("bob", stale, message_id="inv-3") == {"stale": 1}
    assert store.events_between("bob", *JAN)[0].location == "Room 4"

    # REPLY updates the attendee's participation status.
    reply = parse_ics(_itip("REPLY", partstat="ACCEPTED"))
    assert store.apply_scheduling("bob", reply, message_id="r-1") == {"replied": 1}
    assert store.events_between("bob", *JAN)[0].attendees[0].partstat == "ACCEPTED"

    # CANCEL of one occurrence removes it; CANCEL of the series marks everything cancelled.
    one = parse_ics(_itip("CANCEL", seq=3, extra="RECURRENCE-ID:20240117T140000Z\r\n"))
    assert store.apply_scheduling("bob", one, message_id="c-1") == {"cancelled": 1}
    assert [e.start.day for e in store.events_between("bob", *JAN)] == [10, 24]
    series = parse_ics(_itip("CANCEL", seq=4))
    store.apply_scheduling("bob", series, message_id="c-2")
    assert {e.status for e in store.events_between("bob", *JAN)} == {"CANCELLED"}
    assert store.events_between("bob", *JAN, include_cancelled=False) == []


def test_users_are_isolated(store: CalendarStore) -> None:
    store.apply_scheduling("bob", parse_ics(_itip("REQUEST")), message_id="m")
    assert store.events_between("carol", *JAN) == []
    assert store.count("carol") == 0
    with pytest.raises(InputError):
        store.events_between("", *JAN)


def test_replace_source_deletes_removed_events(store: CalendarStore) -> None:
    parsed = parse_ics(_itip("PUBLISH"))
    assert store.replace_source("bob", "file:a.ics", parsed.components, calendar="a") == {
        "inserted": 1
    }
    assert store.replace_source("bob", "file:a.ics", [], calendar="a") == {"deleted": 1}
    assert store.count("bob") == 0
