"""Recurrence expansion and time-zone conversion, checked against hand-computed datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from retrieval.sources.calendar.parse import expand, parse_ics
from retrieval.sources.calendar.tz import resolve_tzid

WIDE = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))


def _expand_file(path: Path, tz: ZoneInfo | None = None) -> list[datetime]:
    parsed = parse_ics(path.read_bytes(), path.name)
    assert parsed.components, parsed.failures
    events = expand(parsed.components, *WIDE, tz or ZoneInfo("UTC"))
    return [e.start.astimezone(UTC) for e in events]


@pytest.mark.integration
def test_daily_count_with_utc_exdates(shared_data: Path) -> None:
    # DTSTART:19960401T010000 (floating) RRULE:FREQ=DAILY;COUNT=100, EXDATE Apr 2-4 01:00Z.
    starts = _expand_file(shared_data / "calendar/icalendar_tests/events/event_with_recurrence.ics")
    assert len(starts) == 97
    assert starts[0] == datetime(1996, 4, 1, 1, tzinfo=UTC)
    assert starts[1] == datetime(1996, 4, 5, 1, tzinfo=UTC)
    assert starts[-1] == datetime(1996, 4, 1, 1, tzinfo=UTC) + timedelta(days=99)


@pytest.mark.integration
def test_weekly_until_with_tzid_exdates(shared_data: Path) -> None:
    # Fri+Sat 12:00 America/New_York from Sat 2013-09-07, UNTIL 2013-10-25T03:59:59Z
    # (= Thu 23:59:59 EDT), EXDATE Oct 11 and 12: 1 + 2*4 + 2 = 11 occurrences, EDT = UTC-4.
    path = shared_data / "calendar/icalendar_tests/events/issue_112_missing_tzinfo_on_exdate.ics"
    starts = _expand_file(path)
    assert len(starts) == 11
    assert starts[0] == datetime(2013, 9, 7, 16, tzinfo=UTC)
    assert datetime(2013, 10, 11, 16, tzinfo=UTC) not in starts
    assert datetime(2013, 10, 12, 16, tzinfo=UTC) not in starts
    assert starts[-1] == datetime(2013, 10, 19, 16, tzinfo=UTC)


@pytest.mark.integration
def test_weekly_until_inclusive_with_many_exdates(shared_data: Path) -> None:
    # Tuesdays 10:00 Europe/Vienna (CEST, UTC+2) 2012-03-27 .. UNTIL 2012-07-03T08:00Z
    # (inclusive) = 15 Tuesdays, minus 5 EXDATEs = 10.
    path = (
        shared_data
        / "calendar/icalendar_tests/events/event_with_recurrence_exdates_on_different_lines.ics"
    )
    starts = _expand_file(path)
    assert len(starts) == 10
    assert starts[0] == datetime(2012, 3, 27, 8, tzinfo=UTC)
    assert starts[1] == datetime(2012, 4, 24, 8, tzinfo=UTC)
    assert starts[-1] == datetime(2012, 7, 3, 8, tzinfo=UTC)


@pytest.mark.integration
def test_floating_times_follow_the_user_zone(shared_data: Path) -> None:
    # DTSTART:20030101T070000 floating, FREQ=DAILY;COUNT=10: 07:00 wherever the user is.
    berlin = ZoneInfo("Europe/Berlin")
    starts = _expand_file(shared_data / "calendar/vobject_tests/ruby_rrule.ics", berlin)
    assert len(starts) == 10
    assert starts[0] == datetime(2003, 1, 1, 6, tzinfo=UTC)  # CET = UTC+1
    assert starts[-1] == datetime(2003, 1, 10, 6, tzinfo=UTC)


@pytest.mark.integration
def test_outlook_vtimezone_names(shared_data: Path) -> None:
    # Outlook names its VTIMEZONE "Canberra, Melbourne, Sydney": 2008-05-30 15:00 is AEST.
    assert _expand_file(shared_data / "calendar/vobject_tests/ms_tzid.ics") == [
        datetime(2008, 5, 30, 5, tzinfo=UTC)
    ]
    # TZID "Pacific Standard Time" with its VTIMEZONE: 2017-02-24 12:00 PST = 20:00Z.
    path = shared_data / "calendar/icalendar_tests/calendars/timezone_same_start.ics"
    assert _expand_file(path)[0] == datetime(2017, 2, 24, 20, tzinfo=UTC)


def _weekly(tzid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:dst@test\r\n"
        f"DTSTART;TZID={tzid}:20241021T090000\r\nDTEND;TZID={tzid}:20241021T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize("tzid", ["Europe/Berlin", '"W. Europe Standard Time"'])
def test_windows_tzid_without_vtimezone_and_dst_change(tzid: str) -> None:
    # 09:00 Berlin: CEST (UTC+2) on Oct 21, CET (UTC+1) after the Oct 27 switch.
    parsed = parse_ics(_weekly(tzid))
    events = expand(parsed.components, *WIDE)
    assert [e.start.astimezone(UTC) for e in events] == [
        datetime(2024, 10, 21, 7, tzinfo=UTC),
        datetime(2024, 10, 28, 8, tzinfo=UTC),
        datetime(2024, 11, 4, 8, tzinfo=UTC),
    ]
    assert all(e.end - e.start == timedelta(hours=1) for e in events)
    assert events[0].rrule == "FREQ=WEEKLY;COUNT=3"


def test_resolve_windows_names() -> None:
    assert resolve_tzid("Pacific Standard Time") == ZoneInfo("America/Los_Angeles")
    assert resolve_tzid("W. Europe Standard Time") == ZoneInfo("Europe/Berlin")
    assert resolve_tzid("Not/A_Zone") is None


def test_rrule_override_and_window() -> None:
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nUID:s@t\r\nDTSTART:20240102T090000Z\r\nDTEND:20240102T093000Z\r\n"
        "RRULE:FREQ=DAILY;UNTIL=20240105T090000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:s@t\r\nRECURRENCE-ID:20240103T090000Z\r\n"
        "DTSTART:20240103T140000Z\r\nDTEND:20240103T143000Z\r\nSUMMARY:Standup (moved)\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_ics(ics)
    events = expand(
        parsed.components,
        datetime(2024, 1, 3, tzinfo=UTC),
        datetime(2024, 1, 6, tzinfo=UTC),
    )
    assert [(e.start.hour, e.summary) for e in events] == [
        (14, "Standup (moved)"),
        (9, "Standup"),
        (9, "Standup"),
    ]
    assert events[0].recurrence_id == datetime(2024, 1, 3, 9, tzinfo=UTC)


def test_all_day_and_missing_dtstart() -> None:
    ics = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a@t\r\nDTSTART;VALUE=DATE:20240301\r\n"
        "SUMMARY:Holiday\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b@t\r\nSUMMARY:No start\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_ics(ics, "x.ics")
    assert parsed.failures == [("x.ics#b@t", "VEVENT has no usable DTSTART")]
    (event,) = expand(parsed.components, *WIDE, ZoneInfo("Europe/Paris"))
    assert event.all_day
    assert event.start == datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/Paris"))
    assert event.end - event.start == timedelta(days=1)


def test_garbage_is_a_failure_not_an_exception() -> None:
    assert parse_ics(b"\x00\xff not a calendar").failures
    assert parse_ics("BEGIN:VCALENDAR\r\nX\r\nEND:VCALENDAR").failures
