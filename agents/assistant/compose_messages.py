"""Answers about mail as a record, composed by code from ``list_messages`` and search results.

"When did I last hear from José?" gets the newest message from him (date in the user's zone,
subject, citation); "how many emails ..." the exact count with the newest few; "who emails me
most" the top senders with their counts; "who sent me the most mail about X" the senders of the
search hits about X, counted. Every date, count and name comes from the tool results.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from agents.assistant.args import content_words
from agents.assistant.mail_asks import record_kind, topic_words
from tools.schemas import ListMessagesResult, MessageHit, MessageView

if TYPE_CHECKING:
    from tools.context import AgentContext

#: Messages listed under a count or a list answer.
SHOWN = 5


def _day(stamp: str | None) -> str:
    from agents.assistant.compose import _day as day

    return day(stamp) if stamp else "an unknown date"


def _who(sender: str) -> str:
    return sender.split("<", maxsplit=1)[0].strip() or sender


def _cite(cited: list[str], cid: str) -> str:
    if cid and cid not in cited:
        cited.append(cid)
    return f"[{cid}]" if cid else ""


def _line(h: MessageHit, cited: list[str], *, sender: bool = True) -> str:
    by = f" — {_who(h.sender)}" if sender else ""
    return f'- {_day(h.date)}: "{h.subject}"{by} {_cite(cited, h.message_id)}'


def _period(result: ListMessagesResult) -> str:
    if result.after and result.before:
        if result.after == result.before:
            return f" on {result.after}"
        return f" between {result.after} and {result.before}"
    if result.after:
        return f" since {result.after}"
    if result.before:
        return f" before {result.before}"
    return ""


def _person(result: ListMessagesResult) -> str:
    """ "from José Martínez" / "you sent to Kenji" / "" as the answer names the filter."""
    if result.sender:
        names = {_who(h.sender) for h in result.messages}
        name = names.pop() if len(names) == 1 else result.sender
        return f"from {name}"
    if result.recipient:
        return f"you sent to {result.recipient}"
    return ""


def compose_message_list(
    result: ListMessagesResult, question: str, ctx: AgentContext, cited: list[str]
) -> str:
    """The answer a ``list_messages`` result gives to a record question (see the module doc)."""
    kind = record_kind(question)
    # Read/unread state is not something the tools return: say so rather than imply it.
    caveat = " (I can't tell which of them you have read.)" if _UNREAD.search(question) else ""
    return _record_answer(result, question, kind, cited) + caveat


_UNREAD = re.compile(r"\b(unread|unopened|haven't (read|opened)|not (read|opened))\b", re.I)


def _record_answer(result: ListMessagesResult, question: str, kind: str, cited: list[str]) -> str:
    person = _person(result)
    period = _period(result)
    if result.total == 0:
        who = person or "in your mail"
        return f"I couldn't find any email {who}{period}."
    more = "at least " if result.capped else ""
    if kind == "top" and result.top_recipients:
        return _top_recipients(result, period, cited)
    if kind == "top" and result.top_senders and not result.sender:
        top = result.top_senders[0]
        own = [h for h in result.messages if h.sender == top.person][:2]
        cites = " ".join(_cite(cited, h.message_id) for h in own)
        lines = [f"- {_who(s.person)}: {s.messages}" for s in result.top_senders]
        ties = [_who(s.person) for s in result.top_senders[1:] if s.messages == top.messages]
        tie = f" (as many as {', '.join(ties)})" if ties else ""
        head = (
            f"{_who(top.person)} sent you the most email{period}: {top.messages}{tie} of the "
            f"{more}{result.total} messages {cites}".rstrip()
        )
        return head + ".\nEmails per sender:\n" + "\n".join(lines)
    newest = result.messages[0]
    if kind == "last":
        tail = f" ({more}{result.total} in all{period})" if result.total > 1 else ""
        when, cite = _day(newest.date), _cite(cited, newest.message_id)
        subject = f'"{newest.subject}" {cite}'
        if result.sender:
            return f"The last email {person} was on {when}: {subject}{tail}."
        if result.recipient:
            return f"The last email {person} was on {when}: {subject}{tail}."
        return f"The last email you got was on {when}, from {_who(newest.sender)}: {subject}{tail}."
    n = result.total
    head = f"{more}{n} email{'s' * (n != 1)} {person or 'in your mail'}{period}".strip()
    head = head[0].upper() + head[1:]
    shown = result.messages[:SHOWN]
    label = f", the newest {len(shown)}" if n > len(shown) else ""
    lines = [_line(h, cited, sender=not result.sender) for h in shown]
    return f"{head}{label}:\n" + "\n".join(lines)


def _top_recipients(result: ListMessagesResult, period: str, cited: list[str]) -> str:
    """ "Who have I emailed the most": the people the user's sent mail went to, counted."""
    top = result.top_recipients[0]
    ties = [_who(s.person) for s in result.top_recipients[1:] if s.messages == top.messages]
    tie = f" (as many as {', '.join(ties)})" if ties else ""
    lines = [f"- {_who(s.person)}: {s.messages}" for s in result.top_recipients]
    return (
        f"You emailed {_who(top.person)} the most{period}: {top.messages}{tie} of the "
        f"{result.total} emails you sent.\nEmails per recipient:\n" + "\n".join(lines)
    )


def compose_topic_senders(
    hits: list[MessageHit], question: str, own: set[str], cited: list[str]
) -> str:
    """ "Who sent me the most mail about X": the hits about X (sharing a topic word in their
    sender, subject or text), counted by sender; the user's own mail is not counted."""
    topic = set(topic_words(question))
    unique = list({h.message_id: h for h in hits}.values())
    about = [
        h for h in unique
        if not topic or topic & set(content_words(f"{h.subject} {h.snippet}"))
    ]  # fmt: skip
    label = " ".join(topic_words(question)) or "that"
    theirs = [h for h in about if _address(h.sender) not in own]
    if about and not theirs:
        n = len(about)
        return f"The {n} email{'s' * (n != 1)} about {label} I found are all from you."
    about = theirs
    if not about:
        return f"I couldn't find any email about {label}."
    counts = Counter(_address(h.sender) for h in about)
    names = {_address(h.sender): _who(h.sender) for h in about}
    top, n = counts.most_common(1)[0]
    examples = [h for h in about if _address(h.sender) == top][:3]
    cites = " ".join(_cite(cited, h.message_id) for h in examples)
    ties = [names[a] for a, k in counts.items() if k == n and a != top]
    tie = f" (as many as {', '.join(ties)})" if ties else ""
    lines = [f"- {names[a]}: {k}" for a, k in counts.most_common(5)]
    return (
        f"Of the {len(about)} emails about {label} I found, {names[top]} sent the most: "
        f"{n}{tie} {cites}.\nEmails per sender:\n" + "\n".join(lines)
    )


def _address(sender: str) -> str:
    if "<" in sender:
        return sender.split("<", 1)[1].rstrip(">").strip().lower()
    return sender.strip().lower()


def compose_last_content(
    result: ListMessagesResult, view: MessageView, cited: list[str], *, limit: int = 3
) -> str:
    """ "What did Elena say in her last email": that message's first sentences, verbatim
    (greetings, sign-offs and footers left out), with its date, subject and citation."""
    from agents.assistant.compose import _SIGN_OFF, sentences

    said = [s for s in sentences(view.text) if not _SIGN_OFF.match(s)]
    head = (
        f'The last email {_person(result)} was on {_day(view.date)}: "{view.subject}" '
        f"{_cite(cited, view.message_id)}"
    )
    if not said:
        return head + "."
    return f"{head}. It says: " + " ".join(said[:limit])


#: A question about files sent by mail.
ATTACH = re.compile(r"\b(attach\w*|files?|documents?|pdfs?|spreadsheets?)\b", re.I)


def compose_attachments(views: list[MessageView], cited: list[str]) -> str | None:
    """The attachments of the messages read, by message; None when none has any."""
    lines = [
        f'- "{v.subject}" from {_who(v.sender)}, {_day(v.date)}: {", ".join(v.attachments)} '
        f"{_cite(cited, v.message_id)}"
        for v in views
        if v.attachments
    ]
    if not lines:
        return None
    return "Attachments:\n" + "\n".join(lines)
