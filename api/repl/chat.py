"""``/chat``: one turn of the assistant graph with its tool calls, tool results and citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.services import Services


@dataclass
class ChatTurn:
    """What the assistant did in one turn."""

    conversation: str
    answer: str
    citations: list[str]
    #: ``{"name", "args", "ok", "result"}`` per tool call, in order.
    calls: list[dict[str, Any]] = field(default_factory=list)


def chat_turn(services: Services, user: str, question: str, conversation: str | None) -> ChatTurn:
    """Run ``question`` through the assistant for ``user`` (continuing ``conversation``)."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from agents.assistant.run import _config, check_question, stream_ask

    question = check_question(question, services.settings.agent.max_question_chars)
    ctx = services.agent_context(user)
    result: dict[str, Any] = {}
    for event in stream_ask(services.assistant, ctx, question, conversation):
        if event["event"] == "result":
            result = event["result"]
    conversation = str(result["conversation"])
    # The events carry only result sizes; the tool results themselves are in the graph state
    # (same config as the run used).
    config: Any = _config(ctx, conversation)
    state = services.assistant.get_state(config).values
    turn: list[Any] = []
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, HumanMessage):
            break
        turn.append(msg)
    turn.reverse()
    results = {m.tool_call_id: str(m.content) for m in turn if isinstance(m, ToolMessage)}
    calls = [
        {"name": c["name"], "args": dict(c["args"]), "result": results.get(c.get("id") or "", ""),
         "ok": not results.get(c.get("id") or "", "").startswith("error:")}
        for m in turn if isinstance(m, AIMessage) for c in m.tool_calls
    ]  # fmt: skip
    return ChatTurn(
        conversation=conversation,
        answer=str(result.get("answer", "")),
        citations=[str(c) for c in result.get("citations", [])],
        calls=calls,
    )
