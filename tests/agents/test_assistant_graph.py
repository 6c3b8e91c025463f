"""Assistant graph with a scripted model: routing, steps, citations, memory, isolation."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agents.assistant.graph import build_graph, check_citations
from agents.assistant.router import Route
from agents.assistant.run import ask, stream_ask
from agents.llm.fake import FakeChatModel
from tools.context import AgentContext


class FixedRouter:
    """Routes every request to the given ranking (a fake, not a mock)."""

    def __init__(self, *ranking: tuple[str, float]) -> None:
        self.ranking = ranking

    def route(self, text: str) -> Route:
        return Route(tuple(self.ranking))

    def plan(self, text: str, route: Route | None = None) -> list[str]:
        best = self.ranking[0][0]
        return [] if best == "none" else [best]


def scripted(answer: str | None = None, args: str = "{}") -> FakeChatModel:
    """Arguments prompts get ``args``; answer prompts get ``answer`` (default: cite the first id
    of the evidence, read from the prompt)."""

    def reply(messages: list[BaseMessage]) -> str:
        text = str(messages[-1].content)
        if "JSON arguments only" in text:
            return args
        if answer is not None:
            return answer
        import re

        ids = re.findall(r'"(?:message_id|event_id|contact_id)":"([^"]+)"', text)
        return f"Here it is [{ids[0]}]." if ids else "Nothing found."

    return FakeChatModel(responses=[reply], cycle=True)


def test_mail_question_searches_then_reads_and_cites_real_ids(ctx: AgentContext) -> None:
    graph = build_graph(scripted(), FixedRouter(("search_mailbox", 0.6), ("list_events", 0.2)))  # type: ignore[arg-type]
    res = ask(graph, ctx, "what did Castellan quote for the housings?")
    assert [c.name for c in res.tool_calls] == ["search_mailbox", "read_message"]
    assert all(c.ok for c in res.tool_calls)
    assert res.steps == 2
    assert res.citations
    for cid in res.citations:
        assert ctx.backends.store.get_message("demo", cid) is not None


def test_unknown_citations_are_dropped(ctx: AgentContext) -> None:
    graph = build_graph(
        scripted(answer="It is 4.12 USD [m00000000000000000000] [evt-made-up@nowhere.example]."),
        FixedRouter(("search_mailbox", 0.6)),  # type: ignore[arg-type]
        compose_answers=False,  # the model writes this answer: its citations are checked
    )
    res = ask(graph, ctx, "housing quote price")
    assert res.dropped_citations == ["m00000000000000000000", "evt-made-up@nowhere.example"]
    assert "m00000000000000000000" not in res.answer
    # Fallback citations come from what the tools returned.
    assert res.citations and all(ctx.backends.store.get_message("demo", c) for c in res.citations)


def test_check_citations_unit() -> None:
    text, kept, dropped = check_citations(
        "A [m1a2b3c4d5e6f7] costs [4.12] and B [m99999999999999] [m1a2b3c4d5e6f7].",
        ["m1a2b3c4d5e6f7"],
    )
    assert kept == ["m1a2b3c4d5e6f7"] and dropped == ["m99999999999999"]
    assert "m99999999999999" not in text and "[4.12]" in text


def test_step_limit_bounds_tool_calls(ctx: AgentContext) -> None:
    graph = build_graph(
        scripted(),
        FixedRouter(("search_mailbox", 0.6)),  # type: ignore[arg-type]
        max_steps=1,
    )
    res = ask(graph, ctx, "invoice from Brightpath")
    assert res.steps == 1
    assert [c.name for c in res.tool_calls] == ["search_mailbox"]


def test_close_second_tool_runs_too(ctx: AgentContext) -> None:
    router = FixedRouter(("lookup_contacts", 0.50), ("find_free_time", 0.48), ("none", 0.1))
    res = ask(build_graph(scripted(), router), ctx, "when can I meet Kenji next week?")  # type: ignore[arg-type]
    names = [c.name for c in res.tool_calls]
    assert names[:2] == ["lookup_contacts", "find_free_time"]
    # The free-time call checked the person the lookup found.
    assert res.tool_calls[1].args.get("attendees") == ["kenji.watanabe@aquatest-labs.example"]


def test_no_tool_needed_answers_directly(ctx: AgentContext) -> None:
    model = FakeChatModel(responses=["Hi! I can search your mail."], cycle=True)
    res = ask(build_graph(model, FixedRouter(("none", 0.7), ("search_mailbox", 0.2))), ctx, "hello")  # type: ignore[arg-type]
    assert res.tool_calls == [] and res.answer.startswith("Hi!")


def test_model_cannot_choose_the_user(ctx: AgentContext) -> None:
    # The model "fills" arguments naming another user and a query for that user's secret.
    evil = '{"query": "housing quote secret", "user": "eve"}'
    graph = build_graph(scripted(args=evil), FixedRouter(("search_mailbox", 0.6)))  # type: ignore[arg-type]
    res = ask(graph, ctx, "housing quote secret")
    eve_ids = ctx.backends.store.message_ids("eve")
    assert eve_ids and not set(res.citations) & eve_ids
    assert "user" not in res.tool_calls[0].args or res.tool_calls[0].args["user"] == "eve"
    for cid in res.citations:
        assert ctx.backends.store.get_message("demo", cid) is not None


def test_conversation_memory_is_checkpointed_per_user(
    ctx: AgentContext, demo_services: Any
) -> None:
    saver = InMemorySaver()
    graph = build_graph(scripted(), FixedRouter(("lookup_contacts", 0.6)), checkpointer=saver)  # type: ignore[arg-type]
    ask(graph, ctx, "who is Kenji?", conversation="c1")
    ask(graph, ctx, "and Aisha?", conversation="c1")
    state = graph.get_state({"configurable": {"thread_id": "demo/c1"}}).values
    humans = [m.content for m in state["messages"] if isinstance(m, HumanMessage)]
    assert humans == ["who is Kenji?", "and Aisha?"]
    # Another user asking with the same conversation id starts from nothing.
    from dataclasses import replace

    eve = replace(ctx, user="eve")
    ask(graph, eve, "who is Kenji?", conversation="c1")
    eve_state = graph.get_state({"configurable": {"thread_id": "eve/c1"}}).values
    assert [m.content for m in eve_state["messages"] if isinstance(m, HumanMessage)] == [
        "who is Kenji?"
    ]


def test_stream_emits_node_tool_and_result_events(ctx: AgentContext) -> None:
    graph = build_graph(scripted(), FixedRouter(("list_events", 0.6)), checkpointer=InMemorySaver())  # type: ignore[arg-type]
    events = list(stream_ask(graph, ctx, "what's on my calendar tomorrow?"))
    kinds = [e["event"] for e in events]
    assert "node" in kinds and "tool_call" in kinds and "tool_result" in kinds
    assert kinds[-1] == "result"
    nodes = [e["node"] for e in events if e["event"] == "node"]
    assert nodes[0] == "route" and nodes[-1] == "answer"
    result = events[-1]["result"]
    assert result["tool_calls"][0]["name"] == "list_events"


@pytest.mark.parametrize("bad", ["", "a b", "../x"])
def test_context_refuses_bad_users(ctx: AgentContext, bad: str) -> None:
    from dataclasses import replace

    from core.errors import InputError

    with pytest.raises(InputError):
        replace(ctx, user=bad)


def test_answer_cut_inside_a_citation_is_cleaned(ctx: AgentContext) -> None:
    graph = build_graph(
        scripted(answer="^ copied data line\nThe answer is [m12"),
        FixedRouter(("lookup_contacts", 0.6)),  # type: ignore[arg-type]
        compose_answers=False,  # the model writes this answer
    )
    res = ask(graph, ctx, "who is Kenji?")
    prose = res.answer.split("\n\nSources:")[0]
    assert prose == "The answer is"
    assert res.citations  # fallback citations from the lookup


def test_an_empty_calendar_period_falls_back_to_mail() -> None:
    """ "Which room is tomorrow's meeting in?" on a mailbox without a calendar: search mail."""
    from agents.assistant.graph import _follow_ups
    from tools.schemas import ListEventsResult

    empty = ListEventsResult(start="Tue 01 Jan 2002 00:00 PST", end="Wed 02 Jan 2002 00:00 PST",
                             events=[])  # fmt: skip
    state: Any = {"question": "which room is tomorrow's meeting in?"}
    assert _follow_ups("list_events", empty, state) == ["search_mailbox"]
    found = empty.model_copy(update={"events": [_any_event()]})
    assert _follow_ups("list_events", found, state) == []


def _any_event() -> Any:
    from tools.schemas import EventView

    return EventView(
        event_id="e1", summary="Sync", start="Tue 01 Jan 2002 10:00 PST",
        end="Tue 01 Jan 2002 11:00 PST", all_day=False, location="", status="CONFIRMED",
        organizer=None, attendees=[], description="",
    )  # fmt: skip
