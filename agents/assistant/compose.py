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
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from agents.assistant.args import content_words
from tools.schemas import (
    ContactView,
    EventView,
    FindFreeTimeResult,
    ListEventsResult,
    LookupContactsResult,
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
    (re.compile(r"\b(phone|number|mobile|cell|call)\b"), "phones"),
    (re.compile(r"\b(e-?mail|address|reach)\b"), "emails"),
    (re.compile(r"\b(title|role|job|position|do(es)? .* do)\b"), "title"),
    (re.compile(r"\b(company|organi[sz]ation|work(s)? (for|at)|employer)\b"), "organization"),
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


def _event_line(e: EventView, question: str, ctx: AgentContext, cited: list[str]) -> str:
    q = question.lower()
    end = e.end if e.all_day else " ".join(e.end.split()[4:])
    when = f"{_day(e.start)} (all day)" if e.all_day else f"{_day(e.start)} to {end}"
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
    if people:
        label = "other attendees" if _OTHERS.search(q) else "attendees"
        line += f"; {label}: {', '.join(people)}"
    elif _WHO.search(q):
        line += "; no attendees listed"
    if e.organizer and _WHO.search(q):
        line += f"; organizer: {e.organizer.removeprefix('mailto:')}"
    return f"{line} {_cite(cited, e.event_id)}"


def _best_events(events: list[EventView], question: str) -> list[EventView]:
    """The events the question names (most title words in common), else all of them."""
    said = set(content_words(question))
    scored = [(len(said & set(content_words(f"{e.summary} {e.location}"))), e) for e in events]
    top = max(n for n, _ in scored)
    if top == 0:
        return events
    return [e for n, e in scored if n == top][:3]


def compose_events(
    result: ListEventsResult, question: str, ctx: AgentContext, cited: list[str]
) -> str:
    """Events as lines (title, time with zone, location, attendees), counted when asked."""
    q = question.lower()
    events = result.events
    if not events:
        return f"I couldn't find any matching event between {result.start} and {result.end}."
    zone = f" Times are in {ctx.zone_name}."
    if not _COUNT.search(q):
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
    result: FindFreeTimeResult, question: str = "", ctx: AgentContext | None = None
) -> str:
    """Free slots in time order, or that there are none; "am I free at 3pm" gets a yes or no."""
    asked = find_time_of_day(question) if question else None
    if asked is not None and ctx is not None and result.slots:
        for slot in result.slots:
            lo, hi = _parse_local(slot.start, ctx), _parse_local(slot.end, ctx)
            if lo is not None and hi is not None and lo.time() <= asked < hi.time():
                return f"Yes, you're free at {asked:%H:%M}: {_day(slot.start)} to {hi:%H:%M}."
    if not result.slots:
        return (
            f"I couldn't find a free {result.duration_minutes}-minute slot in working hours "
            f"between {result.window_start} and {result.window_end}."
        )
    slots = "; ".join(
        f"{_day(s.start)} to {' '.join(s.end.split()[4:])}"
        + (" (tentative conflict)" if s.tentative_conflicts else "")
        for s in sorted(result.slots, key=lambda s: _sort_key(s.start, ctx))
    )
    head = f"Free {result.duration_minutes}-minute slots"
    if asked is not None:
        head = f"No free slot found at {asked:%H:%M}; free {result.duration_minutes}-minute slots"
    return f"{head}: {slots}."


def _sort_key(stamp: str, ctx: AgentContext | None) -> str:
    parsed = _parse_local(stamp, ctx) if ctx is not None else None
    return parsed.isoformat() if parsed is not None else stamp


def asked_fields(question: str) -> list[str]:
    """The contact fields a question asks for (empty: it asks who someone is)."""
    q = question.lower()
    return [name for rx, name in _FIELD_CUES if rx.search(q)]


def contact_has_answer(contact: ContactView, question: str) -> bool:
    """Whether a contact holds what the question asks (a "who is" wants a title or company)."""
    fields = asked_fields(question) or ["title", "organization"]
    return any(getattr(contact, f) for f in fields)


def compose_contacts(result: LookupContactsResult, question: str, cited: list[str]) -> str | None:
    """Contacts with the fields asked for; None when no contact answers (search mail then)."""
    useful = [c for c in result.contacts if contact_has_answer(c, question)]
    said = set(content_words(question))
    named = [c for c in useful if said & set(content_words(c.name))]
    useful = named or useful[:1]
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


_HIGHLIGHT = re.compile(r"\[([^\]\[]{1,40})\]")
_GREETING = re.compile(r"^(hi|hello|hey|dear)\s+[\w .'-]{1,30},\s*", re.I)
_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


def sentences(text: str) -> list[str]:
    """Sentences of a message body, whitespace-normalised, quote markers and noise dropped."""
    out: list[str] = []
    for raw in (s for block in _unwrap(text) for s in _SENTENCE.split(block)):
        s = _GREETING.sub("", " ".join(raw.strip(" >\t").split()))
        # Truncation markers, greetings and signatures carry no fact.
        if len(s) < 12 or s.startswith("…[truncated") or re.fullmatch(r"[\W\w]{0,25},", s):
            continue
        out.append(s)
    return out


def _mail_candidates(
    artifacts: Sequence[BaseModel], question: str = ""
) -> list[tuple[str, str, float]]:
    """(sentence, message id, prior) from the messages read and the top search hits.

    A message from someone the question names ("what did José quote") gets a higher prior."""
    said = set(content_words(question))

    def from_named(sender: str) -> float:
        return 0.1 if said & set(content_words(_who(sender))) else 0.0

    out: list[tuple[str, str, float]] = []
    seen: set[str] = set()
    for a in artifacts:
        views: list[MessageView] = []
        if isinstance(a, MessageView):
            views = [a]
        elif isinstance(a, ThreadView):
            views = list(reversed(a.messages))  # the latest message is the news
        for rank, m in enumerate(views):
            for s in sentences(m.text):
                if s not in seen:
                    seen.add(s)
                    prior = 0.06 - 0.01 * min(rank, 5) + from_named(m.sender)
                    out.append((s, m.message_id, prior))
    read_text = " ".join(" ".join(s for s, _m, _p in out).split())
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            for rank, h in enumerate(a.hits[:3]):
                # Search snippets mark matched words "[like] this": not citations, unmark them.
                for s in sentences(_HIGHLIGHT.sub(r"\1", h.snippet)):
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


def compose_mail(
    artifacts: Sequence[BaseModel],
    question: str,
    cited: list[str],
    embedder: Embedder | None = None,
    *,
    max_sentences: int = 3,
) -> str:
    """The evidence sentences that answer ``question``, verbatim, each with its citation."""
    hits = [h for a in artifacts if isinstance(a, SearchMailboxResult) for h in a.hits]
    read = [a for a in artifacts if isinstance(a, MessageView | ThreadView)]
    topic = " ".join(content_words(question)[:6]) or "that"
    if not hits and not read:
        return f"I couldn't find any email about {topic}."
    q = question.lower()
    if _COUNT.search(q) and hits:
        n = len({h.message_id for h in hits})
        lines = [
            f"- {h.subject} — {_who(h.sender)}, {h.date} {_cite(cited, h.message_id)}" for h in hits
        ]
        return f"I found {n} matching email{'s' * (n != 1)}:\n" + "\n".join(lines)
    if not _mail_mentions(artifacts, question):
        return f"I couldn't find any email about {topic}."
    candidates = _mail_candidates(artifacts, question)
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
    return bool(said & found)


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


def compose(
    question: str,
    artifacts: Sequence[BaseModel],
    ctx: AgentContext,
    embedder: Embedder | None = None,
) -> Composed | None:
    """An answer to ``question`` from this turn's tool results, or None when none applies."""
    cited: list[str] = []
    parts: list[str] = []
    mail = [a for a in artifacts if isinstance(a, SearchMailboxResult | MessageView | ThreadView)]
    contacts = [a for a in artifacts if isinstance(a, LookupContactsResult)]
    contact_text = None
    for c in contacts:
        contact_text = compose_contacts(c, question, cited)
        if contact_text:
            parts.append(contact_text)
            break
    for a in artifacts:
        if isinstance(a, ListEventsResult):
            parts.append(compose_events(a, question, ctx, cited))
        elif isinstance(a, FindFreeTimeResult):
            parts.append(compose_slots(a, question, ctx))
    if mail and not contact_text:
        text = compose_mail(mail, question, cited, embedder)
        if contacts and cited:
            # A person question the contacts could not answer: say where the fact came from.
            text = f"From the email {_mail_source(mail, cited[0])}: {text}"
        parts.append(text)
    elif contacts and not contact_text:
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
