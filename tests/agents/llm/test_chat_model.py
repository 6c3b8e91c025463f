"""The LangChain adapter over a scripted runtime: invoke/stream/async, tools, structured output."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from agents.llm.chat_model import MailmindChatModel, parse_tool_calls, to_chat_messages
from agents.llm.fake import FakeChatRuntime
from agents.llm.types import ChatMessage, GenerationConfig, StreamDelta, Usage


@tool
def search_mailbox(query: str, limit: int = 5) -> str:
    """Search the user's mail."""
    return query


class Reply(BaseModel):
    intent: str
    urgent: bool


def model_for(*texts: str, **kwargs: object) -> tuple[MailmindChatModel, FakeChatRuntime]:
    runtime = FakeChatRuntime(list(texts))
    return MailmindChatModel(runtime=runtime, **kwargs), runtime  # type: ignore[arg-type]


def test_invoke_returns_text_usage_and_metadata() -> None:
    model, runtime = model_for("Hello there, friend.")
    msg = model.invoke([SystemMessage("Be brief."), HumanMessage("Hi")])
    assert msg.content == "Hello there, friend."
    assert msg.usage_metadata is not None and msg.usage_metadata["output_tokens"] > 0
    assert msg.response_metadata["finish_reason"] == "stop"
    messages, config = runtime.requests[0]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert config.max_tokens == 256 and config.greedy


def test_call_kwargs_and_stop_reach_the_runtime() -> None:
    model, runtime = model_for("one two STOP three", stop=["STOP"])
    msg = model.invoke("count", max_tokens=7, temperature=0.5, seed=3)
    assert msg.content == "one two "
    config = runtime.requests[0][1]
    assert (config.max_tokens, config.temperature, config.seed, config.stop) == (
        7,
        0.5,
        3,
        ("STOP",),
    )


def test_stream_yields_pieces_that_join_to_invoke() -> None:
    model, _ = model_for("streamed answer text")
    chunks = list(model.stream("hi"))
    assert len(chunks) > 2
    assert "".join(str(c.content) for c in chunks) == "streamed answer text"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_async_invoke_and_stream() -> None:
    model, _ = model_for("async one", "async two")

    async def main() -> tuple[str, str]:
        first = await model.ainvoke("a")
        parts = [str(c.content) async for c in model.astream("b")]
        return str(first.content), "".join(parts)

    assert asyncio.run(main()) == ("async one", "async two")


class SlowRuntime(FakeChatRuntime):
    """Streams forever until cancelled."""

    def __init__(self) -> None:
        super().__init__(["x"])
        self.started = threading.Event()
        self.stopped = threading.Event()

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamDelta]:
        self.started.set()
        try:
            while cancel is None or not cancel.is_set():
                yield StreamDelta("tok ")
                threading.Event().wait(0.005)
            yield StreamDelta("", finish_reason="cancelled", usage=Usage())
        finally:
            self.stopped.set()


def test_async_consumer_going_away_cancels_generation() -> None:
    runtime = SlowRuntime()
    model = MailmindChatModel(runtime=runtime)

    async def main() -> None:
        stream = model.astream("go")
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert runtime.stopped.wait(2.0), "runtime kept generating after the consumer left"


def test_async_task_cancellation_cancels_generation() -> None:
    runtime = SlowRuntime()
    model = MailmindChatModel(runtime=runtime)

    async def main() -> None:
        task = asyncio.create_task(model.ainvoke("go"))
        # Cancel only once generation runs (a fixed sleep races on a loaded machine).
        assert await asyncio.to_thread(runtime.started.wait, 10.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert runtime.stopped.wait(2.0)


def test_sync_stream_close_stops_runtime() -> None:
    runtime = SlowRuntime()
    model = MailmindChatModel(runtime=runtime)
    stream = model.stream("go")
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert runtime.stopped.wait(2.0)


def test_bind_tools_auto_parses_tool_calls_from_text() -> None:
    call = '{"name": "search_mailbox", "arguments": {"query": "invoice"}}'
    text = f"Let me look.<tool_call>{call}</tool_call>"
    model, runtime = model_for(text)
    msg = model.bind_tools([search_mailbox]).invoke("find invoices")
    assert isinstance(msg, AIMessage)
    assert msg.content == "Let me look."
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("search_mailbox", {"query": "invoice"})
    ]
    assert msg.tool_calls[0]["id"]
    system = runtime.requests[0][0][0]
    assert system["role"] == "system" and "search_mailbox" in system["content"]
    assert runtime.requests[0][1].json_schema is None


def test_bind_tools_auto_keeps_prose_and_unknown_tools() -> None:
    model, _ = model_for('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call> no')
    msg = model.bind_tools([search_mailbox]).invoke("x")
    assert isinstance(msg, AIMessage) and msg.tool_calls == []


def test_forced_tool_choice_constrains_decoding() -> None:
    model, runtime = model_for(
        '{"name": "search_mailbox", "arguments": {"query": "q", "limit": 2}}'
    )
    msg = model.bind_tools([search_mailbox], tool_choice="any").invoke("x")
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls[0]["args"] == {"query": "q", "limit": 2}
    schema = runtime.requests[0][1].json_schema
    assert schema is not None and schema["properties"]["name"] == {"const": "search_mailbox"}


def test_stream_with_tools_emits_tool_call_chunks() -> None:
    model, _ = model_for(
        '<tool_call>{"name": "search_mailbox", "arguments": {"query": "q"}}</tool_call>'
    )
    chunks = list(model.bind_tools([search_mailbox]).stream("x"))
    merged: Any = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.tool_calls[0]["args"] == {"query": "q"}  # type: ignore[attr-defined]


def test_with_structured_output_pydantic() -> None:
    model, runtime = model_for('{"intent": "meeting", "urgent": true}')
    result = model.with_structured_output(Reply).invoke("Can we meet today?")
    assert result == Reply(intent="meeting", urgent=True)
    config = runtime.requests[0][1]
    assert config.json_schema is not None and set(config.json_schema["properties"]) == {
        "intent",
        "urgent",
    }
    assert "JSON schema" in runtime.requests[0][0][0]["content"]


def test_with_structured_output_dict_schema_and_include_raw() -> None:
    schema = {"title": "T", "type": "object", "properties": {"a": {"type": "integer"}}}
    model, _ = model_for('{"a": 3}', "not json")
    out = model.with_structured_output(schema, include_raw=True).invoke("x")
    assert isinstance(out, dict)
    assert out["parsed"] == {"a": 3} and out["parsing_error"] is None
    bad = model.with_structured_output(schema, include_raw=True).invoke("x")
    assert isinstance(bad, dict)
    assert bad["parsed"] is None and bad["parsing_error"] is not None


def test_with_structured_output_function_calling() -> None:
    model, runtime = model_for('{"name": "Reply", "arguments": {"intent": "x", "urgent": false}}')
    result = model.with_structured_output(Reply, method="function_calling").invoke("x")
    assert result == Reply(intent="x", urgent=False)
    assert runtime.requests[0][1].json_schema is not None


def test_tool_round_trip_rendering() -> None:
    call = {"name": "search_mailbox", "args": {"query": "q"}, "id": "call_1"}
    chat = to_chat_messages(
        [
            HumanMessage("find"),
            AIMessage("", tool_calls=[call]),  # type: ignore[list-item]
            ToolMessage("3 results", tool_call_id="call_1", name="search_mailbox"),
        ]
    )
    assert chat[1]["role"] == "assistant" and "<tool_call>" in chat[1]["content"]
    assert (
        chat[2]["role"] == "user" and "<tool_response name='search_mailbox'>" in chat[2]["content"]
    )
    prose, calls = parse_tool_calls(chat[1]["content"], [{"name": "search_mailbox"}])
    assert prose == "" and calls[0]["args"] == {"query": "q"}


def test_bare_json_tool_call_is_recognised() -> None:
    prose, calls = parse_tool_calls(
        json.dumps({"name": "search_mailbox", "arguments": {"query": "x"}}),
        [{"name": "search_mailbox"}],
    )
    assert prose == "" and calls[0]["name"] == "search_mailbox"
