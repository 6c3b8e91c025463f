"""``/v1/summarize``, ``/v1/smart-reply`` and ``/v1/drafts`` over the real app, model and demo
data: stored ids and raw RFC 822 input, citations inside the thread, nothing stored from raw
input, and other users' ids answered exactly like ids that do not exist."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest

from agents.smart_reply.schemas import TriggerReason
from api.services import Services
from core.types import Message
from retrieval.sources.mail.parse import parse_message
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
MADE_UP_MESSAGE = "m" + "0" * 20
MADE_UP_THREAD = "t" + "0" * 20


@pytest.fixture(autouse=True)
def patient_gate(http_app: Any) -> Iterator[None]:
    """Real-model answers on a shared 2-core test machine can take minutes: lift the request
    timeout for these tests (the 504 path is tested with a fake model in test_overload.py)."""
    gate = http_app.state.generation
    before, gate.timeout_s = gate.timeout_s, 900.0
    yield
    gate.timeout_s = before


RAW_ASK = (
    "From: Kenji Watanabe <kenji@aquatest.example>\nTo: dana@northwind.example\n"
    "Subject: Site visit\nMessage-ID: <raw-visit-1@aquatest.example>\n"
    "Date: Tue, 10 Nov 2026 10:00:00 +0000\n\n"
    "Hi Dana, could we meet on Thursday at 14:00 to walk the Alder Creek site? "
    "Please bring the updated NW-200 spec sheet.\n\nKenji\n"
)
RAW_REPLY = (
    "From: Dana Reyes <dana@northwind.example>\nTo: kenji@aquatest.example\n"
    "Subject: Re: Site visit\nMessage-ID: <raw-visit-2@northwind.example>\n"
    "In-Reply-To: <raw-visit-1@aquatest.example>\nDate: Tue, 10 Nov 2026 12:00:00 +0000\n\n"
    "Thursday at 14:00 works. I will bring the spec sheet v3 and two spare sensors.\n"
)


def _by_subject(services: Services, user: str, subject: str) -> Message:
    for m in services.store.list_messages(user, limit=500):
        if m.subject == subject:
            return m
    raise AssertionError(f"demo data has no message {subject!r}")


@pytest.fixture(scope="module")
def quote_thread(http_services: Services) -> tuple[str, list[str]]:
    """The demo's longest thread: its id and its message ids."""
    first = _by_subject(http_services, "demo", "Quote request: NW-200 sensor housings")
    assert first.thread_id
    found = http_services.store.get_thread("demo", first.thread_id)
    assert found is not None
    thread, messages = found
    assert len(messages) >= 3
    return thread.id, [m.id for m in messages]


def _cited(summary: dict[str, Any]) -> set[str]:
    return {
        c for part in ("sentences", "action_items") for s in summary[part] for c in s["citations"]
    }


def _same_problem(a: httpx.Response, b: httpx.Response) -> None:
    """Two 404s that say nothing more than "not found"."""
    for r in (a, b):
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
    keep = ("type", "title", "status")
    assert {k: a.json()[k] for k in keep} == {k: b.json()[k] for k in keep}
    assert "demo" not in a.text


# -- summaries ----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_summarize_thread_cites_its_own_messages(
    client: httpx.AsyncClient, keys: Keys, quote_thread: tuple[str, list[str]]
) -> None:
    thread_id, message_ids = quote_thread
    r = await client.post("/v1/summarize", json={"thread_id": thread_id}, headers=auth(keys.demo))
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["thread_id"] == thread_id
    assert summary["message_count"] == len(message_ids)
    assert summary["method"] in ("abstractive", "extractive")
    assert 1 <= len(summary["sentences"]) <= 5
    assert _cited(summary) and _cited(summary) <= set(message_ids)


@pytest.mark.slow
async def test_summarize_raw_messages_stores_nothing(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    ids = {parse_message(raw.encode()).id for raw in (RAW_ASK, RAW_REPLY)}
    before = http_services.store.message_ids("demo")
    r = await client.post(
        "/v1/summarize", json={"raw_messages": [RAW_REPLY, RAW_ASK]}, headers=auth(keys.demo)
    )
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["message_count"] == 2
    assert summary["subject"].lower() == "site visit"
    assert _cited(summary) and _cited(summary) <= ids
    assert http_services.store.message_ids("demo") == before
    assert not ids & before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ""),
        ({"thread_id": MADE_UP_THREAD, "raw_messages": [RAW_ASK]}, ""),
        ({"thread_id": "t0 OR 1=1"}, "thread_id"),
        ({"thread_id": "../../etc"}, "thread_id"),
        ({"raw_messages": []}, "raw_messages"),
        ({"raw_messages": ["just some words, no header at all"]}, "raw_messages.0"),
    ],
)
async def test_summarize_rejects_bad_input(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/v1/summarize", json=body, headers=auth(keys.demo))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    fields = [e["field"] or "" for e in r.json()["errors"]]
    assert any(f == field or f.startswith(f"{field}.") or not field for f in fields), fields


async def test_summarize_other_users_thread_is_not_found(
    client: httpx.AsyncClient, keys: Keys, quote_thread: tuple[str, list[str]]
) -> None:
    thread_id, message_ids = quote_thread
    theirs = await client.post(
        "/v1/summarize", json={"thread_id": thread_id}, headers=auth(keys.eve)
    )
    made_up = await client.post(
        "/v1/summarize", json={"thread_id": MADE_UP_THREAD}, headers=auth(keys.eve)
    )
    _same_problem(theirs, made_up)
    # A message id standing for its thread is checked the same way.
    by_message = await client.post(
        "/v1/summarize", json={"thread_id": message_ids[0]}, headers=auth(keys.eve)
    )
    _same_problem(by_message, made_up)


# -- smart reply --------------------------------------------------------------------------------


async def test_smart_reply_by_message_id(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    lunch = _by_subject(http_services, "demo", "Lunch next Friday?")
    r = await client.post("/v1/smart-reply", json={"message_id": lunch.id}, headers=auth(keys.demo))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message_id"] == lunch.id
    assert body["triggered"] is True
    assert body["reason"] in get_args(TriggerReason)
    assert 1 <= len(body["chips"]) <= 3
    assert len({c["text"] for c in body["chips"]}) == len(body["chips"])
    assert all(c["intent"] and c["response_id"] for c in body["chips"])


async def test_smart_reply_declines_newsletters_with_a_reason(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    digest = _by_subject(http_services, "demo", "The PM Digest: 5 ways to run a launch retro")
    r = await client.post(
        "/v1/smart-reply", json={"message_id": digest.id}, headers=auth(keys.demo)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["triggered"] is False
    assert body["reason"] in ("automated", "mailing_list", "bulk", "no_reply_sender", "news")
    assert body["chips"] == []


async def test_smart_reply_raw_message(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    parsed = parse_message(RAW_ASK.encode())
    r = await client.post(
        "/v1/smart-reply",
        json={"raw_message": RAW_ASK, "now": "2026-11-10T11:00:00+00:00"},
        headers=auth(keys.demo),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message_id"] == parsed.id
    assert body["triggered"] is True and body["reason"] == "meeting_request"
    assert body["proposed_time"] is not None
    assert 1 <= len(body["chips"]) <= 3
    assert http_services.store.get_message("demo", parsed.id) is None


@pytest.mark.parametrize(
    "body",
    [{}, {"message_id": "x1"}, {"message_id": MADE_UP_MESSAGE, "raw_message": RAW_ASK}],
)
async def test_smart_reply_rejects_bad_input(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any]
) -> None:
    r = await client.post("/v1/smart-reply", json=body, headers=auth(keys.demo))
    assert r.status_code == 422, r.text


async def test_smart_reply_other_users_message_is_not_found(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    lunch = _by_subject(http_services, "demo", "Lunch next Friday?")
    theirs = await client.post(
        "/v1/smart-reply", json={"message_id": lunch.id}, headers=auth(keys.eve)
    )
    made_up = await client.post(
        "/v1/smart-reply", json={"message_id": MADE_UP_MESSAGE}, headers=auth(keys.eve)
    )
    _same_problem(theirs, made_up)
    eve_id = http_services.store.list_messages("eve")[0].id
    r = await client.post("/v1/smart-reply", json={"message_id": eve_id}, headers=auth(keys.demo))
    assert r.status_code == 404


# -- drafts -------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_draft_reply(client: httpx.AsyncClient, keys: Keys, http_services: Services) -> None:
    lunch = _by_subject(http_services, "demo", "Lunch next Friday?")
    r = await client.post(
        "/v1/drafts",
        json={"message_id": lunch.id, "instructions": "Say yes and suggest noon."},
        headers=auth(keys.demo),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message_id"] == lunch.id
    assert isinstance(body["draft"], str) and body["draft"].strip()
    assert isinstance(body["calendar_context"], str)
    assert body["latency_ms"] > 0


async def test_draft_other_users_message_is_not_found(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    lunch = _by_subject(http_services, "demo", "Lunch next Friday?")
    theirs = await client.post("/v1/drafts", json={"message_id": lunch.id}, headers=auth(keys.eve))
    made_up = await client.post(
        "/v1/drafts", json={"message_id": MADE_UP_MESSAGE}, headers=auth(keys.eve)
    )
    _same_problem(theirs, made_up)
    r = await client.post(
        "/v1/drafts", json={"message_id": lunch.id, "instructions": "x" * 501},
        headers=auth(keys.demo),
    )  # fmt: skip
    assert r.status_code == 422
