"""OpenAI-compatible runtime against httpx's MockTransport (the real server test is integration)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from agents.llm.runtimes import choose_runtime, load_runtime
from agents.llm.runtimes.openai import OpenAIRuntime
from agents.llm.types import GenerationConfig
from core.errors import ConfigError, ModelError
from core.settings import Settings


def sse(*chunks: dict[str, object]) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


def runtime_with(handler: httpx.MockTransport) -> OpenAIRuntime:
    return OpenAIRuntime("http://llm.test/v1", model_name="m", api_key="k", transport=handler)


def test_streams_sse_and_reads_usage() -> None:
    seen: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer k"
        seen.append(json.loads(request.content))
        body = sse(
            delta("Hel"),
            delta("lo"),
            delta("", "length"),
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    rt = runtime_with(httpx.MockTransport(handle))
    pieces = list(rt.stream([{"role": "user", "content": "hi"}], GenerationConfig(max_tokens=2)))
    assert [p.text for p in pieces] == ["Hel", "lo", ""]
    assert pieces[-1].finish_reason == "length"
    assert pieces[-1].usage is not None and pieces[-1].usage.prompt_tokens == 5
    assert seen[0]["stream"] is True and seen[0]["max_tokens"] == 2
    assert seen[0]["model"] == "m"


def test_json_schema_falls_back_to_json_object_form() -> None:
    formats: list[object] = []

    def handle(request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        formats.append(payload["response_format"])
        if payload["response_format"]["type"] == "json_schema":
            return httpx.Response(422, json={"detail": "response_format"})
        return httpx.Response(200, content=sse(delta('{"a": 1}', "stop")))

    rt = runtime_with(httpx.MockTransport(handle))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    config = GenerationConfig(max_tokens=8, json_schema=schema)
    assert rt.generate([{"role": "user", "content": "x"}], config).text == '{"a": 1}'
    assert rt.generate([{"role": "user", "content": "x"}], config).text == '{"a": 1}'
    types = [f["type"] for f in formats]  # type: ignore[index]
    assert types == ["json_schema", "json_object", "json_object"]
    # The schema sent is closed against extra keys.
    assert formats[1]["schema"]["additionalProperties"] is False  # type: ignore[index]


def test_server_errors_become_model_errors() -> None:
    rt = runtime_with(httpx.MockTransport(lambda r: httpx.Response(500, text="boom")))
    with pytest.raises(ModelError, match="answered 500: boom"):
        rt.generate([{"role": "user", "content": "x"}], GenerationConfig())

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    rt = runtime_with(httpx.MockTransport(refuse))
    with pytest.raises(ModelError, match="failed: refused"):
        rt.generate([{"role": "user", "content": "x"}], GenerationConfig())


def test_choose_runtime(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path}
    assert choose_runtime(Settings(**base, llm={"runtime": "transformers"})) == "transformers"  # type: ignore[arg-type,call-arg]
    assert choose_runtime(Settings(**base, llm={"base_url": "http://x/v1"})) == "openai"  # type: ignore[arg-type,call-arg]
    folder = tmp_path / "hf"
    folder.mkdir()
    hf = Settings(**base, llm={"model": "hf", "models": {"hf": str(folder)}})  # type: ignore[arg-type,call-arg]
    assert choose_runtime(hf) == "transformers"
    assert choose_runtime(Settings(**base)) in {"llamacpp", "transformers"}  # type: ignore[arg-type,call-arg]


def test_openai_runtime_needs_base_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAILMIND_LLM__BASE_URL"):
        load_runtime(Settings(data_dir=tmp_path, llm={"runtime": "openai"}))  # type: ignore[arg-type,call-arg]
