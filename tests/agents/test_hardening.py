"""Assistant and summary findings of issue 11: prompt budgets, question bounds, the assistant's
description of itself, named time zones and a plain fallback reason."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agents.assistant.budget import PromptBudget, estimate_tokens
from agents.assistant.graph import CAPABILITIES, build_graph, describe_capabilities
from agents.assistant.router import Route
from agents.assistant.run import ask, check_question
from agents.llm.fake import FakeChatModel
from agents.summarize.thread import summarize_messages
from core.errors import InputError, ModelError
from evals.retrieval.datasets import make_message
from retrieval.index.embeddings import HashEmbedder
from tools.context import AgentContext
from tools.impl import TOOL_FUNCTIONS, list_events
from tools.schemas import ListEventsArgs

CONTEXT = 1024
GENERATE = 256  # FakeChatModel has no max_tokens: the graph reserves 256


class FixedRouter:
    """Routes every request to the given ranking (a fake, not a mock)."""

    def __init__(self, *ranking: tuple[str, float]) -> None:
        self.ranking = ranking

    def route(self, text: str) -> Route:
        return Route(tuple(self.ranking))

    def plan(self, text: str, route: Route | None = None) -> list[str]:
        best = self.ranking[0][0]
        return [] if best == "none" else [best]


def strict_model(answer: str = "Here is what I found.") -> FakeChatModel:
    """A scripted model that, like llama.cpp, refuses a prompt longer than its context."""

    def reply(messages: list[BaseMessage]) -> str:
        prompt = "\n".join(str(m.content) for m in messages)
        tokens = estimate_tokens(prompt)
        if tokens + GENERATE > CONTEXT:
            raise ModelError(f"prompt of {tokens} tokens exceeds the context of {CONTEXT}")
        return "{}" if "JSON arguments only" in prompt else answer

    return FakeChatModel(responses=[reply], cycle=True)


# -- prompt budgets ------------------------------------------------------------------------------


def test_huge_tool_result_is_trimmed_before_the_model_is_called(
    ctx: AgentContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tool result of ~100k tokens (the probe saw 54 kB from one search).
    monkeypatch.setattr("agents.assistant.graph.render_evidence", lambda _a: "quote " * 60_000)
    model = strict_model()
    graph = build_graph(  # the model writes this answer, so its prompt is the one to bound
        model,
        FixedRouter(("search_mailbox", 0.6)),  # type: ignore[arg-type]
        context_length=CONTEXT,
        compose_answers=False,
    )
    res = ask(graph, ctx, "what did Castellan quote for the housings?")
    assert [c.name for c in res.tool_calls][:1] == ["search_mailbox"]
    assert res.answer.startswith("Here is what I found.")
    assert model.calls  # the model was called, and every prompt fitted
    for call in model.calls:
        prompt = "\n".join(str(m.content) for m in call)
        assert estimate_tokens(prompt) + GENERATE <= CONTEXT


def test_budget_keeps_small_blocks_whole_and_cuts_the_large_one() -> None:
    budget = PromptBudget(600, estimate_tokens, margin=0)
    small, large = "event at noon", "x" * 100_000

    def render(blocks: list[str]) -> str:
        return "Q?\n" + "\n".join(blocks)

    prompt = budget.fit(render, [small, large], generate=100)
    assert small in prompt and estimate_tokens(prompt) <= 500
    assert PromptBudget(None).fit(render, [large], generate=100) == render([large])
    with pytest.raises(InputError):
        PromptBudget(300, estimate_tokens).fit(lambda _b: "q" * 3000, [], generate=100)


# -- question bounds -------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n"])
def test_empty_question_fails_before_any_tool_or_model(ctx: AgentContext, question: str) -> None:
    model = strict_model()
    graph = build_graph(model, FixedRouter(("search_mailbox", 0.6)), max_question_chars=100)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        ask(graph, ctx, question)
    assert model.calls == []


def test_overlong_question_fails_before_any_tool_runs(ctx: AgentContext) -> None:
    model = strict_model()
    graph = build_graph(model, FixedRouter(("search_mailbox", 0.6)), max_question_chars=100)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        ask(graph, ctx, "housing quote " * 100)
    assert model.calls == []
    assert check_question("  hi  ", 100) == "hi"
    with pytest.raises(InputError):
        check_question("x" * 2001)  # the default bound


# -- the assistant's description of itself -------------------------------------------------------


def test_every_tool_is_in_the_self_description() -> None:
    assert set(CAPABILITIES) == set(TOOL_FUNCTIONS)
    text = describe_capabilities()
    for phrase in CAPABILITIES.values():
        assert phrase in text


def test_hello_never_claims_to_send_mail(ctx: AgentContext) -> None:
    model = FakeChatModel(responses=["Hello! I can send emails and book flights for you."])
    res = ask(build_graph(model, FixedRouter(("none", 0.7))), ctx, "hello")  # type: ignore[arg-type]
    assert res.tool_calls == []
    assert res.answer == describe_capabilities()


def test_what_can_you_do_is_answered_from_the_tools(ctx: AgentContext) -> None:
    model = FakeChatModel(responses=["I can do anything!"])
    res = ask(build_graph(model, FixedRouter(("none", 0.7))), ctx, "what can you do?")  # type: ignore[arg-type]
    assert res.answer == describe_capabilities()
    assert model.calls == []  # no generation needed, so none can invent abilities


# -- time zones ----------------------------------------------------------------------------------


def test_event_times_are_local_and_name_their_zone(ctx: AgentContext) -> None:
    out = list_events(
        ListEventsArgs(start="2026-11-01", end="2026-12-31", query=None, limit=30), ctx
    )
    timed = [e for e in out.events if re.search(r"\d\d:\d\d", e.start)]
    assert timed, "the demo calendar has timed events in November/December 2026"
    for e in timed:
        assert re.search(r"\d\d:\d\d P[SD]T$", e.start), e.start
    utc = replace(ctx, timezone="UTC")
    first = list_events(
        ListEventsArgs(start="2026-11-01", end="2026-12-31", query=None, limit=30), utc
    )
    assert all(e.start.endswith(" UTC") for e in first.events if re.search(r"\d:\d\d", e.start))


def test_unknown_time_zone_is_an_input_error(ctx: AgentContext) -> None:
    with pytest.raises(InputError):
        replace(ctx, timezone="Mars/Olympus")


# -- summaries: a fallback reason that does not contradict itself --------------------------------


def test_fallback_reason_states_the_real_reason() -> None:
    body = "The housing quote is 4.12 per unit. Delivery starts in March next year."
    messages = [
        make_message(
            f"m{n:020x}",
            body,
            subject="Quote",
            sender="ann@x.example",
            date=datetime(2026, 11, n + 1, tzinfo=UTC),
            thread_id="t0123456789abcdef0123",
        )
        for n in range(2)
    ]
    # The model writes one sentence, copied from a message: supported, but one is not enough.
    draft = '{"sentences": [{"text": "The housing quote is 4.12 per unit.", "sources": [1]}]}'
    model = FakeChatModel(responses=[draft], cycle=True)
    summary = summarize_messages(
        "t0123456789abcdef0123", "Quote", messages, model=model, embedder=HashEmbedder(dim=64)
    )
    assert summary.method == "extractive"
    reason: Any = summary.fallback_reason
    assert isinstance(reason, str)
    # Not "0 of 1 model sentences failed the faithfulness check".
    assert not re.search(r"\b0 of \d", reason)
    assert "1 sentence" in reason
