"""Tool arguments: what the request itself says, and checks on what the model proposed.

The model fills arguments under a JSON-schema constraint, so they always parse; they are not
always sensible from a 135M model. :func:`heuristic_args` extracts the same arguments from the
request with plain rules (date phrases, durations, names), and :func:`reconcile` keeps each
model-proposed value only where it passes a check (the date resolves, the query shares words with
the request, an id was actually returned by an earlier tool), falling back to the rule-based value.
Ids are never taken from model output unless a tool returned them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from core.errors import InputError
from tools.context import AgentContext
from tools.when import resolve_range

_STOP = frozenset(
    """a an the i me my we our you your he she his her they them their it its is are was were be
    been do does did done have has had what whats what's when where who whos who's whom which why
    how can could would should will shall may might must please tell show give find get let know
    about any anything something there this that these those of in on at to for from with by and
    or not no yes up out over into than then so just also still ever email emails mail mails
    message messages anyone someone us again last latest recent did said say says""".split()
)
_MONTH = (
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)(uary|ruary|ch|il|e|y|ust|tember|"
    r"ober|ember)?\b"
)
_DATE_PHRASE = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|(this|next|last|coming) (week|month)|"
    r"(next|this|coming|last) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}(st|nd|rd|th)? (of )?" + _MONTH + r"|the \d{1,2}(st|nd|rd|th)"
    r"(?! (of )?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))|"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]* \d{1,2}(st|nd|rd|th)?"
    r"(,? \d{4})?)"
    r"( (morning|afternoon|evening))?\b"
)
_PAST = re.compile(r"\b(was|were|did|went|attended|ago|last)\b", re.I)
_DURATION = re.compile(r"(\d+)\s*-?\s*(min|minute|minutes|mins|hour|hours|hr|hrs|h)\b")


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` minus stop words (keeps ids like nw-482)."""
    # "1:1" / "one on one" is a meeting's name, and the one token here with a colon.
    text = _ONE_ON_ONE.sub(" 1:1 ", text.lower())
    words = [re.sub(r"'s$", "", w.strip("'.")) for w in re.findall(r"1:1|\w[\w.\-@']*", text)]
    return [w for w in words if w not in _STOP and len(w) > 1]


_ONE_ON_ONE = re.compile(r"\b(one[- ]on[- ]one|1[- ]on[- ]1|1-1)\b")


def date_phrase(text: str) -> str | None:
    """The most specific date phrase in ``text`` ("19 Nov", "next week", "thursday afternoon").

    A calendar date beats a weekday or a relative word: in "Thursday Dec 10" the date says
    which Thursday; among equally specific phrases the first wins."""
    from datetime import UTC, datetime

    found: list[tuple[int, int, str]] = []
    for m in _DATE_PHRASE.finditer(text.lower()):
        phrase = m.group(0)
        try:
            resolve_range(phrase, datetime.now(UTC), UTC)
        except InputError:
            continue
        found.append((_specificity(phrase), m.start(), phrase))
    if not found:
        return None
    return min(found, key=lambda f: (-f[0], f[1]))[2]


def _specificity(phrase: str) -> int:
    """2 for a calendar date (ISO, "19 Nov", "the 30th"), 1 for anything relative."""
    if re.search(r"\d", phrase):
        return 2
    return 1


def _window(phrase: str | None, ctx: AgentContext, days: int) -> tuple[Any, Any]:
    """The period a phrase names, or the next ``days`` days from now."""
    if phrase:
        try:
            return resolve_range(phrase, ctx.now, ctx.tz)
        except InputError:
            pass
    return ctx.local_now, ctx.local_now + timedelta(days=days)


def duration_minutes(text: str) -> int | None:
    """Meeting length mentioned in ``text``."""
    t = text.lower()
    if m := _DURATION.search(t):
        n = int(m.group(1))
        return n * 60 if m.group(2).startswith("h") else n
    if re.search(r"\bhalf an hour\b", t):
        return 30
    if re.search(r"\b(an|one) hour\b|\bhour[- ]long\b", t):
        return 60
    if re.search(r"\bquick\b", t):
        return 15
    return None


def names_in(text: str) -> list[str]:
    """Capitalised words that look like names or companies (not sentence-initial stop words)."""
    found = re.findall(r"\b([A-Z][\w\u00C0-\u017F'-]+(?:\s+[A-Z][\w\u00C0-\u017F'-]+)*)", text)
    out = []
    for raw in found:
        words = re.sub(r"'s$", "", raw).split()
        # "What's Tom Becker" → "Tom Becker"; "December" names a date, not a person.
        while words and (words[0].lower() in _STOP or words[0].lower() in _NOT_NAMES):
            words = words[1:]
        f = " ".join(words)
        if f and f.lower() not in _STOP and f.lower() not in _NOT_NAMES:
            out.append(f)
    return out


_NOT_NAMES = frozenset(
    """nov dec jan re fw january february march april june july august september october
    november december monday tuesday wednesday thursday friday saturday sunday today tomorrow
    how many""".split()
)


#: "How many emails / messages / threads ..." counts mail; "how many people registered" asks
#: for a figure written in one.
MAIL_COUNT = re.compile(
    r"\bhow many (\w+ ){0,2}(e-?mails?|messages?|mails?|threads?|replies|notes|newsletters)\b"
    r"|\bnumber of (e-?mails|messages|threads)\b"
)
_SENDER = re.compile(
    r"\bfrom ([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)"
    r"|\b([A-Z][\w'-]+) (?:sent|emailed|wrote|send|email|write)\b"
)


def sender_named(question: str) -> str | None:
    """The person a mail question names as the sender ("from Kenji", "Kenji sent")."""
    for m in _SENDER.finditer(question):
        name = m.group(1) or m.group(2)
        if name and name.lower() not in _STOP and name.lower() not in _NOT_NAMES:
            return name
    return None


def heuristic_args(tool: str, question: str, ctx: AgentContext) -> dict[str, Any]:
    """Arguments for ``tool`` read off the request with rules."""
    from agents.assistant.mail_asks import (
        is_topic_top_senders,
        list_messages_args,
        topic_words,
    )

    if tool == "list_messages":
        return list_messages_args(question, ctx)
    phrase = date_phrase(question)
    if tool == "search_mailbox":
        mail: dict[str, Any] = {"query": " ".join(content_words(question)) or question, "limit": 5}
        if re.search(r"\battach\w*", question, re.I):
            # "What attachments did Hannah send": mail with attachments, from her.
            mail["has_attachment"] = True
            mail["query"] = (
                " ".join(w for w in content_words(question) if not w.startswith("attach"))
                or mail["query"]
            )
            if sender := sender_named(question):
                mail["sender"] = sender
        if is_topic_top_senders(question):
            # "Who wrote most about X": every message about X, to count by sender.
            return {"query": " ".join(topic_words(question)) or mail["query"], "limit": 20}
        if MAIL_COUNT.search(question.lower()):
            # A count needs every match, not the top five: filters narrow, the limit widens.
            mail["limit"] = 20
            if sender := sender_named(question):
                mail["sender"] = sender
            if phrase:
                start, end = _window(phrase, ctx, 1)
                # ``before`` is inclusive of its day (the tool reads it as the day's end).
                last = (end - timedelta(seconds=1)).date()
                mail["after"], mail["before"] = start.date().isoformat(), last.isoformat()
        return mail
    if tool == "list_events":
        names = names_in(question)
        # "When is my next X": look ahead; "what's on my calendar": the coming fortnight;
        # "where was the X" / "who came to the X": look back.
        # The date phrase ("December 9th") says when, not what: it is no title word.
        rest = question.lower().replace(phrase, " ") if phrase else question
        topic = [w for w in content_words(rest) if w not in _CALENDAR_WORDS and w not in _NOT_NAMES]
        start, end = _window(phrase, ctx, 45 if names or topic else 14)
        if phrase is None and _PAST.search(question):
            start, end = ctx.local_now - timedelta(days=45), ctx.local_now
        # Room for a whole week of meetings: answers count and filter the events themselves.
        args: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "limit": 30}
        if names or topic:
            args["query"] = " ".join(dict.fromkeys([*names, *topic]))
        return args
    if tool == "find_free_time":
        start, end = _window(phrase, ctx, 5)
        return {
            "duration_minutes": duration_minutes(question) or 30,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "limit": 10,  # answers list them in time order; more slots, fewer misses
        }
    if tool == "lookup_contacts":
        names = names_in(question)
        if names:
            return {"query": names[0], "limit": 5}
        # "how do i reach josé by phone": the person, without the words for what is asked.
        words = [w for w in content_words(question) if w not in _CONTACT_WORDS]
        return {"query": " ".join(words or content_words(question)), "limit": 5}
    return {}


#: Words that say what is asked of a contact, not who: never part of a contact query.
_CONTACT_WORDS = frozenset(
    """phone number numbers mobile cell call reach contact details info email e-mail address
    title role job position company organization organisation works work birthday bday born
    whos who's person guy lady full name surname""".split()
)


_CALENDAR_WORDS = frozenset(
    """calendar schedule scheduled meeting meetings event events next time when on agenda
    appointment appointments today tomorrow week month am have do does happening planned
    monday tuesday wednesday thursday friday saturday sunday morning afternoon evening
    many much long until till left days hours where located location who else attending
    attended attendees invited coming going place room address held first earliest last latest
    upcoming previous soonest meet meets see""".split()
)


def reconcile(
    tool: str,
    proposed: dict[str, Any] | None,
    fallback: dict[str, Any],
    question: str,
    ctx: AgentContext,
) -> dict[str, Any]:
    """Keep the model's values that pass their checks; use the rule-based value otherwise."""
    if not proposed:
        return _ordered(dict(fallback), fallback, ctx)
    out = dict(fallback)
    for key, value in proposed.items():
        if value in (None, "", []):
            continue
        if key in ("start", "end", "after", "before"):
            if not _date_ok(str(value), ctx):
                continue
            # A rule-found phrase ("next week") beats a model date: 135M models guess years.
            if key in fallback and date_phrase(question):
                continue
        if key == "query" and not query_ok(str(value), question):
            continue
        if key in ("sender", "recipient", "attendees"):
            # A person filter must name someone the user named.
            names = value if isinstance(value, list) else [value]
            said = set(content_words(question))
            if not all(set(content_words(str(n).split("@")[0].replace(".", " "))) & said
                       for n in names):  # fmt: skip
                continue
        if key == "has_attachment" and not re.search(r"attach", question, re.I):
            continue
        out[key] = value
    return _ordered(out, fallback, ctx)


#: Prompt text and code a small model copies into a query instead of the user's words.
_LEAK = re.compile(
    r"\b(today is|you are|assistant|tool|json|schema|select\s.+\sfrom|insert into|delete from|"
    r"drop table|update\s+\w+\s+set)\b|[{};=*]",
    re.I,
)


def query_ok(value: str, question: str) -> bool:
    """A model-written query is kept only if it is mostly the user's own words.

    At least half of its content words must occur in the question, and it must not carry
    prompt text ("Today is Wed ...") or a statement of code (SQL) the question did not contain."""
    words = content_words(value)
    said = set(content_words(question))
    if not words or not set(words) & said:
        return False
    if sum(1 for w in words if w in said) * 2 < len(words):
        return False
    leak = _LEAK.search(value)
    return leak is None or leak.group(0).lower() in question.lower()


def _ordered(args: dict[str, Any], fallback: dict[str, Any], ctx: AgentContext) -> dict[str, Any]:
    """Ensure a period's start is before its end: the rule-based window, else start + one day."""
    from tools.when import parse_when

    if "start" not in args or not args.get("end"):
        return args
    try:
        start = parse_when(str(args["start"]), ctx.now, ctx.tz)
        end = parse_when(str(args["end"]), ctx.now, ctx.tz, end=True)
    except (InputError, ValueError, OverflowError):
        start = end = None
    if start is not None and end is not None and start < end:
        return args
    fixed = dict(args)
    if fallback.get("start") and fallback.get("end"):
        fixed["start"], fixed["end"] = fallback["start"], fallback["end"]
    elif start is not None:
        fixed["end"] = (start + timedelta(days=1)).isoformat()
    return fixed


def _date_ok(value: str, ctx: AgentContext) -> bool:
    from tools.when import parse_when

    try:
        parsed = parse_when(value, ctx.now, ctx.tz)
    except (InputError, ValueError, OverflowError):
        return False
    return parsed is not None and abs((parsed - ctx.now).days) < 370
