"""Find free time in a user's calendar (and, where known, in other people's).

Busy time comes from expanded events:

- ``STATUS:CANCELLED`` and ``TRANSP:TRANSPARENT`` events never block (RFC 5545 3.8.2.7).
- All-day events block the whole local day unless transparent.
- ``STATUS:TENTATIVE`` events are *soft* conflicts: a slot overlapping one is still offered,
  but after every conflict-free slot, with the tentative events named.
- Other people (``attendees``): mailmind has no access to their calendars, so their busy time is
  what the user's own store knows — events where the address is ORGANIZER or ATTENDEE. An
  ACCEPTED attendee (or the organizer) is busy, TENTATIVE / NEEDS-ACTION is a soft conflict,
  DECLINED is free.

Ranking (documented contract, the list is returned best first):

1. slots without soft conflicts before slots with them (fewer first);
2. earlier days first ("as soon as possible" is what people usually mean);
3. within a day, starts closest to mid-morning (10:00 local) first — the time most people
   prefer for meetings, away from the day's edges and lunch;
4. then chronological.

Returned slots never overlap each other and at most ``per_day`` come from one day, so a short
list still offers real alternatives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from core.errors import InputError
from core.types import Event
from retrieval.sources.calendar.parse import clean_address
from retrieval.sources.calendar.tz import get_zone

if TYPE_CHECKING:
    from retrieval.store.calendar import CalendarStore

_PREFERRED = time(10, 0)


@dataclass(slots=True, frozen=True)
class WorkingHours:
    """Local working day: ``start``-``end`` on ``weekdays`` (Monday = 0)."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})


@dataclass(slots=True, frozen=True)
class Busy:
    """One blocking interval; ``soft`` ones (tentative) only lower a slot's rank."""

    start: datetime
    end: datetime
    soft: bool
    uid: str
    summary: str
    who: str = ""
    #: Shown as free (TRANSP:TRANSPARENT, e.g. a public holiday): never blocks, but worth saying.
    transparent: bool = False


@dataclass(slots=True)
class FreeSlot:
    """A proposed meeting time; ``tentative_conflicts`` names overlapping tentative events."""

    start: datetime
    end: datetime
    tentative_conflicts: list[str] = field(default_factory=list)


def busy_from_events(
    events: Iterable[Event], *, who: str = "", user_emails: Iterable[str] = ()
) -> list[Busy]:
    """Busy intervals of the user's own events (cancelled/transparent/declined are skipped)."""
    mine = {clean_address(e) for e in user_emails}
    result = []
    for event in events:
        if event.status == "CANCELLED" or event.transparency == "TRANSPARENT":
            continue
        partstats = {a.partstat for a in event.attendees if a.email in mine}
        if partstats and partstats <= {"DECLINED"}:
            continue
        # The user's own tentative answer softens a confirmed meeting too.
        answered_tentative = "TENTATIVE" in partstats and "ACCEPTED" not in partstats
        soft = event.status == "TENTATIVE" or answered_tentative
        result.append(Busy(event.start, event.end, soft, event.uid, event.summary, who))
    return result


def busy_of_person(events: Iterable[Event], email: str) -> list[Busy]:
    """Busy intervals of another person, from events they organize or attend."""
    address = clean_address(email)
    result = []
    for event in events:
        if event.status == "CANCELLED" or event.transparency == "TRANSPARENT":
            continue
        if event.organizer == address:
            partstat = "ACCEPTED"
        else:
            found = [a.partstat for a in event.attendees if a.email == address]
            if not found:
                continue
            partstat = found[0]
        if partstat == "DECLINED":
            continue
        soft = event.status == "TENTATIVE" or partstat != "ACCEPTED"
        result.append(Busy(event.start, event.end, soft, event.uid, event.summary, address))
    return result


def _days(start: datetime, end: datetime, tz: tzinfo) -> Iterable[date]:
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def free_slots(
    busy: Iterable[Busy],
    duration: timedelta,
    window: tuple[datetime, datetime],
    working_hours: WorkingHours | None = None,
    tz: str | tzinfo | None = None,
    *,
    step: timedelta = timedelta(minutes=30),
    limit: int = 5,
    per_day: int = 3,
) -> list[FreeSlot]:
    """Rank free slots of ``duration`` inside ``window`` and working hours (pure function)."""
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("the window must use timezone-aware datetimes")
    if duration <= timedelta(0) or step <= timedelta(0):
        raise InputError("duration and step must be positive")
    if end <= start:
        raise InputError("the window ends before it starts")
    zone = get_zone(tz)
    hours = working_hours or WorkingHours()
    intervals = sorted(busy, key=lambda b: b.start)
    candidates: list[tuple[tuple[int, int, float, datetime], FreeSlot, date]] = []
    for day_index, day in enumerate(_days(start, end, zone)):
        if day.weekday() not in hours.weekdays:
            continue
        day_start = datetime.combine(day, hours.start, tzinfo=zone)
        day_end = datetime.combine(day, hours.end, tzinfo=zone)
        slot = day_start
        while slot < max(start, day_start):  # align to the step grid of the working day
            slot += step
        preferred = datetime.combine(day, _PREFERRED, tzinfo=zone)
        while slot + duration <= min(end, day_end):
            slot_end = slot + duration
            overlapping = [b for b in intervals if b.start < slot_end and b.end > slot]
            if not any(not b.soft for b in overlapping):
                soft = sorted({b.summary or b.uid for b in overlapping})
                distance = abs((slot - preferred).total_seconds()) / 60
                key = (len(soft), day_index, distance, slot)
                candidates.append((key, FreeSlot(slot, slot_end, soft), day))
            slot += step
    candidates.sort(key=lambda c: c[0])
    chosen: list[FreeSlot] = []
    per_day_count: dict[date, int] = {}
    for _key, candidate, day in candidates:
        if per_day_count.get(day, 0) >= per_day:
            continue
        if any(c.start < candidate.end and c.end > candidate.start for c in chosen):
            continue
        chosen.append(candidate)
        per_day_count[day] = per_day_count.get(day, 0) + 1
        if len(chosen) >= limit:
            break
    return chosen


def find_free_time(
    store: CalendarStore,
    user: str,
    duration: timedelta,
    window: tuple[datetime, datetime],
    working_hours: WorkingHours | None = None,
    tz: str | tzinfo | None = None,
    attendees: Iterable[str] | None = None,
    *,
    user_emails: Iterable[str] = (),
    own_calendars: Iterable[str] | None = None,
    step: timedelta = timedelta(minutes=30),
    limit: int = 5,
    per_day: int = 3,
) -> list[FreeSlot]:
    """Free slots for ``user`` (and ``attendees``, as far as the store knows them), best first.

    ``user_emails`` are the user's own addresses: events they declined do not block.
    ``own_calendars`` limits the user's own busy time to those calendars (default: all), for
    stores that also hold colleagues' shared calendars. See the module docstring for what
    counts as busy and how slots are ranked.
    """
    zone = get_zone(tz)
    start, end = window
    # Widen by a day so all-day and long events that started before the window still block.
    events = store.events_between(user, start - timedelta(days=1), end, tz=zone)
    own = set(own_calendars) if own_calendars is not None else None
    busy = busy_from_events(
        [e for e in events if own is None or e.calendar in own], user_emails=user_emails
    )
    people = [clean_address(a) for a in attendees or []]
    if people:
        uids_by_person = store.uids_with_people(user, people)
        for person in people:
            uids = uids_by_person.get(person, set())
            mine = [e for e in events if e.uid in uids]
            busy.extend(busy_of_person(mine, person))
    return free_slots(
        busy, duration, window, working_hours, zone, step=step, limit=limit, per_day=per_day
    )


def free_ranges(
    busy: Iterable[Busy],
    window: tuple[datetime, datetime],
    working_hours: WorkingHours | None = None,
    tz: str | tzinfo | None = None,
    *,
    min_duration: timedelta = timedelta(minutes=15),
) -> list[tuple[datetime, datetime]]:
    """The free stretches of each working day in ``window`` (hard busy time removed), at least
    ``min_duration`` long, in time order.

    Unlike :func:`free_slots` these are not aligned to a grid: a meeting that ends at 9:45
    leaves the user free from 9:45, which is what "when am I free on Monday" asks."""
    start, end = window
    zone = get_zone(tz)
    hours = working_hours or WorkingHours()
    hard = sorted((b for b in busy if not b.soft), key=lambda b: b.start)
    out: list[tuple[datetime, datetime]] = []
    for day in _days(start, end, zone):
        if day.weekday() not in hours.weekdays:
            continue
        lo = max(start, datetime.combine(day, hours.start, tzinfo=zone))
        hi = min(end, datetime.combine(day, hours.end, tzinfo=zone))
        cursor = lo
        for b in hard:
            if b.end <= cursor or b.start >= hi:
                continue
            if b.start - cursor >= min_duration:
                out.append((cursor, b.start))
            cursor = max(cursor, b.end)
        if hi - cursor >= min_duration:
            out.append((cursor, hi))
    return out


def busy_between(
    store: CalendarStore,
    user: str,
    window: tuple[datetime, datetime],
    tz: str | tzinfo | None = None,
    *,
    user_emails: Iterable[str] = (),
) -> list[Busy]:
    """The user's own busy intervals overlapping ``window`` (any hour, not only working hours),
    in time order: what a free-time answer names as the reason a time is taken."""
    zone = get_zone(tz)
    start, end = window
    events = store.events_between(user, start - timedelta(days=1), end, tz=zone)
    busy = busy_from_events(events, user_emails=user_emails)
    busy += [
        Busy(e.start, e.end, True, e.uid, e.summary, transparent=True)
        for e in events
        if e.transparency == "TRANSPARENT" and e.status != "CANCELLED"
    ]
    return sorted((b for b in busy if b.start < end and b.end > start), key=lambda b: b.start)
