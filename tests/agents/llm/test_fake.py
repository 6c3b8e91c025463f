"""The scripted fake chat model the agent tests build on."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from agents.llm.fake import FakeChatModel


@tool
def lookup_contacts(name: str) -> str:
    """Find a contact by name."""
    return f"{name} <{name.lower()}@example.com>"


def test_scripted_replies_in_order_and_recorded() -> None:
    model = FakeChatModel(responses=["one", AIMessage("two")])
    assert model.invoke("a").content == "one"
    assert model.invoke([HumanMessage("b")]).content == "two"
    assert [m[-1].content for m in model.calls] == ["a", "b"]
    with pytest.raises(IndexError, match="exhausted"):
        model.invoke("c")


def test_cycle_and_callables() -> None:
    def echo(messages: list[BaseMessage]) -> str:
        return f"echo: {messages[-1].content}"

    model = FakeChatModel(responses=[echo], cycle=True)
    assert [model.invoke(x).content for x in ("a", "b")] == ["echo: a", "echo: b"]


def test_tool_calls_get_ids_and_bind_tools_is_recorded() -> None:
    model = FakeChatModel(
        responses=[
            AIMessage(
                "", tool_calls=[{"name": "lookup_contacts", "args": {"name": "Ann"}, "id": None}]
            )
        ]
    )
    msg = model.bind_tools([lookup_contacts], tool_choice="auto").invoke("who is Ann?")
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls[0]["name"] == "lookup_contacts" and msg.tool_calls[0]["id"]
    assert model.call_kwargs[0]["tools"][0]["function"]["name"] == "lookup_contacts"


def test_streaming_and_async() -> None:
    model = FakeChatModel(
        responses=[
            "a b c",
            AIMessage(
                "", tool_calls=[{"name": "lookup_contacts", "args": {"name": "B"}, "id": "1"}]
            ),
            "async",
        ]
    )
    chunks = list(model.stream("x"))
    assert "".join(str(c.content) for c in chunks) == "a b c"
    merged = None
    for c in model.stream("y"):
        merged = c if merged is None else merged + c
    assert merged is not None and merged.tool_calls[0]["args"] == {"name": "B"}  # type: ignore[attr-defined]
    assert asyncio.run(model.ainvoke("z")).content == "async"


class Summary(BaseModel):
    title: str
    points: list[str]


class Flags(TypedDict):
    urgent: bool


def test_structured_output_from_json_or_tool_call() -> None:
    model = FakeChatModel(
        responses=[
            '{"title": "t", "points": ["p"]}',
            AIMessage("", tool_calls=[{"name": "Flags", "args": {"urgent": True}, "id": None}]),
        ]
    )
    assert model.with_structured_output(Summary).invoke("x") == Summary(title="t", points=["p"])
    assert model.with_structured_output(Flags).invoke("y") == {"urgent": True}
    assert "json_schema" in model.call_kwargs[0]


def test_fake_drives_a_langgraph_tool_loop() -> None:
    model = FakeChatModel(
        responses=[
            AIMessage(
                "", tool_calls=[{"name": "lookup_contacts", "args": {"name": "Ann"}, "id": None}]
            ),
            "Ann's address is ann@example.com.",
        ]
    )
    bound = model.bind_tools([lookup_contacts])

    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [bound.invoke(state["messages"])]}

    def tools(state: MessagesState) -> dict[str, list[BaseMessage]]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return {
            "messages": [
                ToolMessage(lookup_contacts.invoke(c["args"]), tool_call_id=c["id"] or "")
                for c in last.tool_calls
            ]
        }

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    out = graph.compile().invoke({"messages": [HumanMessage("Ann's email?")]})
    assert out["messages"][-1].content == "Ann's address is ann@example.com."
    assert isinstance(model.calls[1][-1], ToolMessage)
