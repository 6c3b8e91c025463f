"""Questions about mail as a record: who wrote, to whom, when, how often.

"When did I last hear from José?", "how many emails did Leah send me this week?", "who emails me
the most?" are not questions about what mail says: they are answered by listing messages by
sender, recipient and date (``list_messages``), not by ranking text. "Who sent me the most mail
about NW-482?" has a topic, so it is a search whose hits are counted by sender.

This module reads such questions: which kind they are (:func:`record_kind`), which person they
name and in which direction (:func:`people`), and the ``list_messages`` arguments
(:func:`list_messages_args`). Names are taken as the user typed them, lower case included; the
tool resolves them through the contacts.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from agents.assistant.args import content_words, date_phrase
from tools.context import AgentContext

RecordKind = Literal["last", "count", "top", "list"]

_MAIL = r"(?:e-?mails?|mails?|messages?|notes?|anything|something|word)"
_SEND = (
    r"(?:e-?mail(?:ed|s)?|wr(?:ote|ite|itten|ites)|messag(?:ed|es)|sen[dt]s?|contact(?:ed|s)?|"
    r"repl(?:ied|y|ies)|reach(?:ed)? out|ping(?:ed)?|got in touch)"
)
#: "from Kenji", "hear from Kenji", "did Kenji email me", "Kenji last wrote".
_FROM = re.compile(r"\bfrom (?P<p>[^?,;!]+)", re.I)
_DID_SENDER = re.compile(
    rf"\b(?:did|has|have|does|do) (?P<p>(?!i\b|we\b|you\b)[\w.@'-]+(?: [\w.@'-]+){{0,2}}?)"
    rf"(?: (?:last|ever|recently|already|actually))? {_SEND}\b",
    re.I,
)
_SENDER_LAST = re.compile(
    rf"\b(?P<p>(?!i\b|we\b)[\w.@'-]+(?: [\w.@'-]+)?)'?s? (?:last|latest|most recent) {_MAIL}\b"
    rf"|\b(?P<q>(?!i\b|we\b)[\w.@'-]+(?: [\w.@'-]+)?) last {_SEND}\b",
    re.I,
)
#: "What did Elena say in her last email": the content of one person's newest message.
_SAID_LAST = re.compile(
    rf"\b(?:did|does) (?P<p>(?!i\b|we\b|you\b)[\w.@'-]+(?: [\w.@'-]+)?) "
    rf"(?:say|said|write|wrote|send|sent|mention|ask|want)\b.{{0,30}}"
    rf"\b(?:last|latest|most recent|newest) {_MAIL}\b",
    re.I,
)
#: "did I last email Kenji", "last email I sent to Kenji", "when did we write to Kenji".
_TO = re.compile(
    rf"\b(?:i|we) (?:last |ever |recently )?{_SEND}(?: (?:an? )?{_MAIL})? (?:to )?"
    rf"(?P<p>[^?,;!]+)",
    re.I,
)
#: "last" that names a period ("emails from last week") is a date filter, not "the newest".
_LAST = re.compile(
    r"\b(last|latest|most recent|newest|recently|how long since|when did)\b"
    r"(?! (week|month|year|night|weekend|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)\b)",
    re.I,
)
_COUNT = re.compile(r"\b(how many|number of|how often|count)\b", re.I)
_TOP = re.compile(
    r"\bwho\b.{0,40}\b(most|the most|most often|more than anyone)\b|\btop (senders?|"
    r"correspondents?)\b|\bmost (frequent|active) (senders?|correspondents?)\b",
    re.I,
)
#: A topic the mail must be about ("... about the launch"): then search, not list.
_TOPIC = re.compile(r"\b(about|regarding|re:|concerning|on the subject of|mentioning)\b", re.I)
#: Is this a question about mail as a record at all?
_RECORD = re.compile(
    rf"\b(hear|heard)\b.{{0,20}}\bfrom\b"
    rf"|\b(last|latest|most recent|newest|recent|new|unread)\b.{{0,25}}\b{_MAIL}\b.{{0,10}}"
    rf"\b(from|to|by)\b"
    rf"|\bwhen did\b.{{0,40}}\b{_SEND}\b"
    rf"|\b(how many|number of)\b.{{0,30}}\b{_MAIL}\b"
    rf"|\bhow often\b.{{0,40}}\b{_SEND}\b"
    rf"|\bwho\b.{{0,30}}\b{_SEND}\b.{{0,30}}\bmost\b"
    rf"|\bwho\b.{{0,15}}\bmost\b.{{0,20}}\b{_MAIL}\b"
    rf"|\btop (senders?|correspondents?)\b"
    rf"|\b(last|latest|most recent) time\b.{{0,30}}\b({_SEND}|heard)\b"
    rf"|\bany\b.{{0,15}}\b{_MAIL}\b.{{0,10}}\bfrom\b|\b(anything|something) from\b"
    rf"|\b(show|list|give)( me)?( all)?( my| the)? (e-?mails|mails|messages)\b"
    rf"|\bwhat (e-?mails|mails?|messages)\b.{{0,20}}\b(get|got|receive|received|come in|arrive)"
    rf"|\b(did|has|have)\b.{{0,30}}\b{_SEND}\b.{{0,15}}\b(me|us|lately|recently|today|"
    rf"yesterday|this week|this month)\b",
    re.I,
)
#: Words after a name that end it ("from kenji this week", "from Leah about ...").
_NAME_END = frozenset(
    """this last next today yesterday tomorrow lately recently recent about regarding since in
    on at during before after over for me us my our the a an and or but week month year ago
    ever again yet already so far any anything mail mails email emails message messages
    sent send wrote write""".split()
)


def is_record_question(question: str) -> bool:
    """Whether ``question`` asks about mail as a record (no topic words): see the module doc."""
    if _SAID_LAST.search(question):
        return True
    if _TOPIC.search(question):
        return False
    return _RECORD.search(question) is not None


def is_topic_top_senders(question: str) -> bool:
    """ "Who sent me the most mail about X?": a topic, and who wrote most about it."""
    return _TOP.search(question) is not None and _TOPIC.search(question) is not None


def record_kind(question: str) -> RecordKind:
    """What a record question wants: the newest message, a count, the top senders, a list."""
    if _TOP.search(question):
        return "top"
    if _COUNT.search(question):
        return "count"
    if _LAST.search(question):
        return "last"
    return "list"


def _name(raw: str) -> str | None:
    """The name at the start of ``raw``: up to three words, ended by a word that is no name."""
    words: list[str] = []
    for w in raw.strip().split():
        possessive = w.endswith(("'s", "’s"))
        clean = re.sub(r"('s|’s)$", "", w.strip('.,!?"()')).strip("'")
        low = clean.lower()
        if not words and low in _LEAD:
            continue
        if not clean or low in _NAME_END:
            break
        words.append(clean)
        if possessive or len(words) == 3:
            break
    return " ".join(words) or None


#: Words before a name that are no part of it ("from my manager" → "manager").
_LEAD = frozenset("my our the his her their time last when that".split())
#: "Who have I emailed the most": the user's own sent mail, counted by recipient.
_SENT_TOP = re.compile(
    rf"\bwho (have|do|did) (i|we) (\w+ )?{_SEND}( to)?\b.{{0,20}}\bmost\b"
    r"|\bwho do (i|we) (write to|email|message) (the )?most\b",
    re.I,
)
#: "Priya emailed me": the sender before the verb.
_SENDER_ME = re.compile(rf"\b(?P<p>[\w.@'-]+(?: [\w.@'-]+)?) {_SEND} (?:me|us)\b", re.I)


def people(question: str) -> tuple[str | None, str | None]:
    """(sender, recipient) a record question names; at most one of them."""
    if _SENT_TOP.search(question):
        return None, None
    if m := _TO.search(question):
        name = _name(m.group("p"))
        if name and name.lower() not in ("me", "us"):
            return None, name
    for rx in (_SAID_LAST, _FROM, _DID_SENDER, _SENDER_LAST, _SENDER_ME):
        for m in rx.finditer(question):
            raw = m.group("p") or (m.groupdict().get("q") or "")
            name = _name(raw)
            if name and name.lower() not in _NOT_PEOPLE:
                return name, None
    return None, None


#: Words a sender pattern can catch that name nobody.
_NOT_PEOPLE = frozenset(
    """i we you me us who anyone anybody someone somebody everyone people what when which
    it they he she that this there mail email emails message messages most
    time""".split()
)


def list_messages_args(question: str, ctx: AgentContext) -> dict[str, Any]:
    """``list_messages`` arguments read off a record question."""
    from tools.when import resolve_range

    sender, recipient = people(question)
    args: dict[str, Any] = {"limit": 5}
    if _SENT_TOP.search(question):
        args["sent"] = True
    if sender:
        args["sender"] = sender
    if recipient:
        args["recipient"] = recipient
    phrase = date_phrase(question)
    if phrase:
        try:
            start, end = resolve_range(phrase, ctx.now, ctx.tz)
        except Exception:  # noqa: BLE001 - an unreadable phrase means no date filter
            return args
        # ``before`` is inclusive of its day (the tool reads it as the day's end).
        args["after"] = start.date().isoformat()
        args["before"] = (end - timedelta(seconds=1)).date().isoformat()
    return args


def topic_words(question: str) -> list[str]:
    """The topic of a "who wrote most about X" question ("nw-482", "launch")."""
    m = _TOPIC.search(question)
    rest = question[m.end() :] if m else question
    return [w for w in content_words(rest) if w not in _TOPIC_NOISE]


_TOPIC_NOISE = frozenset("most sent send emails email mail me us who".split())


#: "What did Leah say in her last email": the content of the newest message is asked for.
_CONTENT = re.compile(
    r"\bwhat (did|does|was|is)\b.{0,40}\b(say|said|write|wrote|want|ask|about|in it)\b"
    r"|\b(read|show|open) (me )?(the|her|his|their|that) (last|latest|newest)\b",
    re.I,
)


def is_content(question: str) -> bool:
    """Whether a record question also asks what the message says."""
    return _CONTENT.search(question) is not None or _SAID_LAST.search(question) is not None
