"""Rank and diversify: three chips with distinct intents, fitted with the sender's first name.

Gmail's lesson: the top three by score are often one intent said three ways ("Sounds good",
"Sounds great", "Looks good"). Here a chip's *intent* must be new, and the set tries to span the
polarity slots positive / negative-or-deferring / neutral, but a slot is only forced when its
best candidate is close enough to the top score, so a thank-you note is not answered with
"Sorry, I can't make it". Calendar-grounded responses (``needs``) are eligible only when the
calendar check allows them, and the best one is always shown: it is the most specific chip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agents.smart_reply.responses import ResponseSet, ResponseSpec
from agents.smart_reply.schemas import CalendarCheck, Chip

#: A polarity slot is forced only for candidates within this distance of the top score.
SLOT_MARGIN = 0.15
#: Added to responses whose intent fits why the message triggered: the trigger's rules see the
#: whole text ("?" , "could you", "thank you"), which one embedding of its start can blur.
REASON_PRIOR = 0.08
_REASON_INTENTS: dict[str, frozenset[str]] = {
    "meeting_request": frozenset({"confirm_time", "propose_time", "accept", "decline"}),
    "question": frozenset({"approve", "reject", "defer", "question"}),
    "request": frozenset({"will_do", "question", "defer", "decline", "acknowledge"}),
    "thanks": frozenset({"welcome", "thanks", "acknowledge"}),
    "news": frozenset({"congrats", "thanks", "acknowledge"}),
}
N_CHIPS = 3
SLOTS = ("positive", "hold", "neutral")
_NOT_A_NAME = re.compile(r"[\d@_]|^(?:team|the|info|admin|support|sales|office|hr|it)$", re.I)


@dataclass(slots=True, frozen=True)
class GroundingContext:
    """What the calendar and the time parser found, as the ranker needs it."""

    check: CalendarCheck | None = None
    proposed_text: str | None = None
    alternative_text: str | None = None


def first_name(display_name: str, nicknames: Iterable[str] = ()) -> str | None:
    """A first name fit for a chip: the contact's nickname, else the display name's first word.

    "Chen, Marcus" becomes "Marcus"; role or list names ("Team", "Sales") and addresses give
    None, since "Thanks, Sales!" reads wrong.
    """
    for nick in nicknames:
        if nick.strip() and not _NOT_A_NAME.search(nick.strip()):
            return nick.strip()
    name = display_name.strip().strip("\"'")
    if "," in name:
        name = name.split(",", 1)[1]
    parts = name.split()
    if not parts:
        return None
    candidate = parts[0]
    if _NOT_A_NAME.search(candidate) or not candidate[0].isupper() or len(candidate) < 2:
        return None
    if candidate.isupper() and len(candidate) > 3:  # "NORTHWIND" is a company, not a person
        return None
    return candidate


def _eligible(response: ResponseSpec, ctx: GroundingContext) -> bool:
    status = ctx.check.status if ctx.check else None
    if response.needs == "proposed_time":
        return status in {"free", "tentative"} and ctx.proposed_text is not None
    if response.needs == "alternative_time":
        return status == "busy" and ctx.alternative_text is not None
    if response.needs == "on_calendar":
        return status == "on_calendar"
    if status == "on_calendar" and response.intent == "propose_time":
        return False  # the meeting is already booked; "find another time" would be noise
    # Agreeing to a time the calendar says is taken would be a wrong promise.
    return not (status == "busy" and response.intent in {"accept", "confirm_time"})


def _slot(response: ResponseSpec) -> str:
    if response.polarity == "negative" or response.intent == "defer":
        return "hold"
    return response.polarity


def rank(
    responses: ResponseSet,
    scores: Mapping[str, float],
    *,
    ctx: GroundingContext | None = None,
    name: str | None = None,
    reason: str | None = None,
    n: int = N_CHIPS,
) -> list[Chip]:
    """Pick ``n`` chips of distinct intents from ``scores`` (see the module docstring).

    ``reason`` is the trigger's reason code; responses of fitting intents get a small prior.
    """
    ctx = ctx or GroundingContext()
    fitting = _REASON_INTENTS.get(reason or "", frozenset())
    pool = sorted(
        (
            (scores[r.id] + (REASON_PRIOR if r.intent in fitting else 0.0), r)
            for r in responses.responses
            if r.id in scores and _eligible(r, ctx)
        ),
        key=lambda pair: (-pair[0], pair[1].id),
    )
    if not pool:
        return []
    chosen: list[tuple[float, ResponseSpec]] = []
    intents: set[str] = set()

    def take(pair: tuple[float, ResponseSpec]) -> None:
        chosen.append(pair)
        intents.add(pair[1].intent)

    grounded = [p for p in pool if p[1].needs is not None]
    if grounded:
        take(grounded[0])
    top = pool[0][0]
    # Thanks and news leave nothing to decline or defer: do not force a "hold" chip there.
    slots = ("positive", "neutral") if reason in {"thanks", "news"} else SLOTS
    for slot in slots:
        if len(chosen) >= n or any(_slot(r) == slot for _, r in chosen):
            continue
        for score, response in pool:
            if _slot(response) == slot and response.intent not in intents:
                if score >= top - SLOT_MARGIN:
                    take((score, response))
                break
    for pair in pool:
        if len(chosen) >= n:
            break
        if pair[1].intent not in intents:
            take(pair)
    chosen.sort(key=lambda pair: (-pair[0], pair[1].id))
    chips: list[Chip] = []
    name_used = False
    for score, response in chosen[:n]:
        # The name goes into one chip only: "Thanks, Ana!" reads natural, three times does not.
        use_name = name if (name and response.has_name_slot and not name_used) else None
        name_used = name_used or use_name is not None
        text = response.render(
            first_name=use_name,
            proposed_time=ctx.proposed_text,
            alternative_time=ctx.alternative_text,
        )
        chips.append(
            Chip(
                text=text,
                intent=response.intent,
                polarity=response.polarity,
                score=round(score, 4),
                response_id=response.id,
            )
        )
    return chips
