"""Is a request an action ("send an email to ...") rather than a question, and which one?

Decided by code: an action needs an imperative verb at the start of the request ("draft",
"send", "reply", "accept", "create", "move", optionally after "please" / "can you"), so a
question that merely mentions sending ("did Bob send the invoice?") is never an action. When
the verbs allow more than one tool, the embedding router's action examples
(``agents/assistant/intents.yaml``) break the tie.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_LEAD = (
    r"^\s*(?:(?:hey|ok|okay|mailmind)[,!]?\s+)?(?:please\s+|pls\s+)?"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
)
#: (pattern, tools it may mean), checked in order; the first match wins unless it is ambiguous.
_RULES: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(_LEAD + r"(?:accept|decline|reject|tentatively accept|rsvp\b|say (?:yes|no) to)"
                r".*\b(?:invit\w*|meeting|event|call|session|review|lunch|dinner|sync)\b", re.I),
     ("reply_to_invitation",)),
    (re.compile(_LEAD + r"(?:draft|prepare|compose)\b", re.I), ("save_draft",)),
    (re.compile(_LEAD + r"write\b(?!.*\b(?:event|calendar)\b)", re.I),
     ("save_draft", "send_email")),
    (re.compile(_LEAD + r"(?:send|e-?mail|mail|reply|respond|answer|write back|forward|"
                r"tell(?!\s+(?:me|us)\b))\b"
                r"(?!.*\b(?:invitation|invite)\b.*\b(?:accept|decline)\b)", re.I),
     ("send_email",)),
    (re.compile(_LEAD + r"(?:create|add|schedule|book|put|set up|make)\b.*"
                r"\b(?:event|meeting|appointment|call|calendar|called|named|titled|lunch|dinner)\b",
                re.I), ("create_event",)),
    (re.compile(_LEAD + r"(?:move|reschedule|rename|change|update|push|shift)\b.*"
                r"\b(?:event|meeting|appointment|call|standup|review|sync|lunch|dinner|to)\b",
                re.I), ("update_event",)),
]  # fmt: skip
#: A question, not an order ("when did I send ...", "what did Bob reply?").
_QUESTION = re.compile(
    r"^\s*(?:what|whats|what's|who|whom|when|where|which|why|how|did|do|does|is|are|was|were|"
    r"has|have|had|am|any)\b",
    re.I,
)


def candidate_tools(question: str) -> tuple[str, ...]:
    """The action tools ``question`` may ask for (empty: it is not an action request)."""
    text = question.strip()
    if not text or _QUESTION.search(text):
        return ()
    for pattern, tools in _RULES:
        if pattern.search(text):
            return tools
    return ()


def detect_action(
    question: str, rank: Callable[[str, Sequence[str]], str] | None = None
) -> str | None:
    """The action tool ``question`` asks for, or ``None`` for a question.

    ``rank(question, candidates)`` picks among several candidates (the router's embedding
    ranking); without it the first candidate wins.
    """
    tools = candidate_tools(question)
    if not tools:
        return None
    if len(tools) > 1 and rank is not None:
        return rank(question, tools)
    return tools[0]
