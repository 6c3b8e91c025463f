"""Answers composed by code from the tools' structured results.

A 135M model cannot be trusted to copy a location, a code or a link out of its prompt, so the
facts of an answer are rendered here from the tool results themselves: events with their time
(zone named), location and attendees; free slots; contacts with the fields asked for; for mail,
the sentences of the top messages that best answer the question (question–sentence embedding
similarity plus word overlap), kept verbatim so figures, codes, links, dates and names stay
intact, each followed by its ``[id]`` citation. "How many" questions are answered by counting.

:func:`scrub_unverified` is the other half: text a model wrote keeps no link, email address,
number or template placeholder that this turn's tool results (or the question) do not contain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from agents.assistant.args import MAIL_COUNT, content_words, names_in, sender_named
from agents.assistant.compose_messages import (
    ATTACH,
    compose_attachments,
    compose_last_content,
    compose_message_list,
    compose_topic_senders,
)
from agents.assistant.event_pick import pick_one, wants_one
from agents.assistant.mail_asks import is_content, is_topic_top_senders
from tools.messages import fold, own_addresses_of
from tools.schemas import (
    BusyView,
    ContactView,
    EventView,
    FindFreeTimeResult,
    ListEventsResult,
    ListMessagesResult,
    LookupContactsResult,
    MessageHit,
    MessageView,
    SearchMailboxResult,
    ThreadView,
)
from tools.when import find_time_of_day

if TYPE_CHECKING:
    from tools.context import AgentContext

_COUNT = re.compile(r"\bhow many\b|\bnumber of (events|meetings|emails|messages|appointments)\b")
_HOW_LONG = re.compile(r"\bhow (long|much time|many (days|hours|minutes)) (until|till|before)\b")
_OTHERS = re.compile(r"\b(who else|other (attendees|people|participants)|anyone else)\b")
_WHO = re.compile(r"\b(who|attend\w*|invit\w*|participants?|joining|coming)\b")
_WHERE = re.compile(r"\b(where|location|room|venue|address|place)\b")
_SUMMARY = re.compile(r"\b(summar\w*|recap|catch me up|tl;?dr|back and forth|discussion)\b")
#: What a contact question asks for → the contact field that answers it.
_FIELD_CUES: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Number" alone is a phone number only as a person's ("his number", "Tom's number"),
    # not "the requisition number".
    (
        re.compile(
            r"\b(phone|mobile|cell|call)\b|(^|[^\w\s]\s*|\b(the|a|his|her|their|my|your|"
            r"whats|what's|what|\w+'s) )number\b"
        ),
        "phones",
    ),
    (re.compile(r"\b(e-?mail|address|reach)\b"), "emails"),
    (re.compile(r"\b(title|role|job|position|do(es)? .* do)\b"), "title"),
    (re.compile(r"\b(company|organi[sz]ation|work(s)? (for|at)|employer)\b"), "organization"),
    (re.compile(r"\b(birthday|b-?day|born|birth ?date|how old)\b"), "birthday"),
)
#: Question cues that want a specific kind of token in the evidence sentence.
_WANTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"\b(link|url|website|page)\b"), re.compile(r"https?://|www\.")),
    (
        re.compile(r"\b(code|number|id|reference|ref|ticket|po|confirmation|pin)\b"),
        re.compile(r"\b[A-Z0-9]*\d[A-Z0-9-]{2,}\b|\b[A-Z]{2,}-\d+"),
    ),
    (
        re.compile(r"\b(how much|cost|price|total|amount|budget|quote|salary|pay)\b"),
        re.compile(r"(USD|EUR|GBP|[$€£])\s?\d|\d[\d,]*\.\d{2}\b|\d{1,3}(,\d{3})+"),
    ),
    (
        re.compile(r"\b(when|date|day|deadline|due)\b"),
        re.compile(
            r"\d{4}-\d{2}-\d{2}|\b\d{1,2} (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
            r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* \d{1,2}\b",
            re.I,
        ),
    ),
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
#: Below this score no sentence answers the question: say so instead of quoting noise.
MIN_SENTENCE_SCORE = 0.22


class Embedder:
    """What composition needs from the retrieval encoder (a structural type)."""

    def embed(self, texts: Sequence[str]) -> Any:  # pragma: no cover - protocol
        """Vectors, one row per text."""
        raise NotImplementedError

    def embed_query(self, text: str) -> Any:  # pragma: no cover - protocol
        """One query vector."""
        raise NotImplementedError


@dataclass(slots=True)
class Composed:
    """A composed answer: its text and the ids it cites, in order."""

    text: str
    cited: list[str] = field(default_factory=list)


def _day(stamp: str) -> str:
    """ "Tue 01 Dec 2026 10:00 PST" → "Tue 1 Dec 2026 10:00 PST" (how people write dates)."""
    return re.sub(r"\b([A-Z][a-z]{2}) 0(\d) ", r"\1 \2 ", stamp)


def _who(sender: str) -> str:
    return sender.split("<", maxsplit=1)[0].strip() or sender


def _cite(cited: list[str], cid: str) -> str:
    if cid and cid not in cited:
        cited.append(cid)
    return f"[{cid}]" if cid else ""


def _parse_local(value: str, ctx: AgentContext) -> datetime | None:
    """An :func:`tools.impl.fmt_dt` string back to an aware datetime in the user's zone."""
    parts = value.split()
    for fmt, n in (("%a %d %b %Y %H:%M", 5), ("%a %d %b %Y", 4)):
        try:
            return datetime.strptime(" ".join(parts[:n]), fmt).replace(tzinfo=ctx.tz)
        except ValueError:
            continue
    return None


def _until(then: datetime, now: datetime) -> str:
    """ "2 days 3 hours" from ``now`` to ``then`` (or "already started")."""
    seconds = int((then - now).total_seconds())
    if seconds <= 0:
        return "already started"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    bits = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours:
        bits.append(f"{hours} hour{'s' * (hours != 1)}")
    if minutes and not days:
        bits.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return " ".join(bits) or "less than a minute"


def _all_day_span(e: EventView, ctx: AgentContext) -> datetime | None:
    """The last day of an all-day event that lasts more than one day (its end is exclusive)."""
    lo, hi = _parse_local(e.start, ctx), _parse_local(e.end, ctx)
    if lo is None or hi is None or hi - lo <= timedelta(days=1):
        return None
    return hi - timedelta(days=1)


def _event_line(e: EventView, question: str, ctx: AgentContext, cited: list[str]) -> str:
    q = question.lower()
    end = e.end if e.all_day else " ".join(e.end.split()[4:])
    when = f"{_day(e.start)} (all day)" if e.all_day else f"{_day(e.start)} to {end}"
    if e.all_day and (span := _all_day_span(e, ctx)) is not None:
        when = f"{_day(e.start)} to {_short(span)} (all day)"
    line = f"{e.summary}: {when}"
    if e.location:
        line += f", at {e.location}"
    elif _WHERE.search(q):
        line += " (no location given)"
    if e.status and e.status.upper() == "CANCELLED":
        line += " (cancelled)"
    elif e.status and e.status.upper() == "TENTATIVE":
        line += " (tentative)"
    people = [p for p in e.attendees if p]
    if _OTHERS.search(q) and e.you:
        people = [p for p in people if p != e.you]  # "who else": not the user
    if people:
        label = "other attendees" if _OTHERS.search(q) else "attendees"
        line += f"; {label}: {', '.join(people)}"
    elif _WHO.search(q):
        line += "; no attendees listed"
    if e.organizer and _WHO.search(q):
        line += f"; organizer: {e.organizer.removeprefix('mailto:')}"
    detail = _event_detail(e, question)
    if detail:
        line += f". Details: {detail}"
    return f"{line} {_cite(cited, e.event_id)}"


#: Month and weekday words: they say when, and match every description that has a date.
_DATE_WORDS = frozenset(
    """jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june
    july august september october november december mon tue wed thu fri sat sun monday tuesday
    wednesday thursday friday saturday sunday today tomorrow tonight week month""".split()
)

#: Words that ask about an event's time, place or people: its line already answers them.
_EVENT_FIELD_WORDS = frozenset(
    """time start starts end ends begin begins where location room who attendees invited
    attending coming organizer held date day""".split()
)


def _event_detail(e: EventView, question: str) -> str:
    """The description sentences that answer what the title, time, place and people do not
    ("what time does the bus leave" → "Bus leaves the office at 7:30."), verbatim."""
    if not e.description:
        return ""
    said = set(content_words(question)) - _EVENT_FIELD_WORDS - _DATE_WORDS
    said -= set(content_words(f"{e.summary} {e.location}"))
    said = {w for w in said if not w[0].isdigit()}
    if not said:
        return ""
    picked = [s for s in sentences(e.description) if said & set(content_words(s))]
    if not picked:
        # A short description is itself the detail ("Table for two booked under Reyes.").
        # "What's the agenda": the description itself, on one line.
        whole = " ".join(e.description.split())
        if not _WANTS_DETAIL.search(question.lower()):
            return ""
        return whole if len(whole) <= 300 else whole[:300].rsplit(" ", 1)[0] + " …"
    return " ".join(picked[:2])


_WANTS_DETAIL = re.compile(r"\b(agenda|details?|about|bring|notes?|what is|what's)\b")


def _best_events(events: list[EventView], question: str, keep: int = 3) -> list[EventView]:
    """The events the question names (most title words in common), else all of them."""
    said = set(content_words(question))
    # The people count too ("my next meeting with Kenji" names an attendee), but less than
    # the title: "my next meeting with Marcus" is the Dana / Marcus 1:1 before the standup.
    scored = [
        (
            2 * len(said & set(content_words(f"{e.summary} {e.location}")))
            + len(said & set(content_words(" ".join(e.attendees)))),
            e,
        )
        for e in events
    ]
    top = max(n for n, _ in scored)
    if top == 0:
        return events
    return [e for n, e in scored if n == top][:keep]


def compose_events(
    result: ListEventsResult, question: str, ctx: AgentContext, cited: list[str]
) -> str:
    """Events as lines (title, time with zone, location, attendees), counted when asked."""
    q = question.lower()
    events = result.events
    period = _period(result.start, result.end, ctx)
    if not events:
        what = f'"{result.query}" event' if result.query else "event"
        return f"I couldn't find any {what} {period}."
    zone = f" Times are in {ctx.zone_name}."
    if not result.matched:
        # The words named no event in this period: the period as it is, and a plain "no"
        # when such events do exist at other times ("do we have standup this friday").
        head = f'No "{result.query}" {period}. ' if result.known_elsewhere else ""
        lines = [f"- {_event_line(e, question, ctx, cited)}" for e in events]
        return f"{head}Your calendar {period}:\n" + "\n".join(lines) + "\n" + zone.strip()
    if not _COUNT.search(q):
        if wants_one(question):
            # Among all the events the question names, not the first three of them.
            events = pick_one(_best_events(events, question, keep=len(events)), question, ctx)
        else:
            events = _best_events(events, question)
    lines = [f"- {_event_line(e, question, ctx, cited)}" for e in events]
    if _COUNT.search(q):
        n = len(events)
        head = (
            f"You have {n} event{'s' * (n != 1)} between {_day(result.start)} and "
            f"{_day(result.end)}:"
        )
        return head + "\n" + "\n".join(lines) + "\n" + zone.strip()
    if _HOW_LONG.search(q):
        upcoming = [(e, t) for e in events if (t := _parse_local(e.start, ctx)) is not None]
        upcoming = [(e, t) for e, t in upcoming if t > ctx.now]
        if upcoming:
            e, t = upcoming[0]
            return (
                f"{_until(t, ctx.now)} until {e.summary} ({_day(e.start)}) "
                f"{_cite(cited, e.event_id)}.{zone}"
            )
    if len(events) == 1:
        return lines[0][2:] + "." + zone
    return "\n".join(lines) + "\n" + zone.strip()


def compose_slots(
    result: FindFreeTimeResult,
    question: str = "",
    ctx: AgentContext | None = None,
    cited: list[str] | None = None,
) -> str:
    """Free time as the calendar has it: "am I free at 3pm" gets a yes or a no with the event
    in the way; otherwise the free stretches of each day (not grid-aligned: free from 9:45),
    the events that take the rest when little or nothing is free, and suggested slots."""
    cited = cited if cited is not None else []
    asked = find_time_of_day(question) if question else None
    if ctx is None or result.attendees or not (result.free or result.busy):
        # Other people's time is only in the ranked slots (the stretches are the user's own).
        return _slot_list(result, asked, ctx)
    if asked is not None:
        said = _at_time(result, asked, ctx, cited)
        if said:
            return said
    days = _free_by_day(result, ctx)
    zone = f"Times are in {ctx.zone_name}."
    if not days:
        busy = _busy_by_day(result, ctx, cited)
        head = (
            f"I couldn't find a free {result.duration_minutes}-minute stretch in working hours "
            f"{_window_words(result, ctx)}."
        )
        return "\n".join([head, *busy, zone]) if busy else head
    lines = [f"- {day}: free {', '.join(spans)}" for day, spans in list(days.items())[:5]]
    head = f"When you're free for {result.duration_minutes} minutes (working hours):"
    out = [head, *lines]
    if len(days) == 1:
        out += _busy_by_day(result, ctx, cited)
    else:
        # Holidays and other all-day events matter even when the week has room.
        notes = [b for b in result.busy if b.all_day]
        out += [f"Note: {_busy_line(b, ctx, cited)}" for b in notes[:3]]
    return "\n".join([*out, zone])


def _window_words(result: FindFreeTimeResult, ctx: AgentContext) -> str:
    return _period(result.window_start, result.window_end, ctx)


def _period(start: str, end: str, ctx: AgentContext) -> str:
    """ "on Thu 10 Dec" for one day, else "between Thu 10 Dec 12:00 and Fri 11 Dec 17:00"."""
    span = _local_span(start, end, ctx)
    if span is None:
        return f"between {start} and {end}"
    lo, hi = span
    last = hi - timedelta(seconds=1)
    if hi - lo <= timedelta(days=1) and last.date() == lo.date():
        return f"on {_short(lo)}"
    if lo.time() == hi.time() == time(0):
        # Whole days: "from Mon 30 Nov to Sun 6 Dec", the end day inclusive as people say it.
        return f"from {_short(lo)} to {_short(last)}"
    return f"between {_short(lo)} {_hm(lo)} and {_short(hi)} {_hm(hi)}"


def _short(value: datetime) -> str:
    return f"{value:%a} {value.day} {value:%b}"


def _hm(value: datetime) -> str:
    return f"{value:%H:%M}"


def _local_span(start: str, end: str, ctx: AgentContext) -> tuple[datetime, datetime] | None:
    lo, hi = _parse_local(start, ctx), _parse_local(end, ctx)
    return (lo, hi) if lo is not None and hi is not None else None


def _free_by_day(result: FindFreeTimeResult, ctx: AgentContext) -> dict[str, list[str]]:
    """Free stretches at least the meeting long, grouped by day ("Mon 30 Nov")."""
    need = timedelta(minutes=result.duration_minutes)
    days: dict[str, list[str]] = {}
    for r in result.free:
        span = _local_span(r.start, r.end, ctx)
        if span is None or span[1] - span[0] < need:
            continue
        days.setdefault(f"{span[0]:%a} {span[0].day} {span[0]:%b}", []).append(
            f"{_hm(span[0])}-{_hm(span[1])}"
        )
    return days


def _busy_line(b: BusyView, ctx: AgentContext, cited: list[str]) -> str:
    span = _local_span(b.start, b.end, ctx)
    if b.all_day or span is None:
        when = f"{_day(' '.join(b.start.split()[:4]))} (all day)"
    else:
        when = f"{_day(b.start)} to {_hm(span[1])}"
    soft = " (tentative)" if b.tentative else " (marked free)" if b.shows_as_free else ""
    return f"{b.summary}: {when}{soft} {_cite(cited, b.event_id)}"


def _busy_by_day(result: FindFreeTimeResult, ctx: AgentContext, cited: list[str]) -> list[str]:
    """What takes the time: "Busy:" then one line per event (at most eight)."""
    if not result.busy:
        return []
    return ["Busy:", *(f"- {_busy_line(b, ctx, cited)}" for b in result.busy[:8])]


def _at_time(
    result: FindFreeTimeResult, asked: time, ctx: AgentContext, cited: list[str]
) -> str | None:
    """Yes or no for one asked time on the window's first day, naming what is in the way."""
    first = _parse_local(result.window_start, ctx)
    if first is None:
        return None
    at = datetime.combine(first.date(), asked, tzinfo=ctx.tz)
    until = at + timedelta(minutes=result.duration_minutes)
    day = f"{at:%a} {at.day} {at:%b}"
    clashes = []
    for b in result.busy:
        span = _local_span(b.start, b.end, ctx)
        if span is not None and span[0] < until and span[1] > at:
            clashes.append(b)
    hard = [b for b in clashes if not b.tentative and not b.shows_as_free]
    if hard:
        what = "; ".join(_busy_line(b, ctx, cited) for b in hard[:3])
        free = _free_by_day(result, ctx).get(day)
        other = f" Free that day: {', '.join(free)}." if free else ""
        return f"No, you're not free at {_hm(at)} on {day}: {what}.{other}"
    for r in result.free:
        span = _local_span(r.start, r.end, ctx)
        if span is not None and span[0] <= at and until <= span[1]:
            note = ""
            if clashes:
                note = " (tentative: " + "; ".join(
                    _busy_line(b, ctx, cited) for b in clashes[:2]) + ")"  # fmt: skip
            return (
                f"Yes, you're free at {_hm(at)} on {day}{note}: free from {_hm(span[0])} "
                f"to {_hm(span[1])}."
            )
    if not clashes:
        return f"Yes, nothing is on your calendar at {_hm(at)} on {day}."
    return None


def _slot_list(result: FindFreeTimeResult, asked: time | None, ctx: AgentContext | None) -> str:
    """The ranked slots as they are ("am I free at 3pm" answered from them)."""
    if asked is not None and ctx is not None and result.slots:
        for slot in result.slots:
            span = _local_span(slot.start, slot.end, ctx)
            if span is not None and span[0].time() <= asked < span[1].time():
                return f"Yes, you're free at {asked:%H:%M}: {_day(slot.start)} to {_hm(span[1])}."
    if not result.slots:
        return (
            f"I couldn't find a free {result.duration_minutes}-minute slot in working hours "
            f"between {result.window_start} and {result.window_end}."
        )
    slots = "; ".join(
        f"{_day(s.start)} to {' '.join(s.end.split()[4:])}"
        + (" (tentative conflict)" if s.tentative_conflicts else "")
        for s in result.slots
    )
    who = f" (with {', '.join(result.attendees)})" if result.attendees else ""
    head = f"Free {result.duration_minutes}-minute slots{who}"
    if asked is not None:
        head = f"No free slot found at {asked:%H:%M}; free {result.duration_minutes}-minute slots"
    return f"{head}: {slots}."


def asked_fields(question: str) -> list[str]:
    """The contact fields a question asks for (empty: it asks who someone is)."""
    q = question.lower()
    return [name for rx, name in _FIELD_CUES if rx.search(q)]


def contact_has_answer(contact: ContactView, question: str) -> bool:
    """Whether a contact holds what the question asks (a "who is" wants a title or company)."""
    fields = asked_fields(question) or ["title", "organization"]
    return any(getattr(contact, f) for f in fields)


def _birthday_words(iso: str, ctx: AgentContext | None) -> str:
    """ "1990-12-02" → "2 December 1990 (next Wednesday)".

    The date is the vCard's; how it stands to today is said in words, with no number the
    contact card does not hold (a computed year or day count would be a claim no tool made)."""
    try:
        born = date.fromisoformat(iso)
    except ValueError:
        return iso
    text = f"{born.day} {born:%B %Y}"
    if ctx is None:
        return text
    today = ctx.local_now.date()
    try:
        this_year = born.replace(year=today.year)
    except ValueError:  # 29 February
        return text
    days = (this_year - today).days
    if days == 0:
        when = "today"
    elif days == 1:
        when = "tomorrow"
    elif days == -1:
        when = "it was yesterday"
    elif 1 < days < 7:
        when = f"this {this_year:%A}"
    elif 7 <= days < 14:
        when = f"next {this_year:%A}"
    elif -7 < days < -1:
        when = f"it was on {this_year:%A}"
    elif days > 0:
        when = f"coming up in {this_year:%B}"
    else:
        when = "already passed this year"
    return f"{text} ({when})"


def compose_contacts(
    result: LookupContactsResult,
    question: str,
    cited: list[str],
    ctx: AgentContext | None = None,
    *,
    mail_too: bool = False,
    senders: frozenset[str] = frozenset(),
) -> str | None:
    """Contacts with the fields asked for; None when no contact answers (search mail then).

    ``senders``: addresses of the mail found; their contacts count as named by the question
    ("the guy who sent us the quote - what's his number")."""
    useful = [c for c in result.contacts if contact_has_answer(c, question)]
    said = set(content_words(question))
    named = [
        c for c in useful
        if said & set(content_words(c.name)) or {e.lower() for e in c.emails} & senders
    ]  # fmt: skip
    # With mail found too, only a person the question names answers it ("po number for the
    # castellan order" is about an order, not about Castellan's account manager's phone).
    useful = named if (named or mail_too) else useful[:1]
    if not useful:
        return None
    fields = asked_fields(question)
    lines = []
    for c in useful[:3]:
        bits = []
        for f in fields or ["title", "organization", "emails", "phones"]:
            value = getattr(c, f)
            if isinstance(value, list):
                value = ", ".join(value)
            if f == "birthday" and value:
                value = _birthday_words(str(value), ctx)
            if value:
                label = {"phones": "phone", "emails": "email"}.get(f, f)
                bits.append(value if f in ("title", "organization") else f"{label} {value}")
        lines.append(f"{c.name}: {'; '.join(bits)} {_cite(cited, c.contact_id)}")
    return "\n".join(lines)


def _unwrap(text: str) -> list[str]:
    """Paragraphs and list items of a hard-wrapped mail body, each on one line."""
    blocks: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for raw in para.splitlines():
            line = raw.strip(" >\t")
            # A list item or a short line (a heading, a signature) starts a block of its own.
            if current and (_ITEM.match(line) or len(current[-1]) < 40):
                blocks.append(" ".join(current))
                current = []
            if line:
                current.append(line)
        if current:
            blocks.append(" ".join(current))
    return blocks


_TRUNCATED = re.compile(r"\s*…\[truncated \d+ chars\]")
_HIGHLIGHT = re.compile(r"\[([^\]\[]{1,40})\]")
_GREETING = re.compile(r"^(hi|hello|hey|dear)\s+[\w .'-]{1,30},\s*", re.I)
_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


#: Footers, disclaimers and list chrome: never the answer to a question.
_BOILERPLATE = re.compile(
    r"\b(this (e-?mail|message|communication)( and any (files|attachments)[\w ]*)? "
    r"(is|are|may be|may contain|contains?) [\w ,]*(confidential|privileged|intended)"
    r"|intended (solely |only )?for the (use of the )?(named |intended )?"
    r"(recipient|addressee|individual)"
    r"|if you (have )?received this ([\w-]+ )?in error|unsubscribe|opt[ -]out"
    r"|sent from my (iphone|ipad|android|mobile|blackberry)|do not reply to this"
    r"|view (it|this( email)?) in your browser|(manage|update) your (email )?preferences"
    r"|all rights reserved|privileged and confidential)",
    re.I,
)


#: Header fields of a forwarded or quoted message ("cc: ... Subject: ..."), not what anybody said.
_HEADER_FIELD = re.compile(r"(?:^|[\s\"'>])(?:cc|bcc|to|from|subject|sent|date):\s", re.I)


def _header_block(s: str) -> bool:
    """Two or more header fields, or one that leads the sentence and carries an address."""
    fields = len(_HEADER_FIELD.findall(s))
    return fields >= 2 or (fields == 1 and bool(_HEADER_FIELD.match(s)) and "@" in s)


def sentences(text: str, *, keep_boilerplate: bool = False) -> list[str]:
    """Sentences of a message body, whitespace-normalised, quote markers and noise dropped
    (legal footers too, unless ``keep_boilerplate``: "how do I unsubscribe" wants that line)."""
    out: list[str] = []
    for raw in (s for block in _unwrap(text) for s in _SENTENCE.split(block)):
        s = _GREETING.sub("", " ".join(raw.strip(" >\t").split()))
        # Truncation markers, greetings, signatures and legal footers carry no fact.
        if len(s) < 12 or s.startswith("…[truncated") or re.fullmatch(r"[\W\w]{0,25},", s):
            continue
        if not keep_boilerplate and _BOILERPLATE.search(s):
            continue
        if _header_block(s):
            continue
        out.append(s)
    return out


_SIGN_OFF = re.compile(
    r"(?:(?:best|kind|warm|warmest|many)\s+(?:regards|wishes|thanks)|regards|cheers|sincerely|"
    r"yours(?:\s+(?:truly|sincerely))?|best|thanks|thank you|talk soon)\s*[,!]",
    re.I,
)
_PERSON_ASK = re.compile(r"\bwho\b|\b(title|role|job|position|company|works?)\b")


def _mail_candidates(
    artifacts: Sequence[BaseModel], question: str = ""
) -> list[tuple[str, str, float]]:
    """(sentence, message id, prior) from the messages read and the top search hits.

    A message from someone the question names ("what did José quote") gets a higher prior."""
    said = set(content_words(question))
    footers = bool(_BOILERPLATE.search(question))

    def from_named(sender: str) -> float:
        return 0.1 if said & set(content_words(_who(sender))) else 0.0

    person = _PERSON_ASK.search(question.lower()) is not None

    def sign(sentence: str) -> float:
        # "Best regards, Greg Tanner, Director ..." answers "who is Greg", nothing else.
        return -0.3 if not person and _SIGN_OFF.match(sentence) else 0.0

    out: list[tuple[str, str, float]] = []
    seen: set[str] = set()
    for a in artifacts:
        views: list[MessageView] = []
        if isinstance(a, MessageView):
            views = [a]
        elif isinstance(a, ThreadView):
            views = list(reversed(a.messages))  # the latest message is the news
        for rank, m in enumerate(views):
            for s in sentences(m.text, keep_boilerplate=footers):
                if s not in seen:
                    seen.add(s)
                    prior = 0.06 - 0.01 * min(rank, 5) + from_named(m.sender) + sign(s)
                    out.append((s, m.message_id, prior))
    read_text = " ".join(" ".join(s for s, _m, _p in out).split())
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            for rank, h in enumerate(a.hits[:3]):
                # Search snippets mark matched words "[like] this": not citations, unmark them.
                # The truncation marker first: unmarking "[like]" would turn it into prose.
                snippet = _HIGHLIGHT.sub(r"\1", _TRUNCATED.sub(" …", h.snippet))
                for s in sentences(snippet, keep_boilerplate=footers):
                    # A snippet of a message read in full repeats its sentences, cut short.
                    core = s.strip("… .")
                    if s not in seen and core not in read_text:
                        seen.add(s)
                        prior = 0.03 - 0.01 * rank + from_named(h.sender)
                        out.append((s, h.message_id, prior))
    return out


def _score_sentences(
    question: str, candidates: list[tuple[str, str, float]], embedder: Embedder | None
) -> list[float]:
    q_words = set(content_words(question))
    sims: list[float] = [0.0] * len(candidates)
    if embedder is not None and candidates:
        try:
            qv = np.asarray(embedder.embed_query(question), dtype=np.float32)
            sv = np.asarray(embedder.embed([c[0] for c in candidates]), dtype=np.float32)
            sims = [float(x) for x in sv @ qv]
        except Exception:  # noqa: BLE001 - overlap alone still ranks sentences
            sims = [0.0] * len(candidates)
    wants = [tok for ask, tok in _WANTS if ask.search(question.lower())]
    scores = []
    for (s, _mid, prior), sim in zip(candidates, sims, strict=True):
        words = set(content_words(s))
        overlap = len(q_words & words) / max(1, len(q_words))
        bonus = 0.2 * sum(1 for tok in wants if tok.search(s))  # the kind of token asked for
        scores.append(sim + 0.5 * overlap + bonus + prior)
    return scores


#: A question that wants this kind of token is answered by a sentence that has one, or not at
#: all: quoting a sentence without the link asked for answers nothing.
_MUST: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r"\b(link|url|website|web page)\b"), re.compile(r"https?://|www\."), "a link"),
    (
        re.compile(r"\be-?mail address\b"),
        re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
        "an email address",
    ),
)


#: The words that ask for a link or an address: no topic of their own.
_MUST_WORDS = frozenset("link links url website web page address find".split())


def compose_mail(
    artifacts: Sequence[BaseModel],
    question: str,
    cited: list[str],
    embedder: Embedder | None = None,
    *,
    max_sentences: int = 3,
    require: re.Pattern[str] | None = None,
    person: set[str] | None = None,
) -> str:
    """The evidence sentences that answer ``question``, verbatim, each with its citation.

    ``require``: only sentences with this pattern answer (a phone number asked of a person);
    a question that wants a link or an address gets one, or "I couldn't find" one.
    ``person``: name words of the person the fact is about; a sentence then counts only if it
    names them or their own message says it ("call me on ..." in a signature)."""
    hits = [h for a in artifacts if isinstance(a, SearchMailboxResult) for h in a.hits]
    read = [a for a in artifacts if isinstance(a, MessageView | ThreadView)]
    topic = " ".join(content_words(question)[:6]) or "that"
    if not hits and not read:
        return f"I couldn't find any email about {topic}."
    q = question.lower()
    if MAIL_COUNT.search(q):
        return _count_mail(hits, question, cited)
    if not _mail_mentions(artifacts, question):
        return f"I couldn't find any email about {topic}."
    candidates = _mail_candidates(artifacts, question)
    require = require or next((tok for ask, tok, _ in _MUST if ask.search(q)), None)
    if person:
        senders = _senders(artifacts)
        candidates = [c for c in candidates if person & _pieces(f"{c[0]} {senders.get(c[1], '')}")]
    if require is not None:
        candidates = [c for c in candidates if require.search(c[0])]
        if not candidates:
            what = next((w for ask, _, w in _MUST if ask.search(q)), "that")
            about = [w for w in content_words(question) if w not in _GENERIC | _MUST_WORDS]
            where = f" about {' '.join(about[:6])}" if about else " I found"
            return f"I couldn't find {what} in the emails{where}."
    if not candidates:
        top = hits[0]
        return f'The closest email is "{top.subject}" {_cite(cited, top.message_id)}.'
    scores = _score_sentences(question, candidates, embedder)
    order = sorted(range(len(candidates)), key=lambda i: scores[i], reverse=True)
    if scores[order[0]] < MIN_SENTENCE_SCORE:
        return f"I couldn't find an email that answers this about {topic}."
    limit = 4 if _SUMMARY.search(q) else max_sentences
    floor = max(MIN_SENTENCE_SCORE, scores[order[0]] - 0.35)
    picked: list[int] = []
    for i in order[: limit * 3]:
        text = candidates[i][0].strip("… .")
        # The same sentence from a snippet and from the message read: say it once.
        if scores[i] < floor or any(
            text in candidates[j][0] or candidates[j][0].strip("… .") in text for j in picked
        ):
            continue
        picked.append(i)
        if len(picked) >= limit:
            break
    picked.sort()  # the messages' own order reads better than score order
    return " ".join(f"{candidates[i][0]} {_cite(cited, candidates[i][1])}" for i in picked)


def _count_mail(hits: list[MessageHit], question: str, cited: list[str]) -> str:
    """ "How many emails ...": the hits that are about the question's topic, counted.

    Search ranks everything by similarity, so a hit counts only when it shares a topic word
    with the question (the sender and dates are already filters of the search)."""
    sender = sender_named(question)
    topic = set(content_words(question)) - _GENERIC - _COUNT_WORDS
    if sender:
        topic -= set(content_words(sender))
    unique = list({h.message_id: h for h in hits}.values())
    # A full page of hits that all count: there may be more than the search returned.
    many = "at least " if len(unique) >= 20 else ""
    if topic:
        unique = [h for h in unique if topic & set(content_words(f"{h.subject} {h.snippet}"))]
    n = len(unique)
    if n == 0:
        return "I couldn't find any matching email."
    lines = [
        f"- {h.subject} — {_who(h.sender)}, {h.date} {_cite(cited, h.message_id)}"
        for h in unique[:10]
    ]
    more = f"\n(and {n - 10} more)" if n > 10 else ""
    many = many if n == len({h.message_id for h in hits}) else ""
    return f"I found {many}{n} matching email{'s' * (n != 1)}:\n" + "\n".join(lines) + more


_COUNT_WORDS = frozenset(
    "many email emails e-mail e-mails message messages mail mails thread threads replies "
    "reply notes newsletters received receive sent send get got".split()
)


#: A person referred to without a name: "his number", "the guy who sent ...", "whoever ...".
PERSON_REF = re.compile(
    r"\b(his|her|their|him|them|the (guy|person|man|woman|one|sender|lady)|whoever|"
    r"who (sent|wrote|emailed)|sender)\b",
    re.I,
)


def _organizers(artifacts: Sequence[BaseModel], question: str) -> frozenset[str]:
    """Lower-cased organizer addresses of the events the question names best."""
    return frozenset(
        e.organizer.removeprefix("mailto:").lower()
        for a in artifacts if isinstance(a, ListEventsResult) and a.events
        for e in _best_events(a.events, question) if e.organizer
    )  # fmt: skip


def _sender_addresses(artifacts: Sequence[BaseModel]) -> frozenset[str]:
    """Lower-cased sender addresses of the mail in ``artifacts``."""
    out = set()
    for sender in _senders(artifacts).values():
        addr = sender.split("<", 1)[1].rstrip(">") if "<" in sender else sender
        out.add(addr.strip().lower())
    return frozenset(out)


def _senders(artifacts: Sequence[BaseModel]) -> dict[str, str]:
    """Message id → sender, for every message in ``artifacts``."""
    out: dict[str, str] = {}
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            out.update((h.message_id, h.sender) for h in a.hits)
        elif isinstance(a, MessageView):
            out[a.message_id] = a.sender
        elif isinstance(a, ThreadView):
            out.update((m.message_id, m.sender) for m in a.messages)
    return out


def _mail_mentions(artifacts: Sequence[BaseModel], question: str) -> bool:
    """Whether any mail found shares a content word with the question (else it is noise)."""
    said = set(content_words(question)) - _GENERIC
    if not said:
        return True
    texts: list[str] = []
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            texts += [f"{h.subject} {h.sender} {h.snippet}" for h in a.hits]
        elif isinstance(a, MessageView):
            texts.append(f"{a.subject} {a.sender} {a.text}")
        elif isinstance(a, ThreadView):
            texts += [f"{m.subject} {m.sender} {m.text}" for m in a.messages]
    found = set(content_words(" ".join(texts)))
    if not said & found:
        return False
    # A name the question hangs on ("the Berlin trade show") that no mail found contains:
    # the mail shares only common words with the question ("trade").
    # Word pieces on both sides: "Brightpath" is in "hannah@brightpath-design.example".
    names = {w for n in names_in(question) for w in _pieces(" ".join(content_words(n)))}
    names -= _GENERIC | _STOP_PIECES
    return not names or bool(names & _pieces(" ".join(texts)))


def _pieces(text: str) -> set[str]:
    """Alphanumeric runs of ``text``, accents folded: the words inside addresses and ids."""
    return {w for w in re.findall(r"[a-z0-9]+", fold(text)) if len(w) > 1}


#: Capitalised words that start a question or request and name nothing.
_STOP_PIECES = frozenset(
    """summarize summarise summary recap list show find tell give please check remind""".split()
)


#: Words any mail may contain: sharing only these is no sign the mail is about the question.
_GENERIC = frozenset(
    """anyone anybody someone send sent get got write wrote much many number link code show
    week month year day time new""".split()
)


def _mail_source(artifacts: Sequence[BaseModel], mid: str) -> str:
    for a in artifacts:
        views: list[MessageView] = []
        if isinstance(a, MessageView):
            views = [a]
        elif isinstance(a, ThreadView):
            views = list(a.messages)
        for m in views:
            if m.message_id == mid:
                return f'"{m.subject}" from {_who(m.sender)}'
        if isinstance(a, SearchMailboxResult):
            for h in a.hits:
                if h.message_id == mid:
                    return f'"{h.subject}" from {_who(h.sender)}'
    return "an email"


#: A question that is about mail even when a calendar or contact tool ran first.
_MAIL_CUE = re.compile(
    r"\b(e-?mails?|mail|wrote|write|said|say|says|sent|send|message|thread|inbox|newsletter|"
    r"repl(y|ied)|forwarded|attach\w*)\b"
)


def compose(
    question: str,
    artifacts: Sequence[BaseModel],
    ctx: AgentContext,
    embedder: Embedder | None = None,
    *,
    primary: str | None = None,
) -> Composed | None:
    """An answer to ``question`` from this turn's tool results, or None when none applies.

    ``primary`` is the tool the question was routed to first: when a calendar tool answered
    it, mail a second tool found is only added if the question is about mail too."""
    cited: list[str] = []
    parts: list[str] = []
    mail = [a for a in artifacts if isinstance(a, SearchMailboxResult | MessageView | ThreadView)]
    contacts = [a for a in artifacts if isinstance(a, LookupContactsResult)]
    fields = asked_fields(question)
    if primary not in (None, "lookup_contacts", "find_free_time") and not fields:
        # A contact lookup ran as a close second ("what did Maya say ..."): the question
        # asks nothing a contact card holds.
        contacts = []
    contact_text = None
    for c in contacts:
        # "The guy who sent the quote - his number": the sender of the mail found is named.
        refers = PERSON_REF.search(question) is not None
        meant = _sender_addresses(mail) | _organizers(artifacts, question)
        contact_text = compose_contacts(
            c, question, cited, ctx, mail_too=bool(mail),
            senders=meant if refers else frozenset(),
        )  # fmt: skip
        if contact_text:
            parts.append(contact_text)
            break
    for a in artifacts:
        if isinstance(a, ListMessagesResult):
            # The newest message was read for a "what did X say last" question: quote it.
            read = [m for m in mail if isinstance(m, MessageView)]
            if is_content(question) and read and a.messages:
                parts.append(compose_last_content(a, read[0], cited))
            else:
                parts.append(compose_message_list(a, question, ctx, cited))
            mail = []
        if isinstance(a, ListEventsResult):
            parts.append(compose_events(a, question, ctx, cited))
        elif isinstance(a, FindFreeTimeResult):
            parts.append(compose_slots(a, question, ctx, cited))
    answered = [p for p in parts if p and not p.startswith("I couldn't")]
    if (
        primary in ("list_events", "find_free_time")
        and answered
        and not _MAIL_CUE.search(question.lower())
    ):
        mail = []  # the calendar answered; mail a close-second route found is noise
    views = [v for a in mail for v in (a.messages if isinstance(a, ThreadView) else [a])
             if isinstance(v, MessageView)]  # fmt: skip
    files = compose_attachments(views, cited) if ATTACH.search(question) else None
    if files is not None:
        parts.append(files)
    elif mail and not contact_text and is_topic_top_senders(question):
        hits = [h for a in mail if isinstance(a, SearchMailboxResult) for h in a.hits]
        parts.append(compose_topic_senders(hits, question, own_addresses_of(ctx), cited))
    elif mail and not contact_text:
        # A field of a person the contacts lack (a birthday, a phone): only mail that has one.
        # (Only for a question about a person: "po number for the order" is about mail.)
        person_ask = primary in (None, "lookup_contacts")
        need = _FIELD_EVIDENCE.get(fields[0]) if contacts and fields and person_ask else None
        person = _person_words(contacts, question) if need is not None else None
        text = compose_mail(mail, question, cited, embedder, require=need, person=person)
        if need is not None and text.startswith("I couldn't"):
            text = _not_found_field(contacts, question, fields[0])
        if contacts and cited and not re.match(r"I (found|couldn't)", text):
            # A person question the contacts could not answer: say where the fact came from.
            text = f"From the email {_mail_source(mail, cited[0])}: {text}"
        parts.append(text)
    elif contacts and not contact_text and not (answered and primary != "lookup_contacts"):
        names = ", ".join(c.name for r in contacts for c in r.contacts[:3])
        who = contacts[0].query
        parts.append(
            f"Your contacts have {names} but nothing more about them."
            if names
            else f"I couldn't find {who} in your contacts or mail."
        )
    if not parts:
        return None
    return Composed("\n".join(p for p in parts if p).strip(), cited)


#: What a sentence of mail must contain to give a contact field the contacts lack.
_FIELD_EVIDENCE: dict[str, re.Pattern[str]] = {
    "birthday": re.compile(r"\b(birthday|b-?day|born)\b", re.I),
    # A phone number, not a serial or an id ("NW200-0201"): no letter or dash glued to it.
    "phones": re.compile(
        r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}[ .-]\d{3,4}"
        r"(?:[ .-]\d{3,4})?(?![\w-])"
    ),
    "emails": re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
}
_FIELD_WORDS = {"birthday": "birthday", "phones": "phone number", "emails": "email address"}


def _person_words(contacts: list[LookupContactsResult], question: str) -> set[str] | None:
    """Name words (folded) of the person a field question is about: the contacts the question
    names (None when it names none: "whoever runs the review" is found by the field alone)."""
    if PERSON_REF.search(question) and not names_in(question):
        return None
    said = set(content_words(question))
    named = [c.name for r in contacts for c in r.contacts if said & set(content_words(c.name))]
    # A contact known only by address ("ina.rangel@enron.com") is named by the lookup words.
    words = _pieces(" ".join(named)) if named else _pieces(contacts[0].query if contacts else "")
    return (words - _GENERIC) or None


def _not_found_field(contacts: list[LookupContactsResult], question: str, field: str) -> str:
    """ "I couldn't find Kenji Watanabe's birthday in your contacts or mail." """
    said = set(content_words(question))
    named = [c.name for r in contacts for c in r.contacts if said & set(content_words(c.name))]
    what = _FIELD_WORDS.get(field, field)
    if not named and contacts and not PERSON_REF.search(question):
        named = [contacts[0].query]  # the name as the user wrote it
    if named:
        return f"I couldn't find {named[0]}'s {what} in your contacts or mail."
    return f"I couldn't find that {what} in your contacts or mail."


# -- unverifiable content in model-written text ----------------------------------------------

_URL = re.compile(r"https?://[^\s)\]>]+|www\.[^\s)\]>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\d[\d,.:/]*\d|\d")
#: Template slots small models leave in ("scheduled for [date] at [time]").
_PLACEHOLDER = re.compile(r"\s*\[(?:[A-Za-z][A-Za-z _/'-]{0,30})\]")
_BRACKET_ID = re.compile(r"\[([^\]\s]{4,80})\]")


def _has_number(plain: str, number: str) -> bool:
    """Whether ``number`` (thousands separators ignored) occurs in ``plain`` as a whole number."""
    needle = re.escape(number.replace(",", "").rstrip(".:/"))
    return re.search(rf"(?<![\d.]){needle}(?!\d)", plain) is not None


def scrub_unverified(text: str, known: str, allowed_ids: Sequence[str] = ()) -> str:
    """Drop every sentence of ``text`` with a link, email address, number or bracketed id that
    ``known`` (this turn's tool results and the question) does not contain; remove template
    placeholders. What remains can be checked against the sources."""
    haystack = known.lower()
    plain = known.replace(",", "")
    ids = set(allowed_ids)
    text = _PLACEHOLDER.sub(lambda m: m.group(0) if m.group(0).strip()[1:-1] in ids else "", text)
    kept: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        bad = any(u.lower().rstrip(".,") not in haystack for u in _URL.findall(sentence))
        bad = bad or any(e.lower() not in haystack for e in _EMAIL.findall(sentence))
        bad = bad or any(i not in ids for i in _BRACKET_ID.findall(sentence))
        no_links = _EMAIL.sub(" ", _URL.sub(" ", _BRACKET_ID.sub(" ", sentence)))
        bad = bad or any(not _has_number(plain, n) for n in _NUMBER.findall(no_links))
        if not bad and sentence.strip():
            kept.append(sentence.strip())
    return re.sub(r"[ \t]+([.,;])", r"\1", " ".join(kept)).strip()
