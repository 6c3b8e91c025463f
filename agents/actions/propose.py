"""Turn an action request into a :class:`~agents.actions.schemas.ProposedAction`, by code.

Arguments come from the request wherever code can read them: addresses typed by the user,
names resolved through the user's contacts, dates and times parsed from the request, the
message a reply answers (the newest one from that person), the invitation or event named by
its title words. The model only writes free text the user did not dictate (an email body), and
it sees nothing but the user's request while doing so: no mail, event or contact text reaches
it. Every argument is tagged with where it came from (:mod:`agents.actions.provenance`).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from agents.actions.provenance import Provenance, Tagged, tagged
from agents.actions.schemas import ADDRESS, ActionTool, ProposedAction
from agents.assistant.args import content_words, date_phrase, duration_minutes
from core.errors import InputError
from tools.when import resolve_range

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from core.types import Event, Message
    from tools.context import AgentContext


class ActionUnclearError(InputError):
    """The request is an action, but code could not read what it needs (who, when, which)."""

    code = "action_unclear"


#: Where a dictated body starts: "... saying I'll be there", "... to say thanks".
_SAYING = re.compile(
    r"\b(?:saying|that says|to say|and say|telling (?:him|her|them)|to tell (?:him|her|them)|"
    r"with the message|with)\s*[:,]?\s+(?P<body>.+)$",
    re.I | re.S,
)
_ABOUT = re.compile(r"\babout\s+(?P<topic>.+?)(?:[.?!]|$|\s+saying\b|\s+that says\b)", re.I)
_NAME_AFTER = re.compile(
    r"\b(?:to|email|e-mail|mail|tell|message|write|reply to|respond to|answer|with|invite)\s+"
    r"(?P<name>[A-Z][\w\u00C0-\u017F'-]+(?:\s+[A-Z][\w\u00C0-\u017F'-]+)?)"
)
_TITLE = re.compile(
    r"\b(?:called|named|titled|title it|for)\s+[\"“']?(?P<title>[^\"”']+?)[\"”']?\s*"
    r"(?:$|[.!?]|\s+(?:at|on|tomorrow|today|next|from|with|in)\b)",
    re.I,
)
_QUOTED = re.compile(r"[\"“](?P<q>[^\"”]+)[\"”]")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.I)
_PARTSTAT = (
    (re.compile(r"\btentative(ly)?\b|\bmaybe\b", re.I), "TENTATIVE"),
    (re.compile(r"\b(decline|reject|say no)\b", re.I), "DECLINED"),
    (re.compile(r"\b(accept|say yes|rsvp)\b", re.I), "ACCEPTED"),
)
_TIME = re.compile(
    r"\b(?:(?P<noon>noon|midday)|(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?\s*(?P<ap>a\.?m\.?|p\.?m\.?)|"
    r"(?P<h24>[01]?\d|2[0-3]):(?P<mi24>[0-5]\d))",
    re.I,
)
#: Words of an action request that do not name the event or the topic.
_ACTION_WORDS = frozenset(
    """accept decline reject tentatively tentative rsvp invitation invite invited the to a an
    my our meeting event move reschedule rename change update push shift appointment please
    yes no say calendar call create add schedule book put set make new called named titled at
    on from until till pm am noon""".split()
)


def urls_in(text: str) -> list[str]:
    """Links in ``text`` (http(s) URLs and bare ``www.`` hosts)."""
    return [u.rstrip(".,;:!?") for u in _URL.findall(text)]


def addresses_in(text: str) -> list[str]:
    """Email addresses typed in ``text``, lower-cased, in order."""
    return list(dict.fromkeys(m.group(0).lower() for m in ADDRESS.finditer(text)))


def _user(value: Any, note: str = "from your request") -> Tagged[Any]:
    return tagged(value, Provenance.user(note))


def _recipients(question: str, ctx: AgentContext, *, body: bool = True) -> list[Tagged[Any]]:
    """Who the user named: typed addresses, then names resolved through their contacts.

    A contact from the user's address book (a vCard) is trusted; a person known only from mail
    headers is not (anyone can send mail as "Bob <bob@evil.example>"), so such an address is
    flagged in the approval prompt.
    """
    # Only the part before a dictated body names recipients ("tell Bob ... saying ask Ann").
    head = question[: m.start()] if body and (m := _SAYING.search(question)) else question
    out: list[Tagged[Any]] = [_user(a, "typed in your request") for a in addresses_in(head)]
    typed = {t.value for t in out}
    for m in _NAME_AFTER.finditer(head):
        name = m.group("name")
        if name.lower() in {"i", "me", "us", "him", "her", "them"} or "@" in name:
            continue
        matches = ctx.backends.contacts.lookup(ctx.user, name, limit=3)
        best = next((c for c in matches if c.score >= 85 and c.contact.emails), None)
        if best is None:
            continue
        email = best.contact.emails[0].lower()
        if email in typed:
            continue
        typed.add(email)
        note = f"looked up '{name}' in your contacts"
        if best.contact.source == "mail":
            prov = Provenance.content("contact", [best.contact.uid], note + " (known from mail)")
        else:
            prov = Provenance(
                source="contact", ids=[best.contact.uid], trusted=True,
                note=note + " (your address book)",
            )  # fmt: skip
        out.append(tagged(email, prov))
    return out


def _body(
    question: str, recipient: str, model: BaseChatModel | None
) -> tuple[str, Provenance] | None:
    """The body: the user's dictated words, else the model's text written from the request."""
    if m := _SAYING.search(question):
        said = m.group("body").strip()
        if said:
            text = said[0].upper() + said[1:]
            return (text if text[-1] in ".!?" else text + "."), Provenance.user("your words")
    if model is None:
        return None
    from prompts import render

    try:
        raw = str(model.invoke(render("action_email_body", request=question,
                                      recipient=recipient)).content)  # fmt: skip
    except Exception:  # noqa: BLE001 - no body is a clear outcome, a model error is not fatal
        return None
    text = clean_body(raw)
    if text is None:
        return None
    return text, Provenance.tool("written by the model from your request only")


#: Template slots a small model leaves in a letter ("[Your Name]", "<recipient>").
_PLACEHOLDER = re.compile(r"\[[^\]\n]{2,40}\]|<[A-Za-z ]{2,30}>|\{[^}\n]{2,30}\}")


def clean_body(raw: str) -> str | None:
    """The model's body without a subject line or wrapping quotes; ``None`` when it is empty
    or still has template slots ("[Your Name]"): such a body is not offered."""
    lines = [
        ln for ln in raw.strip().strip('"').splitlines() if not re.match(r"\s*subject:", ln, re.I)
    ]
    text = "\n".join(lines).strip()[:2000].strip()
    if not text or _PLACEHOLDER.search(text):
        return None
    return text


def _template_body(question: str, recipient: str) -> tuple[str, Provenance] | None:
    """A plain body from the topic the user named, when the model wrote nothing usable."""
    m = _ABOUT.search(question)
    if m is None:
        return None
    first = recipient.split("@", maxsplit=1)[0].split(".", maxsplit=1)[0].capitalize()
    text = f"Hi {first},\n\nI'm writing about {m.group('topic').strip()}.\n\nBest regards"
    return text, Provenance.tool("a template around the topic you named")


def _subject(question: str, reply_to: Message | None) -> Tagged[Any]:
    if reply_to is not None:
        subj = reply_to.subject or ""
        subj = subj if subj.lower().startswith("re:") else f"Re: {subj}".strip()
        return tagged(
            subj[:300],
            Provenance.content("mail", [reply_to.id], "the subject of the message you reply to"),
        )
    if q := _QUOTED.search(question):
        return _user(q.group("q").strip()[:300])
    if m := _ABOUT.search(question):
        topic = m.group("topic").strip()
        return _user((topic[0].upper() + topic[1:])[:300], "the topic you named")
    return tagged("(no subject)", Provenance.tool("no topic was named"))


def _latest_from(ctx: AgentContext, address: str) -> Message | None:
    found = ctx.backends.store.list_messages(ctx.user, sender=address, limit=5)
    exact = [m for m in found if m.sender and m.sender.email.lower() == address]
    return exact[0] if exact else None


def propose_email(
    tool: ActionTool, question: str, ctx: AgentContext, model: BaseChatModel | None
) -> ProposedAction:
    """``send_email`` / ``save_draft``: recipients, subject and body from the request."""
    to = _recipients(question, ctx)
    if not to:
        raise ActionUnclearError(
            "I could not tell who the email is for: name a contact or type their address"
        )
    args: dict[str, Tagged[Any]] = {"to": _merge_list(to)}
    reply_to = None
    if re.search(r"\b(reply|respond|answer|write back)\b", question, re.I):
        reply_to = _latest_from(ctx, str(to[0].value))
        if reply_to is not None:
            args["in_reply_to"] = tagged(
                reply_to.id,
                Provenance.tool(f"the newest message from {to[0].value}"),
            )
    args["subject"] = _subject(question, reply_to)
    first = str(to[0].value)
    body = _body(question, first, model) or _template_body(question, first)
    if body is None:
        raise ActionUnclearError(
            'I could not tell what the email should say: add e.g. "saying I\'ll be there"'
        )
    args["body"] = tagged(*body)
    verb = "Save a draft" if tool == "save_draft" else "Send an email"
    names = ", ".join(str(a) for a in args["to"].value)
    summary = f"{verb} to {names}: {args['subject'].value}"
    return ProposedAction(tool=tool, args=args, summary=summary, request=question)


def _merge_list(items: list[Tagged[Any]]) -> Tagged[Any]:
    prov = items[0].provenance
    for t in items[1:]:
        prov = prov.merge(t.provenance)
    return tagged([t.value for t in items], prov)


def _topic_words(question: str, *, until_to: bool) -> set[str]:
    phrase = date_phrase(question)
    rest = question.lower().replace(phrase, " ") if phrase else question.lower()
    rest = _TIME.sub(" ", rest)
    if until_to:  # "move the review to friday": the new value is not the event's name
        rest = re.split(r"\bto\s+(?=\w)", rest, maxsplit=1)[0]
    return {w for w in content_words(rest) if w not in _ACTION_WORDS}


def _find_event(question: str, ctx: AgentContext, *, invitations: bool) -> Event | None:
    """The stored event whose title shares the most words with the request (upcoming first)."""
    words = _topic_words(question, until_to=not invitations)
    start = ctx.now - timedelta(days=1)
    events = ctx.backends.calendars.events_between(
        ctx.user, start, ctx.now + timedelta(days=120), tz=ctx.tz, include_cancelled=False
    )
    best: tuple[int, Event] | None = None
    for e in events:
        if invitations and not e.organizer:
            continue
        overlap = len(words & set(content_words(f"{e.summary} {e.location}")))
        if overlap and (best is None or overlap > best[0]):
            best = (overlap, e)
    return best[1] if best else None


def _event_prov(e: Event, note: str) -> Provenance:
    return Provenance.content("event", [e.uid], note)


def propose_invitation_reply(question: str, ctx: AgentContext) -> ProposedAction:
    """``reply_to_invitation``: the invitation named by its title words, the user's answer."""
    partstat = next((p for rx, p in _PARTSTAT if rx.search(question)), "ACCEPTED")
    event = _find_event(question, ctx, invitations=True)
    if event is None or not event.organizer:
        raise ActionUnclearError(
            "I could not find that invitation in your calendar: name it by its title"
        )
    args: dict[str, Tagged[Any]] = {
        "event_uid": tagged(event.uid, _event_prov(event, "the invitation you named")),
        "partstat": _user(partstat, "your answer"),
        "organizer": tagged(event.organizer.lower(), _event_prov(event, "the organizer")),
        "summary": tagged(event.summary, _event_prov(event, "the invitation's title")),
    }
    word = {"ACCEPTED": "Accept", "DECLINED": "Decline", "TENTATIVE": "Tentatively accept"}
    summary = f"{word[partstat]} '{event.summary}' (reply to {event.organizer})"
    return ProposedAction(tool="reply_to_invitation", args=args, summary=summary, request=question)


def _time_of(question: str) -> time | None:
    m = _TIME.search(question)
    if m is None:
        return None
    if m.group("noon"):
        return time(12, 0)
    if m.group("h24"):
        return time(int(m.group("h24")), int(m.group("mi24")))
    hour, minute = int(m.group("h")), int(m.group("mi") or 0)
    if hour > 12:
        return None
    pm = m.group("ap").lower().startswith("p")
    return time((hour % 12) + (12 if pm else 0), minute)


def _when(question: str, ctx: AgentContext) -> datetime | None:
    """The start the request names: a date phrase plus a time of day."""
    phrase = date_phrase(question)
    at = _time_of(question)
    if phrase is None and at is None:
        return None
    day = resolve_range(phrase, ctx.now, ctx.tz)[0] if phrase else ctx.local_now
    at = at or time(9, 0)
    start = day.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if phrase is None and start <= ctx.local_now:
        start += timedelta(days=1)  # "at 3pm" said after 3pm means tomorrow
    return start


def propose_create_event(question: str, ctx: AgentContext) -> ProposedAction:
    """``create_event``: title, start, end and attendees from the request."""
    start = _when(question, ctx)
    if start is None:
        raise ActionUnclearError("I could not tell when: say e.g. 'tomorrow at 3pm'")
    title = None
    if m := _QUOTED.search(question):
        title = m.group("q").strip()
    elif m := _TITLE.search(question):
        title = m.group("title").strip()
    if not title:
        words = [w for w in content_words(question) if w not in _ACTION_WORDS]
        title = " ".join(words[:6]).capitalize() or "New event"
    minutes = duration_minutes(question) or 60
    args: dict[str, Tagged[Any]] = {
        "summary": _user(title[:500], "the title you gave"),
        "start": tagged(start.isoformat(), Provenance.tool("the time you named, resolved")),
        "end": tagged(
            (start + timedelta(minutes=minutes)).isoformat(),
            Provenance.tool(f"{minutes} minutes after the start"),
        ),
    }
    people = _recipients(question, ctx, body=False)
    if people:
        args["attendees"] = _merge_list(people)
    local = start.strftime("%a %d %b %Y %H:%M")
    summary = f"Create '{title}' on {local} ({ctx.zone_name}), {minutes} min"
    return ProposedAction(tool="create_event", args=args, summary=summary, request=question)


def propose_update_event(question: str, ctx: AgentContext) -> ProposedAction:
    """``update_event``: the event named by its title words, a new time or a new title."""
    event = _find_event(question, ctx, invitations=False)
    if event is None:
        raise ActionUnclearError("I could not find that event in your calendar: name its title")
    args: dict[str, Tagged[Any]] = {
        "event_uid": tagged(event.uid, _event_prov(event, "the event you named")),
    }
    changes: list[str] = []
    if m := re.search(r"\brename\b.*?\bto\s+[\"“']?(?P<t>[^\"”']+?)[\"”']?\s*$", question, re.I):
        args["summary"] = _user(m.group("t").strip()[:500], "the new title you gave")
        changes.append(f"title '{m.group('t').strip()}'")
    else:
        start = _when(question, ctx)
        if start is None:
            raise ActionUnclearError("I could not tell the new time: say e.g. 'to friday at 4pm'")
        length = event.end - event.start
        args["start"] = tagged(start.isoformat(), Provenance.tool("the new time you named"))
        args["end"] = tagged(
            (start + length).isoformat(), Provenance.tool("the event's length kept")
        )
        changes.append(start.strftime("to %a %d %b %Y %H:%M"))
    summary = f"Update '{event.summary}': {', '.join(changes)}"
    return ProposedAction(tool="update_event", args=args, summary=summary, request=question)


def propose(
    tool: str, question: str, ctx: AgentContext, *, model: BaseChatModel | None = None
) -> ProposedAction:
    """The proposal for ``tool`` read off ``question`` (:class:`ActionUnclearError` when the
    request lacks something code needs)."""
    if tool in ("send_email", "save_draft"):
        return propose_email(tool, question, ctx, model)  # type: ignore[arg-type]
    if tool == "reply_to_invitation":
        return propose_invitation_reply(question, ctx)
    if tool == "create_event":
        return propose_create_event(question, ctx)
    if tool == "update_event":
        return propose_update_event(question, ctx)
    raise InputError(f"unknown action {tool!r}")
