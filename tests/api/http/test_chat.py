"""``POST /v1/chat`` over the real app, model and demo data: JSON and Server-Sent Events,
citations that exist for the caller, conversation memory per user, input validation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.services import Services
from tests.api.http.conftest import Keys, LiveServer, auth

PROBLEM = "application/problem+json"
QUESTION = "What did José quote for the NW-200 sensor housings?"
NOW = "2026-11-12T09:00:00+00:00"


@pytest.fixture(autouse=True)
def patient_gate(http_app: Any) -> Iterator[None]:
    """Real-model answers on a shared 2-core test machine can take minutes: lift the request
    timeout for these tests (the 504 path is tested with a fake model in test_overload.py)."""
    gate = http_app.state.generation
    before, gate.timeout_s = gate.timeout_s, 900.0
    yield
    gate.timeout_s = before


def _body(question: str = QUESTION, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}], "now": NOW, **extra}


def citation_exists(services: Services, user: str, citation: dict[str, Any]) -> bool:
    """Whether ``citation`` names an item of ``user``'s own data, of the kind it claims."""
    cid, kind = citation["id"], citation["kind"]
    if kind == "message":
        return services.store.get_message(user, cid) is not None
    if kind == "thread":
        return services.store.get_thread(user, cid) is not None
    if kind == "event":
        window = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))
        return bool(services.pim.calendars.events_between(user, *window, uids=[cid]))
    if kind == "contact":
        return cid in {c.uid for c in services.pim.contacts.contacts(user)}
    return False


def human_turns(services: Services, user: str, conversation: str) -> int:
    """User turns stored in the checkpoint of ``user``'s ``conversation``."""
    config: Any = {"configurable": {"thread_id": f"{user}/{conversation}"}}
    messages = services.assistant.get_state(config).values.get("messages", [])
    return sum(1 for m in messages if m.type == "human")


# -- validation (no generation runs) ----------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": [{"role": "user", "content": "   "}]}, ""),
        ({"messages": [{"role": "user", "content": ""}]}, ""),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, ""),
        ({"messages": [{"role": "user", "content": "hi\x00there"}]}, "messages.0.content"),
        (_body(conversation_id="bad\nid"), "conversation_id"),
        (_body(conversation_id="../demo/x"), "conversation_id"),
        (_body(conversation_id="x" * 65), "conversation_id"),
        (_body(timezone="Mars/Olympus"), "timezone"),
        ({**_body(), "user": "eve"}, "user"),
    ],
)
async def test_chat_rejects_bad_input_with_field_paths(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/v1/chat", json=body, headers=auth(keys.demo))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["status"] == 422
    fields = [e["field"] or "" for e in problem["errors"]]
    assert any(f == field or f.startswith(f"{field}.") or not field for f in fields), fields


@pytest.mark.integration
async def test_chat_needs_a_key(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json=_body())
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)


# -- answers ------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
async def test_chat_json_answer_cites_the_callers_data_and_remembers(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    conversation = f"housing-{uuid.uuid4().hex[:8]}"
    r = await client.post(
        "/v1/chat", json=_body(conversation_id=conversation), headers=auth(keys.demo)
    )
    assert r.status_code == 200, r.text
    first = r.json()
    assert isinstance(first["answer"], str) and first["answer"].strip()
    assert first["conversation_id"] == conversation
    assert first["citations"], "a mail question answered from tools cites its sources"
    for citation in first["citations"]:
        assert citation_exists(http_services, "demo", citation), citation
    assert {c["name"] for c in first["tool_calls"]} >= {"search_mailbox"}
    assert first["latency_s"] > 0

    r = await client.post(
        "/v1/chat", json=_body("And when does it expire?", conversation_id=conversation),
        headers=auth(keys.demo),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["conversation_id"] == conversation
    assert human_turns(http_services, "demo", conversation) == 2

    # Eve sending demo's conversation id gets her own, empty conversation, and only her data.
    r = await client.post(
        "/v1/chat", json=_body(conversation_id=conversation), headers=auth(keys.eve)
    )
    assert r.status_code == 200, r.text
    assert human_turns(http_services, "eve", conversation) == 1
    assert human_turns(http_services, "demo", conversation) == 2
    for citation in r.json()["citations"]:
        assert citation_exists(http_services, "eve", citation), citation
        assert not citation_exists(http_services, "demo", citation), citation


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.server
async def test_chat_streams_server_sent_events(
    live_server: LiveServer, keys: Keys, http_services: Services
) -> None:
    headers = {**auth(keys.demo), "Accept": "text/event-stream"}
    events: list[tuple[str, dict[str, Any]]] = []
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=120) as client,
        client.stream("POST", "/v1/chat", json=_body(), headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        name = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [n for n, _ in events]
    assert names[0] == "node" and events[0][1]["node"] == "route"
    assert names[-1] == "done" and names.count("done") == 1
    assert set(names) <= {"node", "tool_call", "tool_result", "token", "done"}
    assert "tool_call" in names and "token" in names
    # A tool's result follows its call.
    assert names.index("tool_result") > names.index("tool_call")
    done = events[-1][1]
    assert isinstance(done["answer"], str) and done["answer"].strip()
    assert done["citations"]
    for citation in done["citations"]:
        assert citation_exists(http_services, "demo", citation), citation
