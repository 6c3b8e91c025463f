"""Turn the date phrases people and small models write into concrete local time ranges.

``resolve_range("next week", now)`` → (Monday 00:00, next Monday 00:00) in the user's zone.
Accepted: ISO dates/datetimes, "today", "tomorrow", "yesterday", "this/next/last week",
"this/next month", weekday names ("thursday", "next friday"), "19 Nov", "Nov 19 2026",
"December", with optional "morning"/"afternoon"/"evening" and "at 2pm"/"14:00".
Anything else raises :class:`core.errors.InputError` with the formats that work, so a model that
wrote nonsense gets a message it can act on.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from core.errors import InputError

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WD = {name: i for i, name in enumerate(WEEKDAYS)} | {n[:3]: i for i, n in enumerate(WEEKDAYS)}
MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip
_MON = {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
_MON["sept"] = 9
_PARTS = {"morning": (time(8), time(12)), "afternoon": (time(12), time(17)),
          "evening": (time(17), time(21)), "tonight": (time(17), time(23, 59))}  # fmt: skip
_TIME_RE = re.compile(
    r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b|\b(?:at\s+)?(\d{1,2}):(\d{2})\b"
)
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\.?(?:\s+(\d{4}))?\b")
_MONTH_DAY = re.compile(r"\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2}))?")


def _day_start(d: date, tz: tzinfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz)


def find_time_of_day(text: str) -> time | None:
    """A clock time in ``text`` ("2pm", "at 14:30", "10:00 am"), or None."""
    m = _TIME_RE.search(text.lower())
    if m is None:
        return None
    if m.group(1):
        hour, minute, ampm = int(m.group(1)), int(m.group(2) or 0), m.group(3)
        if hour > 12 or minute > 59:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    else:
        hour, minute = int(m.group(4)), int(m.group(5))
        if hour > 23 or minute > 59:
            return None
    return time(hour, minute)


def find_date(text: str, now: datetime) -> date | None:
    """The first calendar date mentioned in ``text`` (relative words resolved against ``now``)."""
    t = text.lower()
    today = now.date()
    if m := _ISO_DATE.search(t):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if re.search(r"\btoday\b|\btonight\b|\bthis (morning|afternoon|evening)\b", t):
        return today
    if re.search(r"\btomorrow\b", t):
        return today + timedelta(days=1)
    if re.search(r"\byesterday\b", t):
        return today - timedelta(days=1)
    for rx, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        for m in rx.finditer(t):
            day_s, mon_s = (m.group(1), m.group(2)) if day_first else (m.group(2), m.group(1))
            month = _MON.get(mon_s)
            if month is None:
                continue
            year = int(m.group(3)) if m.group(3) else today.year
            try:
                found = date(year, month, int(day_s))
            except ValueError:
                continue
            # "Jan 12" said in late November means next January.
            if not m.group(3) and (today - found).days > 180:
                found = found.replace(year=year + 1)
            return found
    if m := re.search(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b", t):
        # "the 15th": the next day with that number (this month, or next if it has passed).
        day = int(m.group(1))
        year, month = today.year, today.month
        if day < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        try:
            return date(year, month, day)
        except ValueError:
            pass
    if m := re.search(r"\b(next|this|coming|last)?\s*(" + "|".join(_WD) + r")\b", t):
        target = _WD[m.group(2)]
        delta = (target - today.weekday()) % 7
        if m.group(1) == "last":
            delta = delta - 7 if delta else -7
        elif m.group(1) == "next" and delta == 0:
            delta = 7
        return today + timedelta(days=delta)
    return None


def resolve_range(text: str, now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """A phrase → [start, end) in ``tz``. See the module docstring for what is understood."""
    t = " ".join(text.lower().split())
    local_now = now.astimezone(tz)
    today = local_now.date()
    if not t:
        raise InputError("empty date phrase")
    if m := _ISO_DATE.fullmatch(t.strip()):
        start = _day_start(date(int(m.group(1)), int(m.group(2)), int(m.group(3))), tz)
        if m.group(4):
            start = start.replace(hour=int(m.group(4)), minute=int(m.group(5)))
            return start, start + timedelta(hours=1)
        return start, start + timedelta(days=1)
    week_start = today - timedelta(days=today.weekday())
    if re.search(r"\b(this|current) week\b", t):
        return _day_start(week_start, tz), _day_start(week_start + timedelta(days=7), tz)
    if re.search(r"\b(next|coming) week\b", t):
        s = week_start + timedelta(days=7)
        return _day_start(s, tz), _day_start(s + timedelta(days=7), tz)
    if re.search(r"\blast week\b", t):
        s = week_start - timedelta(days=7)
        return _day_start(s, tz), _day_start(week_start, tz)
    if m := re.search(r"\b(this|next) month\b", t):
        first = today.replace(day=1)
        if m.group(1) == "next":
            first = (first + timedelta(days=32)).replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return _day_start(first, tz), _day_start(nxt, tz)
    if re.search(r"\b(upcoming|coming up|soon|next few days)\b", t):
        return local_now, local_now + timedelta(days=14)
    d = find_date(t, local_now)
    if d is None:
        if m := re.fullmatch(r"(?:in\s+)?(" + "|".join(_MON) + r")(?:\s+(\d{4}))?", t):
            year = int(m.group(2)) if m.group(2) else today.year
            first = date(year, _MON[m.group(1)], 1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            return _day_start(first, tz), _day_start(nxt, tz)
        raise InputError(
            f"could not understand the date {text!r}; use YYYY-MM-DD, 'today', 'tomorrow', "
            "'this week', 'next week', a weekday name or '19 Nov'"
        )
    start, end = _day_start(d, tz), _day_start(d + timedelta(days=1), tz)
    for part, (a, b) in _PARTS.items():
        if part in t:
            return datetime.combine(d, a, tzinfo=tz), datetime.combine(d, b, tzinfo=tz)
    return start, end


def parse_when(
    value: str | None, now: datetime, tz: tzinfo, *, end: bool = False
) -> datetime | None:
    """One bound of a range: the start (or, with ``end``, the end) of what ``value`` names."""
    if value is None or not str(value).strip():
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        lo, hi = resolve_range(str(value), now, tz)
        return hi if end else lo
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    if end and len(str(value).strip()) == 10:  # a bare date as an end bound includes that day
        parsed += timedelta(days=1)
    return parsed
