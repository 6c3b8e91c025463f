"""The OpenAI-compatible routes, driven by the official ``openai`` package against a live uvicorn
over the real model and demo data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from api.http.schemas.openai_compat import MODEL_ID
from api.services import Services
from tests.api.http.conftest import Keys, LiveServer, auth
from tests.api.http.test_chat import citation_exists

pytestmark = [pytest.mark.integration, pytest.mark.server]

QUESTION = "What did José quote for the NW-200 sensor housings?"


@pytest.fixture(autouse=True)
def patient_gate(http_app: Any) -> Iterator[None]:
    """Real-model answers on a shared 2-core test machine can take minutes: lift the request
    timeout for these tests (the 504 path is tested with a fake model in test_overload.py)."""
    gate = http_app.state.generation
    before, gate.timeout_s = gate.timeout_s, 900.0
    yield
    gate.timeout_s = before


def sdk(live_server: LiveServer, key: str) -> openai.OpenAI:
    """An OpenAI client on the live server (no retries: a failure must show at once)."""
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=120)


def test_models_lists_the_assistant(live_server: LiveServer, keys: Keys) -> None:
    models = sdk(live_server, keys.demo).models.list()
    assert [m.id for m in models.data] == [MODEL_ID]
    assert models.data[0].object == "model"


def test_bad_key_is_an_authentication_error(live_server: LiveServer) -> None:
    client = sdk(live_server, "mm_not-a-real-key")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}]
        )


def test_unknown_model_is_not_found(live_server: LiveServer, keys: Keys) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk(live_server, keys.demo).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )


def test_empty_question_is_rejected(live_server: LiveServer, keys: Keys) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        sdk(live_server, keys.demo).chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "  "}]
        )


@pytest.mark.slow
def test_completion_non_streaming(
    live_server: LiveServer, keys: Keys, http_services: Services
) -> None:
    completion = sdk(live_server, keys.demo).chat.completions.create(
        model=MODEL_ID,
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.model == MODEL_ID
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    extra: dict[str, Any] = completion.model_extra or {}
    assert extra["citations"], "mailmind's citations ride along as an extra field"
    for citation in extra["citations"]:
        assert citation_exists(http_services, "demo", citation), citation


@pytest.mark.slow
def test_completion_streaming(live_server: LiveServer, keys: Keys, http_services: Services) -> None:
    stream = sdk(live_server, keys.demo).chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks, "the stream ends with [DONE] after at least one chunk"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip()
    finishes = [c.choices[0].finish_reason for c in chunks]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    citations = (chunks[-1].model_extra or {})["citations"]
    assert citations
    for citation in citations:
        assert citation_exists(http_services, "demo", citation), citation


@pytest.mark.slow
def test_stream_ends_with_done_marker(live_server: LiveServer, keys: Keys) -> None:
    # The raw wire format, which the SDK hides: data lines, the last one `[DONE]`. A question
    # the router answers without tools keeps this one quick.
    body = {"model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream(
        "POST", f"{live_server.url}/v1/chat/completions", json=body,
        headers=auth(keys.demo), timeout=120,
    ) as r:  # fmt: skip
        assert r.status_code == 200
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert all(d.startswith("{") for d in data[:-1])
