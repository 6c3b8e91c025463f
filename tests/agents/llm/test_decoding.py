"""Shared decoding pieces: stop sequences, the generation gate, schema helpers."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import BaseModel

from agents.llm.decoding import GenerationGate, StopBuffer, closing_token_ids
from agents.llm.structured import json_schema_for, strict_schema, tool_call_schema
from agents.llm.types import STRUCTURED_OVERRUN_TOKENS, GenerationConfig
from core.errors import ModelError


def stream(buffer: StopBuffer, pieces: list[str]) -> str:
    text, out = "", []
    for piece in pieces:
        text += piece
        out.append(buffer.feed(text))
        if buffer.stopped:
            break
    out.append(buffer.flush(text))
    return "".join(out)


def test_stop_sequence_split_across_tokens_never_leaks() -> None:
    buf = StopBuffer(["</end>"])
    assert stream(buf, ["Hello", " wor", "ld</", "en", "d> tail"]) == "Hello world"
    assert buf.stopped


def test_no_stop_emits_everything() -> None:
    assert stream(StopBuffer([]), ["a", "b", "c"]) == "abc"
    assert stream(StopBuffer(["zz"]), ["a", "z", "b"]) == "azb"


def test_earliest_of_several_stops_wins() -> None:
    assert stream(StopBuffer(["STOP", "\n\n"]), ["one\n\ntwo STOP"]) == "one"


def test_partial_utf8_is_held_back() -> None:
    buf = StopBuffer([])
    assert buf.feed("caf\ufffd") == "caf"
    assert buf.feed("café") == "é"


def test_closing_token_ids() -> None:
    pieces = [(0, '"'), (1, " }"), (2, "a"), (3, '"]'), (4, " "), (5, '",')]
    assert closing_token_ids(pieces) == [0, 1, 3]


def test_gate_bounds_concurrency() -> None:
    gate = GenerationGate(max_concurrency=2)
    running, peak = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with gate.slot() as ok:
            assert ok
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_gate_refuses_when_queue_full_and_honours_cancel() -> None:
    gate = GenerationGate(max_concurrency=1, max_waiting=0)
    with gate.slot() as ok:
        assert ok
        with pytest.raises(ModelError, match="model busy"), gate.slot():
            pass
    gate = GenerationGate(max_concurrency=1)
    cancel = threading.Event()
    cancel.set()
    with gate.slot() as ok, gate.slot(cancel) as second:
        assert ok and not second


def test_structured_config_allows_overrun() -> None:
    config = GenerationConfig(max_tokens=10, json_schema={"type": "object"})
    assert config.token_limit == 10 + STRUCTURED_OVERRUN_TOKENS
    assert GenerationConfig(max_tokens=10).token_limit == 10


class Inner(BaseModel):
    x: int


class Outer(BaseModel):
    name: str
    inner: Inner


def test_strict_schema_closes_all_objects() -> None:
    schema = strict_schema(json_schema_for(Outer))
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Inner"]["additionalProperties"] is False
    # Explicit choices are kept.
    assert strict_schema({"type": "object", "properties": {}, "additionalProperties": True})[
        "additionalProperties"
    ]


def test_tool_call_schema() -> None:
    tools = [
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}},
    ]
    assert len(tool_call_schema(tools)["anyOf"]) == 2
    only = tool_call_schema(tools, "b")
    assert only["properties"]["name"] == {"const": "b"}
    with pytest.raises(ModelError, match="not among the bound tools"):
        tool_call_schema(tools, "c")
