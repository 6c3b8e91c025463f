"""Parse iCalendar data into storable components and expand them into :class:`Event`s.

Storage keeps one row per VEVENT (a series master or one overridden occurrence) with its raw
text and the VTIMEZONEs it references, so recurrence is expanded at query time: the stored data
never goes stale when a window moves, and time-zone rules are applied as the sender wrote them.

Nothing here raises on bad input: :func:`parse_ics` returns what it could read plus a list of
``(where, reason)`` failures that callers quarantine.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from core.types import Attendee, Event
from retrieval.sources.calendar.tz import UTC, to_aware, to_utc

#: Properties whose TZID parameter pulls a VTIMEZONE into a stored component.
_TZ_PROPS = ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE")
#: Slack around a series' computed bounds: floating times may sit up to 14 h either side of UTC.
_SLACK = timedelta(days=1)
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)

Failure = tuple[str, str]
log = logging.getLogger(__name__)


@dataclass(slots=True)
class CalendarComponent:
    """One VEVENT ready to store: a series master (``recurrence_key == ""``) or an override."""

    uid: str
    recurrence_key: str
    ics: str
    timezones: str
    sequence: int = 0
    dtstamp: datetime | None = None
    status: str = "CONFIRMED"
    method: str | None = None
    #: UTC bounds of everything the series can produce; ``range_end is None`` = open-ended.
    range_start: datetime | None = None
    range_end: datetime | None = None
    organizer: str | None = None
    attendees: list[Attendee] = field(default_factory=list)


@dataclass(slots=True)
class ParsedCalendar:
    """Result of :func:`parse_ics`: components that parsed and the ones quarantined."""

    components: list[CalendarComponent] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    method: str | None = None


def clean_address(value: object) -> str:
    """``mailto:Jane@Example.com`` -> ``jane@example.com``."""
    return _MAILTO.sub("", str(value)).strip().lower()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(comp: Any, name: str, default: str = "") -> str:
    value = comp.get(name)
    if value is None:
        return default
    if isinstance(value, list):  # repeated property (non-standard, e.g. two DESCRIPTIONs)
        value = value[0]
    return str(value)


def _dt(comp: Any, name: str) -> date | datetime | None:
    """The date/datetime of a property, ``None`` when absent or broken (icalendar raises then)."""
    prop = comp.get(name)
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    try:
        value = getattr(prop, "dt", None)
    except Exception:  # noqa: BLE001 - icalendar raises its own error types on broken values
        return None
    return value if isinstance(value, date) else None


def recurrence_key(value: date | datetime | None) -> str:
    """Stable text key for a RECURRENCE-ID ("" for the series master)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def attendees_of(comp: Any) -> list[Attendee]:
    """ATTENDEE properties as :class:`Attendee` (address, CN, PARTSTAT, ROLE)."""
    result = []
    for att in _as_list(comp.get("ATTENDEE")):
        params = getattr(att, "params", {})
        result.append(
            Attendee(
                email=clean_address(att),
                name=str(params.get("CN", "")),
                partstat=str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
                role=str(params.get("ROLE", "REQ-PARTICIPANT")).upper(),
            )
        )
    return result


def _duration(comp: Any, start: date | datetime) -> timedelta:
    end = _dt(comp, "DTEND")
    if end is not None:
        if isinstance(start, datetime) and isinstance(end, datetime):
            if (start.tzinfo is None) != (end.tzinfo is None):
                return to_aware(end, UTC) - to_aware(start, UTC)
            return end - start
        if not isinstance(start, datetime) and not isinstance(end, datetime):
            return end - start
        return to_aware(end, UTC) - to_aware(start, UTC)
    dur = comp.get("DURATION")
    if dur is not None and isinstance(getattr(dur, "dt", None), timedelta):
        return dur.dt  # type: ignore[no-any-return]
    # RFC 5545 3.6.1: a DATE start without end lasts one day, a DATE-TIME start is instant.
    return timedelta(0) if isinstance(start, datetime) else timedelta(days=1)


def _series_range(comp: Any, start: date | datetime) -> tuple[datetime, datetime | None]:
    """UTC window that contains every occurrence; raises ValueError on an unusable RRULE."""
    from dateutil.rrule import rrulestr

    first = to_utc(start)
    duration = max(_duration(comp, start), timedelta(0))
    last = first
    for rule in _as_list(comp.get("RRULE")):
        if "UNTIL" not in rule and "COUNT" not in rule:
            return first - _SLACK, None
        if "UNTIL" in rule:
            last = max(last, to_utc(rule["UNTIL"][0]))
            continue
        # COUNT only: let dateutil enumerate in local wall time (offsets do not matter here,
        # the slack absorbs them).
        naive = start.replace(tzinfo=None) if isinstance(start, datetime) else start
        text = rule.to_ical().decode()
        occurrences = list(rrulestr(text, dtstart=naive))
        if occurrences:
            last = max(last, to_utc(occurrences[-1]))
    for rdate in _as_list(comp.get("RDATE")):
        for item in getattr(rdate, "dts", []):
            value = item.dt
            if isinstance(value, tuple):  # PERIOD: (start, end or duration)
                value = value[0]
            if isinstance(value, date):
                last = max(last, to_utc(value))
    return first - _SLACK, last + duration + _SLACK


def _referenced_tzids(comp: Any) -> set[str]:
    tzids: set[str] = set()
    for name in _TZ_PROPS:
        for prop in _as_list(comp.get(name)):
            tzid = getattr(prop, "params", {}).get("TZID")
            if tzid:
                tzids.add(str(tzid))
    return tzids


def _synthetic_uid(raw: bytes) -> str:
    return "mailmind-" + hashlib.sha256(raw).hexdigest()[:24]


def _prepare_text(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff")
    # Some exports (and icalendar's own test files) hold bare VEVENTs without a VCALENDAR.
    if "BEGIN:VCALENDAR" not in text.upper() and "BEGIN:VEVENT" in text.upper():
        text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{text.strip()}\r\nEND:VCALENDAR\r\n"
    upper = text.upper()
    missing = upper.count("BEGIN:VCALENDAR") - upper.count("END:VCALENDAR")
    if missing > 0:  # truncated file: icalendar silently drops an unterminated calendar
        text = text.rstrip("\r\n") + "\r\nEND:VCALENDAR" * missing + "\r\n"
    return text


def _calendars(text: str) -> list[Any]:
    import icalendar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(icalendar.Calendar.from_ical(text, multiple=True))


@lru_cache(maxsize=4096)
def _parsed_series(text: str) -> Any:
    """One series' calendar, parsed once per distinct text: every calendar question and chip
    expands the same stored events, and parsing is most of the cost (~7 ms an event). Callers
    only read it (expansion copies what it returns)."""
    return _calendars(text)[0]


def parse_ics(data: bytes | str, source: str = "<ics>") -> ParsedCalendar:
    """Parse iCalendar text into storable components; never raises on bad data.

    ``source`` names the input in failure records (``source`` or ``source#UID``).
    """
    result = ParsedCalendar()
    try:
        calendars = _calendars(_prepare_text(data))
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError, KeyError, ... on broken input
        result.failures.append((source, f"unparseable iCalendar: {type(exc).__name__}: {exc}"))
        return result
    if not calendars:
        result.failures.append((source, "no iCalendar component found"))
        return result
    for cal in calendars:
        _collect(cal, source, result)
    return result


def parse_jcal(data: bytes | str, source: str = "<jcal>") -> ParsedCalendar:
    """Parse jCal (RFC 7265, iCalendar as JSON) the same way as :func:`parse_ics`."""
    import icalendar

    result = ParsedCalendar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = icalendar.Calendar.from_jcal(
                data.decode("utf-8") if isinstance(data, bytes) else data
            )
    except Exception as exc:  # noqa: BLE001 - quarantine boundary
        result.failures.append((source, f"unparseable jCal: {type(exc).__name__}: {exc}"))
        return result
    for item in _as_list(cal):
        _collect(item, source, result)
    return result


def _collect(cal: Any, source: str, result: ParsedCalendar) -> None:
    method = _text(cal, "METHOD").upper() or None
    result.method = result.method or method
    timezones = {str(tz.get("TZID")): tz.to_ical().decode() for tz in cal.walk("VTIMEZONE")}
    for vevent in cal.walk("VEVENT"):
        comp, failure = _component(vevent, timezones, method, source)
        if failure is not None:
            result.failures.append(failure)
        elif comp is not None:
            result.components.append(comp)


def _component(
    vevent: Any, timezones: dict[str, str], method: str | None, source: str
) -> tuple[CalendarComponent | None, Failure | None]:
    try:
        raw = vevent.to_ical()
        uid = _text(vevent, "UID").strip() or _synthetic_uid(raw)
        where = f"{source}#{uid}"
        start = _dt(vevent, "DTSTART")
        if start is None and method not in ("CANCEL", "REPLY"):
            return None, (where, "VEVENT has no usable DTSTART")
        range_start: datetime | None = None
        range_end: datetime | None = None
        if start is not None:
            range_start, range_end = _series_range(vevent, start)
            rid = _dt(vevent, "RECURRENCE-ID")
            if rid is not None:  # an override also blocks its original slot's lookups
                range_start = min(range_start, to_utc(rid) - _SLACK)
                if range_end is not None:
                    range_end = max(range_end, to_utc(rid) + _SLACK)
        stamp = _dt(vevent, "DTSTAMP")
        seq_text = _text(vevent, "SEQUENCE", "0").strip()
        organizer = vevent.get("ORGANIZER")
        tz_text = "".join(timezones[t] for t in sorted(_referenced_tzids(vevent)) if t in timezones)
        comp = CalendarComponent(
            uid=uid,
            recurrence_key=recurrence_key(_dt(vevent, "RECURRENCE-ID")),
            ics=raw.decode("utf-8", errors="replace"),
            timezones=tz_text,
            sequence=int(seq_text) if seq_text.lstrip("-").isdigit() else 0,
            dtstamp=to_utc(stamp) if stamp is not None else None,
            status=_text(vevent, "STATUS", "CONFIRMED").upper(),
            method=method,
            range_start=range_start,
            range_end=range_end,
            organizer=clean_address(organizer) if organizer else None,
            attendees=attendees_of(vevent),
        )
        if range_start is not None:
            # Expand once now so that a series recurring-ical-events cannot handle is
            # quarantined at ingest instead of failing every later query.
            expand([comp], range_start, range_start + 3 * _SLACK, strict=True)
        return comp, None
    except Exception as exc:  # noqa: BLE001 - a broken RRULE, an impossible date, ...
        uid = _text(vevent, "UID") or "?"
        return None, (f"{source}#{uid}", f"unusable VEVENT: {type(exc).__name__}: {exc}")


def component_to_event(
    comp: Any,
    tz: tzinfo = UTC,
    *,
    calendar: str | None = None,
    method: str | None = None,
    message_id: str | None = None,
    rrule: str | None = None,
) -> Event:
    """Convert one VEVENT (or one expanded occurrence) into an :class:`Event`.

    Floating times and all-day dates are placed in ``tz``; aware times keep their zone.
    """
    start_raw = _dt(comp, "DTSTART")
    if start_raw is None:
        raise ValueError("VEVENT has no DTSTART")
    all_day = not isinstance(start_raw, datetime)
    start = to_aware(start_raw, tz)
    end = start + _duration(comp, start_raw)
    end = max(end, start)  # DTEND before DTSTART is invalid: an instant, not a negative span
    organizer = comp.get("ORGANIZER")
    rid = _dt(comp, "RECURRENCE-ID")
    rules = _as_list(comp.get("RRULE"))
    return Event(
        uid=_text(comp, "UID"),
        summary=_text(comp, "SUMMARY"),
        start=start,
        end=end,
        all_day=all_day,
        description=_text(comp, "DESCRIPTION"),
        location=_text(comp, "LOCATION"),
        organizer=clean_address(organizer) if organizer else None,
        attendees=attendees_of(comp),
        status=_text(comp, "STATUS", "CONFIRMED").upper(),
        transparency=_text(comp, "TRANSP", "OPAQUE").upper(),
        recurrence_id=to_aware(rid, tz) if rid is not None else None,
        rrule=rrule or (rules[0].to_ical().decode() if rules else None),
        calendar=calendar,
        message_id=message_id,
        method=method,
    )


def build_calendar_text(components: Iterable[CalendarComponent]) -> str:
    """One VCALENDAR holding the components and each needed VTIMEZONE once."""
    comps = list(components)
    seen: set[str] = set()
    tz_blocks = []
    for comp in comps:
        for block in _split_vtimezones(comp.timezones):
            if block not in seen:
                seen.add(block)
                tz_blocks.append(block)
    body = "".join(tz_blocks) + "".join(c.ics for c in comps)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailmind//EN\r\n{body}END:VCALENDAR\r\n"


def _split_vtimezones(text: str) -> Iterator[str]:
    for match in re.finditer(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r?\n?", text, re.S):
        yield match.group(0)


def expand(
    components: Iterable[CalendarComponent],
    start: datetime,
    end: datetime,
    tz: tzinfo = UTC,
    *,
    calendar: str | None = None,
    strict: bool = False,
) -> list[Event]:
    """Occurrences of one series (master + overrides, same UID) overlapping ``[start, end)``.

    A series that cannot be expanded yields ``[]`` and a log line, so one bad event never
    breaks a query; ``strict=True`` raises instead (used at ingest to quarantine it).
    """
    comps = list(components)
    if not comps:
        return []
    try:
        return _expand(comps, start, end, tz, calendar)
    except Exception:
        if strict:
            raise
        log.warning("cannot expand event %s; skipped", comps[0].uid, exc_info=True)
        return []


def _expand(
    comps: list[CalendarComponent],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    calendar: str | None,
) -> list[Event]:
    import recurring_ical_events

    cal = _parsed_series(build_calendar_text(comps))
    master_rrule = None
    for vevent in cal.walk("VEVENT"):
        rules = _as_list(vevent.get("RRULE"))
        if rules and vevent.get("RECURRENCE-ID") is None:
            master_rrule = rules[0].to_ical().decode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        query = recurring_ical_events.of(cal, skip_bad_series=True)
        occurrences = list(query.between(start.astimezone(tz), end.astimezone(tz)))
    return [component_to_event(o, tz, calendar=calendar, rrule=master_rrule) for o in occurrences]
