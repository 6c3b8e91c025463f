"""Attribute instructions found in mail to their sender.

A summary is read in the assistant's voice. "Wire $5,000 to account 12345 immediately." copied
from a mail reads as the assistant's advice; "Greg Tanner asks you to wire $5,000 to account 12345
immediately." does not. Sentences that instruct the reader are rewritten that way; text aimed at
an AI assistant (role markers, "ignore previous instructions") is quoted as what the email says
and never becomes an action item.
"""

from __future__ import annotations

import re

from agents.safety.sanitize import sanitize
from core.types import Message

#: Verbs that open an instruction to the reader ("Wire the money", "Click the link").
_IMPERATIVE_VERBS = frozenset(
    "add answer approve book buy call cancel change check click complete confirm contact "
    "delete disregard do download email enter execute fill follow forget forward give go "
    "ignore install keep let log login make move open pay print process provide purchase "
    "read remove reply reset respond review run scan schedule scratch send share sign submit "
    "tell text transfer type update upload use verify visit wire".split()
)
_POLITE = re.compile(r"^(?:please|kindly|pls)\s*,?\s+(?!find\b|see\b|note\b|be advised\b)", re.I)
_NEED_YOU = re.compile(r"^(?:i|we)\s+(?:need|want|would like|require)\s+you\s+to\s+", re.I)
_YOU_MUST = re.compile(
    r"^you\s+(must|need to|have to|should|are required to|are asked to)\s+(.+)$", re.I | re.S
)
_NEGATIVE = re.compile(r"^(?:don'?t|do not|never)\s+", re.I)
_ASK_YOU = re.compile(r"^(?:could|can|would|will)\s+you\s+(?:please\s+)?(.+?)\??$", re.I | re.S)


def sender_label(message: Message | None) -> str:
    """How a summary names the sender: their name, else their address, else "The sender"."""
    if message is None or message.sender is None:
        return "The sender"
    return message.sender.name.strip() or message.sender.email or "The sender"


def is_injection(text: str) -> bool:
    """Whether ``text`` addresses an AI assistant (role markers, chat tokens, overrides...)."""
    return sanitize(text).injection


def _lower_first(text: str) -> str:
    # Keep "I", acronyms and names ("ACME", "Dana") as they are.
    head = text.split(" ", 1)[0]
    if head == "I" or (len(head) > 1 and head[:2].isupper()):
        return text
    return text[:1].lower() + text[1:]


def _end(text: str) -> str:
    text = text.strip().rstrip("?!").rstrip()
    return text if text.endswith(".") else f"{text}."


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` tells the reader to do something (imperative, "please ...",
    "I need you to ...", "you must ...")."""
    s = _POLITE.sub("", sentence.strip())
    if _POLITE.match(sentence.strip()) or _NEED_YOU.match(s) or _YOU_MUST.match(s):
        return True
    if (m := _NEGATIVE.match(s)) and s[m.end() :].split(" ", 1)[0].lower() in _IMPERATIVE_VERBS:
        return True
    first = re.split(r"[\s,:;]+", s, maxsplit=1)[0].lower().strip("\"'")
    return first in _IMPERATIVE_VERBS


def attribute(sentence: str, who: str, *, questions: bool = False) -> str:
    """``sentence`` in the sender's voice when it instructs the reader, else unchanged.

    ``questions`` also rewrites requests phrased as questions ("Could you forward ...?" ->
    "Priya asks you to forward ..."), which action items want and summary sentences do not need
    (a question already reads as the sender's)."""
    text = sentence.strip()
    if is_injection(text):
        return f'The email from {who} says: "{text}"'
    s = _POLITE.sub("", text)
    if m := _NEED_YOU.match(s):
        return f"{who} asks you to {_end(s[m.end() :])}"
    if m := _YOU_MUST.match(s):
        return f"{who} says you {m.group(1).lower()} {_end(m.group(2))}"
    if (m := _NEGATIVE.match(s)) and is_instruction(s):
        return f"{who} asks you not to {_end(s[m.end() :])}"
    if questions and (m := _ASK_YOU.match(s)):
        return f"{who} asks you to {_end(m.group(1))}"
    if is_instruction(text):
        return f"{who} asks you to {_end(_lower_first(s))}"
    return sentence
