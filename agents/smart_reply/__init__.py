"""Smart-reply chips (Gmail's design, grounded in the calendar) and full LLM draft replies.

* :func:`suggest` — three short reply chips for one message, or a reason not to suggest any:
  triggering (:mod:`.trigger`), retrieval of curated responses from ``responses.yaml`` by
  embedding similarity (:mod:`.index`), calendar grounding of meeting chips (:mod:`.grounding`,
  :mod:`.timeparse`) and diversified ranking (:mod:`.rank`). No LLM on this path.
* :func:`draft_reply` — a longer reply written by any LangChain chat model, with calendar and
  contact context, email content marked as untrusted data (:mod:`.draft`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.smart_reply.schemas import (
    CalendarCheck,
    Chip,
    ProposedTime,
    SmartReplyResult,
    TriggerDecision,
)

if TYPE_CHECKING:
    from agents.smart_reply.draft import draft_reply
    from agents.smart_reply.service import SmartReplier, suggest

__all__ = [
    "CalendarCheck",
    "Chip",
    "ProposedTime",
    "SmartReplier",
    "SmartReplyResult",
    "TriggerDecision",
    "draft_reply",
    "suggest",
]


def __getattr__(name: str) -> Any:
    # Lazy: the chip path pulls in numpy/dateutil and draft_reply pulls in langchain-core;
    # importing the package for its result types should cost neither.
    if name in {"suggest", "SmartReplier"}:
        from agents.smart_reply import service

        return getattr(service, name)
    if name == "draft_reply":
        from agents.smart_reply.draft import draft_reply

        return draft_reply
    raise AttributeError(name)
