"""find_free_time: all-day, tentative, cancelled, transparent, recurrence, attendees, ranking."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import InputError
from retrieval.sources.calendar.parse import parse_ics
from retrieval.store.calendar import CalendarStore
from retrieval.store.freetime import (
    Busy,
    WorkingHours,
    busy_between,
    find_free_time,
    free_ranges,
    free_slots,
)

TZ = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def _event(uid: str, start: str, end: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n"
        f"DTEND;TZID=Europe/Berlin:{end}\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\n"
    )


def _load(store: CalendarStore, *vevents: str, calendar: str = "work") -> None:
    text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "".join(vevents) + "END:VCALENDAR\r\n"
    parsed = parse_ics(text)
    assert not parsed.failures
    store.replace_source("u", f"file:{calendar}", parsed.components, calendar=calendar)


# Monday 2024-03-04 .. Friday 2024-03-08, Berlin (CET).
WEEK = (datetime(2024, 3, 4, tzinfo=TZ), datetime(2024, 3, 9, tzinfo=TZ))
MONDAY = (datetime(2024, 3, 4, tzinfo=TZ), datetime(2024, 3, 5, tzinfo=TZ))


def _starts(slots: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    return [(s.start.astimezone(TZ).day, s.start.astimezone(TZ).hour) for s in slots]


def test_empty_calendar_prefers_mid_morning_of_the_first_day(store: CalendarStore) -> None:
    slots = find_free_time(store, "u", HOUR, MONDAY, tz=TZ)
    assert _starts(slots)[:1] == [(4, 10)]
    assert len(slots) == 3  # per_day cap on a one-day window
    assert all(
        not (a.start < b.end and b.start < a.end) for a in slots for b in slots if a is not b
    )


def test_all_day_event_blocks_unless_transparent(store: CalendarStore) -> None:
    allday = (
        "BEGIN:VEVENT\r\nUID:off\r\nDTSTART;VALUE=DATE:20240304\r\nSUMMARY:Off\r\nEND:VEVENT\r\n"
    )
    _load(store, allday)
    assert find_free_time(store, "u", HOUR, MONDAY, tz=TZ) == []
    _load(store, allday.replace("SUMMARY", "TRANSP:TRANSPARENT\r\nSUMMARY"))
    assert len(find_free_time(store, "u", HOUR, MONDAY, tz=TZ)) == 3


def test_recurring_busy_cancelled_and_tentative(store: CalendarStore) -> None:
    _load(
        store,
        # Daily 09:00-12:00 and 13:00-17:00 leave only 12:00-13:00 free each day.
        _event("am", "20240304T090000", "20240304T120000", "RRULE:FREQ=DAILY;COUNT=5\r\n"),
        _event("pm", "20240304T130000", "20240304T170000", "RRULE:FREQ=DAILY;COUNT=5\r\n"),
        # Monday's lunch is tentatively taken, Tuesday's by a cancelled meeting.
        _event("maybe", "20240304T120000", "20240304T130000", "STATUS:TENTATIVE\r\n"),
        _event("gone", "20240305T120000", "20240305T130000", "STATUS:CANCELLED\r\n"),
    )
    slots = find_free_time(store, "u", HOUR, WEEK, tz=TZ, limit=10)
    # Conflict-free days first (Tue..Fri at 12:00), the tentative Monday slot last.
    assert _starts(slots) == [(5, 12), (6, 12), (7, 12), (8, 12), (4, 12)]
    assert slots[-1].tentative_conflicts == ["maybe"]
    assert all(s.tentative_conflicts == [] for s in slots[:-1])


def test_attendees_busy_time_from_known_events(store: CalendarStore) -> None:
    attendee = "ATTENDEE;PARTSTAT={}:mailto:dana@example.com\r\n"
    _load(
        store,
        _event("d1", "20240304T090000", "20240304T120000", attendee.format("ACCEPTED")),
        _event("d2", "20240304T130000", "20240304T170000", attendee.format("DECLINED")),
        calendar="shared-with-dana",
    )
    # The events are in a calendar the user does not own: only Dana is busy 09-12.
    slots = find_free_time(
        store,
        "u",
        HOUR,
        MONDAY,
        tz=TZ,
        attendees=["Dana@example.com"],
        own_calendars=["work"],
        limit=10,
        per_day=10,
    )
    assert all(s.start.astimezone(TZ).hour >= 12 for s in slots)
    assert any(s.start.astimezone(TZ).hour == 13 for s in slots)  # she declined 13-17


def test_working_hours_weekend_and_dst() -> None:
    # Window over the March 31 2024 DST change: Sat/Sun skipped, Monday 09:00 is CEST (UTC+2).
    window = (datetime(2024, 3, 30, tzinfo=TZ), datetime(2024, 4, 2, tzinfo=TZ))
    hours = WorkingHours(start=time(9), end=time(10))
    (slot,) = free_slots([], HOUR, window, hours, TZ)
    assert slot.start == datetime(2024, 4, 1, 9, tzinfo=TZ)
    assert slot.start.utcoffset() == timedelta(hours=2)


def test_invalid_arguments() -> None:
    with pytest.raises(InputError):
        free_slots([], HOUR, (datetime(2024, 1, 2), datetime(2024, 1, 3)))
    with pytest.raises(InputError):
        free_slots([], -HOUR, MONDAY)


def test_free_ranges_are_off_grid_and_skip_soft_busy() -> None:
    at = lambda h, m=0: datetime(2024, 3, 4, h, m, tzinfo=TZ)  # noqa: E731
    busy = [
        Busy(at(9), at(9, 45), False, "standup", "Standup"),
        Busy(at(12), at(13), False, "lunch", "Lunch"),
        Busy(at(14), at(15), True, "maybe", "Maybe"),  # tentative: does not take the time
        Busy(at(16, 50), at(18), False, "late", "Late"),
    ]
    ranges = free_ranges(busy, MONDAY, tz=TZ)
    assert [(a.hour, a.minute, b.hour, b.minute) for a, b in ranges] == [
        (9, 45, 12, 0),
        (13, 0, 16, 50),
    ]
    # Shorter than the minimum: the 10 minutes before 17:00 are gone, and so is a 10-minute gap.
    tight = [*busy, Busy(at(9, 45), at(11, 55), False, "x", "X")]
    ranges = free_ranges(tight, MONDAY, tz=TZ, min_duration=timedelta(minutes=15))
    assert (ranges[0][0].hour, ranges[0][0].minute) == (13, 0)


def test_busy_between_names_holidays_marked_free(store: CalendarStore) -> None:
    _load(
        store,
        _event("meeting", "20240304T100000", "20240304T110000"),
        "BEGIN:VEVENT\r\nUID:holiday\r\nDTSTART;VALUE=DATE:20240304\r\n"
        "DTEND;VALUE=DATE:20240305\r\nSUMMARY:Holiday\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
        _event("cancelled", "20240304T120000", "20240304T130000", "STATUS:CANCELLED\r\n"),
    )
    busy = busy_between(store, "u", MONDAY, TZ)
    assert {b.uid: b.transparent for b in busy} == {"holiday": True, "meeting": False}
    # Marked free: the holiday never takes working time.
    assert free_ranges(busy, MONDAY, tz=TZ)[0][0].hour == 9
