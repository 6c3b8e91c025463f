"""Which event a "next", "first" or "last" question asks about.

"What's my next meeting with Marcus?" wants one event, the first from now on, not the weekly
series for six weeks; "what time is my first meeting on Monday?" the earliest of that day;
"when was my last 1:1?" the latest before now. A date word after "next" ("next week",
"next Monday") names a period instead, and counting questions want every event.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from tools.schemas import EventView

if TYPE_CHECKING:
    from tools.context import AgentContext

_PERIOD = r"(?:week|month|year|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_NEXT = re.compile(rf"\b(next|upcoming|soonest)\b(?! {_PERIOD}\b)", re.I)
_FIRST = re.compile(r"\b(first|earliest)\b", re.I)
_LAST = re.compile(rf"\b(last|latest|previous|most recent)\b(?! {_PERIOD}\b)", re.I)


def wants_one(question: str) -> bool:
    """Whether the question asks for one event of several (next / first / last)."""
    return bool(_NEXT.search(question) or _FIRST.search(question) or _LAST.search(question))


def pick_one(events: list[EventView], question: str, ctx: AgentContext) -> list[EventView]:
    """The one event asked for, or ``events`` unchanged when none fits."""
    from agents.assistant.compose import _parse_local

    timed: list[tuple[datetime, EventView]] = []
    for e in events:
        start = _parse_local(e.start, ctx)
        if start is not None:
            timed.append((start, e))
    if not timed:
        return events
    timed.sort(key=lambda t: t[0])
    if _LAST.search(question):
        past = [e for t, e in timed if t <= ctx.now]
        return past[-1:] or events
    if _NEXT.search(question):
        ahead = [e for t, e in timed if t >= ctx.now]
        return ahead[:1] or events
    return [timed[0][1]]
