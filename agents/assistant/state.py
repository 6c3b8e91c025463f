"""State of the assistant graph (checkpointed per conversation)."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


def _union(left: list[str], right: list[str]) -> list[str]:
    return left + [x for x in right if x not in left]


class AssistantState(TypedDict, total=False):
    """What flows between nodes.

    ``messages`` keeps the whole conversation (user turns, tool calls and results, answers);
    the rest is per turn and reset by ``route``.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    #: The current user request.
    question: str
    #: Tools still to run this turn, in order.
    plan: list[str]
    #: Tools run this turn, in order.
    tools_used: list[str]
    #: Ids returned by tools this turn: the only ids an answer may cite.
    observed: Annotated[list[str], _union]
    #: Tool results this turn, as the model-facing JSON, for the answer prompt.
    evidence: list[str]
    #: Tool steps taken this turn.
    steps: int
    #: Router scores for the request (for traces and evals).
    route: list[tuple[str, float]]
    #: Final answer text and its checked citations.
    answer: str
    citations: list[str]
    #: Citations the model wrote that no tool returned (dropped, kept for observability).
    dropped_citations: list[str]
    #: The asks of a compound request and the tool each routed to (one entry when simple).
    parts: list[tuple[str, str]]
    #: Extra per-turn data for observers.
    meta: dict[str, Any]
    #: The side-effecting tool an action request asks for (``None`` for a question).
    action_tool: str | None
    #: The action proposed this turn and waiting for approval (``StoredAction.as_dict()``).
    pending_action: dict[str, Any] | None
