"""Find a proposed meeting time in a message ("Thursday 19 Nov at 2pm", "tomorrow at 10").

Hand-written patterns rather than ``dateutil.parser.parse(fuzzy=True)``: fuzzy parsing happily
reads "7 of 20 units" as a date and cannot say *which* phrase was a meeting time. Here a date
phrase (absolute, weekday or relative) is paired with the nearest time-of-day phrase within a
short distance, and only passages with a meeting cue ("meet", "call", "lunch", "free", ...) count.
Dates resolve relative to the message date in the user's zone; ``dateutil.relativedelta`` does
the weekday arithmetic. Times before the message date are ignored (reports of past events).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta, weekday

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_WEEKDAYS: dict[str, weekday] = {
    "mon": MO, "monday": MO, "tue": TU, "tues": TU, "tuesday": TU, "wed": WE, "wednesday": WE,
    "thu": TH, "thur": TH, "thurs": TH, "thursday": TH, "fri": FR, "friday": FR,
    "sat": SA, "saturday": SA, "sun": SU, "sunday": SU,
}  # fmt: skip
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))

_DATE = re.compile(
    rf"\b(?:(?P<rel>today|tonight|tomorrow)"
    rf"|(?P<iso>(?P<iy>\d{{4}})-(?P<im>\d{{2}})-(?P<id>\d{{2}}))"
    rf"|(?:(?P<next>next|this|on)\s+)?(?P<wd>{_WEEKDAY_RE})\.?"
    rf"(?:,?\s+(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH_RE})\.?"
    rf"|(?P<m2>{_MONTH_RE})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?))?"
    rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m3>{_MONTH_RE})\b\.?"
    rf"|(?P<m4>{_MONTH_RE})\.?\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?\b)"
    rf"(?:,?\s+(?P<year>20\d\d))?",
    re.I,
)
_TIME = re.compile(
    r"\b(?:(?P<noon>noon|midday)"
    r"|(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?\s*(?P<ap>a\.?m\.?|p\.?m\.?)"
    r"|(?P<h24>[01]?\d|2[0-3]):(?P<mi24>[0-5]\d)"
    r"|(?:at|@)\s+(?P<hb>\d{1,2})(?![\d:.,/%]|\s*(?:of|units?|people|percent|am|pm|a\.m|p\.m)\b))"
    r"(?:\s*(?:-|–|to|until)\s*(?P<eh>\d{1,2})(?::(?P<emi>\d{2}))?\s*(?P<eap>a\.?m\.?|p\.?m\.?)?)?",
    re.I,
)
_DURATION = re.compile(
    r"\b(?P<n>\d{1,3}|an?|half an)[- ]?(?P<u>min(?:ute)?s?|h(?:ou)?rs?|hour)\b", re.I
)
# A proposal, not a report: the sentence holding the date or the time must ask or invite.
_PROPOSAL = re.compile(
    r"\?|\b(?:can|could|shall|should) we\b|\bhow about\b|\bwhat about\b|\blet'?s\b|"
    r"\bare you (?:free|around|available)\b|\bwould (?:\w+ ){0,3}work\b|\bworks? for you\b|"
    r"\binvit\w*|\bjoin (?:us|me)\b|\bi'?d like to (?:meet|schedule|set up)\b|\bwhen:",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n\s*\n")
#: How far apart (characters) a date phrase and a time phrase may be to form one proposal.
_PAIR_DISTANCE = 90
DEFAULT_DURATION = timedelta(minutes=30)


@dataclass(slots=True, frozen=True)
class FoundTime:
    """A proposed meeting: aware start/end in the user's zone and the phrase it came from."""

    start: datetime
    end: datetime
    text: str


def _time_of(m: re.Match[str]) -> tuple[time, time | None]:
    if m.group("noon"):
        start = time(12, 0)
    elif m.group("h"):
        hour = int(m.group("h")) % 12 + (12 if m.group("ap").lower().startswith("p") else 0)
        start = time(hour, int(m.group("mi") or 0))
    elif m.group("h24"):
        start = time(int(m.group("h24")), int(m.group("mi24")))
    else:
        hour = int(m.group("hb"))
        # A bare "at 2" in business mail means the afternoon; "at 10" the morning.
        start = time(hour + 12 if 1 <= hour <= 7 else hour % 24, 0)
    end = None
    if m.group("eh"):
        eh = int(m.group("eh"))
        ap = (m.group("eap") or m.group("ap") or "").lower()
        # "1pm - 2pm", or "11-2" where the end is before the start: the end is afternoon.
        if (ap.startswith("p") and eh < 12) or (not ap and eh < start.hour and eh + 12 < 24):
            eh += 12
        if eh < 24:
            end = time(eh, int(m.group("emi") or 0))
    return start, end


def _nearest_year(month: int, day: int, ref: date) -> date | None:
    # The occurrence closest to the reference date (a date ~2 months back is still "this year").
    best: date | None = None
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - ref).days) < abs((best - ref).days):
            best = candidate
    return best


def _date_of(m: re.Match[str], ref: date) -> date | None:
    try:
        if rel := m.group("rel"):
            return ref + timedelta(days=1 if rel.lower() == "tomorrow" else 0)
        if m.group("iso"):
            return date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        for d, mo in (("d1", "m1"), ("d2", "m2"), ("d3", "m3"), ("d4", "m4")):
            if m.group(d) and m.group(mo):
                month = _MONTHS[m.group(mo).lower().rstrip(".")]
                day = int(m.group(d))
                if m.group("year"):
                    return date(int(m.group("year")), month, day)
                return _nearest_year(month, day, ref)
    except ValueError:
        return None
    if wd := m.group("wd"):
        target = _WEEKDAYS[wd.lower()]
        upcoming = ref + relativedelta(days=1, weekday=target(+1))
        if (m.group("next") or "").lower() == "next" and upcoming.isocalendar()[1] == (
            ref.isocalendar()[1]
        ):
            # "next Friday" said on a Monday means the Friday of next week.
            upcoming += timedelta(days=7)
        return upcoming
    return None


def _duration(text: str) -> timedelta | None:
    m = _DURATION.search(text)
    if m is None:
        return None
    n = m.group("n").lower()
    amount = 0.5 if n == "half an" else 1.0 if n in {"a", "an"} else float(n)
    minutes = amount * 60 if m.group("u").lower().startswith("h") else amount
    return timedelta(minutes=minutes) if 5 <= minutes <= 8 * 60 else None


def _sentence_span(text: str, pos: int) -> tuple[int, int]:
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= pos]
    start = starts[-1]
    m = _SENTENCE_END.search(text, pos)
    return start, m.start() + 1 if m else len(text)


def find_proposed_time(text: str, ref: datetime, zone: tzinfo) -> FoundTime | None:
    """The proposed meeting time in ``text`` closest to a proposal cue, or None.

    ``ref`` is the message date (aware); relative phrases ("tomorrow", "Friday") resolve from it
    in ``zone``, the user's zone. A date phrase and a time phrase pair up when they are at most
    ``_PAIR_DISTANCE`` characters apart and the sentence of either asks or invites; the closest
    such pair wins.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # Keep paragraph breaks as sentence ends, but join wrapped lines.
    flat = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(lines)))
    ref_local = ref.astimezone(zone)
    dates = [(m, d) for m in _DATE.finditer(flat) if (d := _date_of(m, ref_local.date()))]
    times = list(_TIME.finditer(flat))
    best: tuple[int, FoundTime] | None = None
    for dm, day in dates:
        for tm in times:
            gap = max(tm.start() - dm.end(), dm.start() - tm.end(), 0)
            if (
                gap > _PAIR_DISTANCE
                or "\n\n" in flat[min(dm.end(), tm.end()) : max(dm.start(), tm.start())]
            ):
                continue
            spans = {_sentence_span(flat, dm.start()), _sentence_span(flat, tm.start())}
            if not any(_PROPOSAL.search(flat[a:b]) for a, b in spans):
                continue
            start_t, end_t = _time_of(tm)
            start = datetime.combine(day, start_t, tzinfo=zone)
            if start < ref:
                continue
            lo, hi = min(dm.start(), tm.start()), max(dm.end(), tm.end())
            context = " ".join(flat[a:b] for a, b in sorted(spans))
            if end_t is not None and end_t > start_t:
                end = datetime.combine(day, end_t, tzinfo=zone)
            else:
                end = start + (_duration(context) or DEFAULT_DURATION)
            found = FoundTime(start, end, flat[lo:hi].strip())
            if best is None or gap < best[0]:
                best = (gap, found)
    return best[1] if best else None


def format_slot(value: datetime, zone: tzinfo) -> str:
    """Short human form used in chips: ``Fri 20 Nov 10:00``."""
    local = value.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M}"
