"""Running the assistant for one request: a result object, or a stream of events.

Conversations are checkpointed under ``thread_id = "<user>/<conversation>"``: the user part comes
from the caller's identity, so one user can never load another's conversation by guessing its id.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from core.errors import InputError
from tools.context import AgentContext

#: The longest question accepted by default (setting ``MAILMIND_AGENT__MAX_QUESTION_CHARS``).
DEFAULT_MAX_QUESTION_CHARS = 2000


def check_question(question: object, max_chars: int | None = DEFAULT_MAX_QUESTION_CHARS) -> str:
    """Validate a question before anything runs; returns it stripped.

    An empty or blank question used to get generated text back ("I'm sorry for your loss"), and a
    100 kB one ran every tool before the model rejected the prompt: both are input errors."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty: ask something, e.g. 'what did Kenji send today?'")
    text = question.strip()
    if max_chars is not None and len(text) > max_chars:
        raise InputError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,} "
            "(MAILMIND_AGENT__MAX_QUESTION_CHARS)"
        )
    return text


@dataclass(slots=True)
class ToolCallRecord:
    """One tool call of a turn and a short view of its result."""

    name: str
    args: dict[str, Any]
    ok: bool
    result_chars: int


@dataclass(slots=True)
class AskResult:
    """The outcome of one turn (``mailmind ask --json``)."""

    conversation: str
    question: str
    answer: str
    citations: list[str]
    tool_calls: list[ToolCallRecord]
    steps: int
    route: list[tuple[str, float]]
    dropped_citations: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    #: The tool results of the turn, as the graph saw them (what an answer may rest on); kept
    #: out of :meth:`to_dict` - the eval checks answers' numbers against it.
    evidence: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (without :attr:`evidence`)."""
        out = asdict(self)
        out.pop("evidence")
        return out


def _config(ctx: AgentContext, conversation: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"{ctx.user}/{conversation}"}, "recursion_limit": 40}


def ask(graph: Any, ctx: AgentContext, question: str, conversation: str | None = None) -> AskResult:
    """Run one turn to completion."""
    conversation = conversation or uuid.uuid4().hex[:12]
    started = time.perf_counter()
    state = graph.invoke(
        {"messages": [HumanMessage(content=question)]}, config=_config(ctx, conversation),
        context=ctx,
    )  # fmt: skip
    return _result(state, conversation, question, time.perf_counter() - started)


def _result(state: dict[str, Any], conversation: str, question: str, latency: float) -> AskResult:
    calls: list[ToolCallRecord] = []
    turn: list[Any] = []
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, HumanMessage):
            break
        turn.append(msg)
    results = {m.tool_call_id: m for m in turn if isinstance(m, ToolMessage)}
    for msg in reversed(turn):
        if isinstance(msg, AIMessage):
            for c in msg.tool_calls:
                res = results.get(c.get("id") or "")
                content = str(res.content) if res is not None else ""
                calls.append(
                    ToolCallRecord(c["name"], dict(c["args"]), not content.startswith("error:"),
                                   len(content))
                )  # fmt: skip
    return AskResult(
        conversation=conversation, question=question, answer=state.get("answer", ""),
        citations=list(state.get("citations", [])), tool_calls=calls,
        steps=int(state.get("steps", 0)), route=list(state.get("route", [])),
        dropped_citations=list(state.get("dropped_citations", [])),
        latency_s=round(latency, 3),
        evidence="\n".join(str(m.content) for m in results.values()),
    )  # fmt: skip


def stream_ask(
    graph: Any, ctx: AgentContext, question: str, conversation: str | None = None
) -> Iterator[dict[str, Any]]:
    """Run one turn, yielding events: ``node`` (start/end), ``tool_call``, ``tool_result``,
    ``token`` and finally ``result`` with the :class:`AskResult` as a dict."""
    conversation = conversation or uuid.uuid4().hex[:12]
    started = time.perf_counter()
    config = _config(ctx, conversation)
    streamed = False
    for mode, payload in graph.stream(
        {"messages": [HumanMessage(content=question)]}, config=config, context=ctx,
        stream_mode=["updates", "messages"],
    ):  # fmt: skip
        if mode == "messages":
            chunk, meta = payload
            is_answer = meta.get("langgraph_node") == "answer"
            if isinstance(chunk, AIMessageChunk) and is_answer and chunk.content:
                streamed = True
                yield {"event": "token", "text": str(chunk.content)}
            continue
        for node, update in payload.items():
            answer = update.get("answer") if isinstance(update, dict) else None
            if node == "answer" and answer and not streamed:
                # An answer composed by code (no model tokens) streams the same way, word by
                # word, so clients render every answer alike.
                for piece in re.findall(r"\S+\s*", answer):
                    yield {"event": "token", "text": piece}
                streamed = True
            yield {"event": "node", "node": node}
            for msg in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                if isinstance(msg, AIMessage) and msg.tool_calls:
                    for c in msg.tool_calls:
                        yield {"event": "tool_call", "name": c["name"], "args": c["args"]}
                elif isinstance(msg, ToolMessage):
                    yield {"event": "tool_result", "name": msg.name, "chars": len(str(msg.content)),
                           "ok": not str(msg.content).startswith("error:")}  # fmt: skip
    state = graph.get_state(config).values
    result = _result(state, conversation, question, time.perf_counter() - started)
    yield {"event": "result", "result": result.to_dict()}
