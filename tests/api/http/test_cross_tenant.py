"""Cross-tenant isolation on every route: eve's key never reads, searches, summarises, replies
to, drafts for, chats over or gives feedback on demo's data, guessed ids included.

``test_every_v1_route_is_covered`` lists the app's ``/v1`` routes and fails when one is not
exercised here, so a new route cannot ship without its isolation test.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.services import Services
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

#: Routes this module checks, as (method, path template).
COVERED = {
    ("GET", "/v1/search"),
    ("GET", "/v1/messages/{message_id}"),
    ("GET", "/v1/threads/{thread_id}"),
    ("POST", "/v1/ingest"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/feedback/stats"),
    ("POST", "/v1/summarize"),
    ("POST", "/v1/smart-reply"),
    ("POST", "/v1/drafts"),
    ("POST", "/v1/chat"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    # Isolation of the web client's routes: tests/api/http/web/.
    ("GET", "/v1/folders"),
    ("GET", "/v1/messages"),
    ("GET", "/v1/conversations/{conversation_id}"),
    # Proposed actions: test_actions_are_bound_to_their_user below.
    ("GET", "/v1/actions"),
    ("POST", "/v1/actions/{action_id}/approve"),
    ("POST", "/v1/actions/{action_id}/reject"),
}
#: A string only demo's conversation contains.
DEMO_SECRET = "periwinkle-7781"


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """The documented routes (FastAPI >= 0.160 keeps included routers unflattened, so the
    OpenAPI schema is the public list of them)."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def _require(app: object, method: str, path: str) -> None:
    assert isinstance(app, FastAPI)
    if (method, path) not in _routes(app):
        pytest.skip(f"{method} {path} is not in this build of the app")


def _demo_threads(services: Services) -> dict[str, list[str]]:
    threads: dict[str, list[str]] = {}
    for m in services.store.iter_messages("demo"):
        assert m.thread_id is not None
        threads.setdefault(m.thread_id, []).append(m.id)
    return threads


def _eve_ids(services: Services) -> set[str]:
    """Every message and thread id of eve."""
    ids = set()
    for m in services.store.iter_messages("eve"):
        ids.add(m.id)
        ids.add(m.thread_id or "")
    return ids


def test_every_v1_route_is_covered(http_app: object) -> None:
    assert isinstance(http_app, FastAPI)
    v1 = {r for r in _routes(http_app) if r[1].startswith("/v1/")}
    assert v1 - COVERED == set(), "add an isolation test for these routes"


async def test_search_never_returns_another_users_mail(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    eve = _eve_ids(http_services)
    demo_only = http_services.store.message_ids("demo") - eve
    for q in ("housing quote", "NW-200 launch plan", "invoice", "Aisha Bello interview"):
        for mode in ("hybrid", "dense", "sparse"):
            r = await client.get(
                "/v1/search", params={"q": q, "mode": mode, "limit": 100}, headers=auth(keys.eve)
            )
            assert r.status_code == 200
            ids = {h["message_id"] for h in r.json()["results"]}
            assert ids <= eve and not ids & demo_only
    # Filters cannot widen the search: demo's thread id as a filter finds nothing for eve.
    demo_thread = next(t for t in _demo_threads(http_services) if t not in eve)
    r = await client.get(
        "/v1/search", params={"q": "quote", "thread": demo_thread}, headers=auth(keys.eve)
    )
    assert r.status_code == 200 and r.json()["results"] == []
    # And there is no way to name a user.
    r = await client.get(
        "/v1/search", params={"q": "quote", "user": "demo"}, headers=auth(keys.eve)
    )
    assert {h["message_id"] for h in r.json()["results"]} <= eve


async def test_no_demo_message_or_thread_is_readable_by_eve(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    eve = _eve_ids(http_services)
    threads = _demo_threads(http_services)
    for tid, mids in threads.items():
        if tid not in eve:
            r = await client.get(f"/v1/threads/{tid}", headers=auth(keys.eve))
            assert r.status_code == 404
        for mid in mids:
            if mid not in eve:
                r = await client.get(f"/v1/messages/{mid}", headers=auth(keys.eve))
                assert r.status_code == 404


async def test_a_copy_with_the_same_id_shows_only_its_owners_version(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    """Ids are derived from the Message-ID, so eve can own a message with the same id as one of
    demo's: each must see only their own copy, and their own thread."""
    threads = _demo_threads(http_services)
    tid = max(threads, key=lambda t: len(threads[t]))
    root = http_services.store.get_thread("demo", tid)
    assert root is not None
    original = root[1][0]
    copy = (
        f"From: spy@evil.example\nTo: eve@evil.example\nSubject: eve's own copy\n"
        f"Message-ID: {original.message_id}\nDate: Tue, 10 Nov 2026 11:00:00 +0000\n\n"
        "eve wrote this body herself.\n"
    )
    r = await client.post(
        "/v1/ingest",
        files=[("files", ("copy.eml", copy.encode(), "message/rfc822"))],
        headers=auth(keys.eve),
    )
    assert r.status_code == 200, r.text
    assert original.id in http_services.store.message_ids("eve")

    r = await client.get(f"/v1/messages/{original.id}", headers=auth(keys.eve))
    assert r.status_code == 200
    assert r.json()["message"]["body_text"].strip() == "eve wrote this body herself."
    assert r.json()["message"]["subject"] == "eve's own copy"
    eve_thread = r.json()["message"]["thread_id"]
    assert [e["id"] for e in r.json()["thread"]] == [original.id]

    r = await client.get(f"/v1/messages/{original.id}", headers=auth(keys.demo))
    assert r.json()["message"]["body_text"] == original.body_text
    assert r.json()["message"]["subject"] == original.subject

    r = await client.get(f"/v1/threads/{eve_thread}", headers=auth(keys.eve))
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["messages"]] == [original.id]
    r = await client.get(f"/v1/threads/{tid}", headers=auth(keys.demo))
    assert len(r.json()["messages"]) == len(threads[tid]) > 1


async def test_feedback_never_touches_demo(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    eve = _eve_ids(http_services)
    demo_stats = (await client.get("/v1/feedback/stats", headers=auth(keys.demo))).json()
    for tid, mids in _demo_threads(http_services).items():
        if tid not in eve:
            r = await client.post(
                "/v1/feedback",
                json={"kind": "summary", "target_id": tid, "rating": "down"},
                headers=auth(keys.eve),
            )
            assert r.status_code == 404
        mid = next((m for m in mids if m not in eve), None)
        if mid is not None:
            r = await client.post(
                "/v1/feedback",
                json={"kind": "chip", "target_id": mid, "chip_chosen": 0},
                headers=auth(keys.eve),
            )
            assert r.status_code == 404
    r = await client.post(
        "/v1/feedback", json={"kind": "answer", "rating": "up"}, headers=auth(keys.eve)
    )
    assert r.status_code == 201
    after = (await client.get("/v1/feedback/stats", headers=auth(keys.demo))).json()
    assert after == demo_stats


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "body_of"),
    [
        ("/v1/summarize", lambda mid, tid: {"thread_id": tid}),
        ("/v1/summarize", lambda mid, tid: {"thread_id": mid}),
        ("/v1/smart-reply", lambda mid, tid: {"message_id": mid}),
        ("/v1/drafts", lambda mid, tid: {"message_id": mid}),
    ],
)
async def test_agents_refuse_demo_ids(
    client: httpx.AsyncClient,
    keys: Keys,
    http_app: object,
    http_services: Services,
    path: str,
    body_of: Any,
) -> None:
    _require(http_app, "POST", path)
    eve = _eve_ids(http_services)
    threads = _demo_threads(http_services)
    tid = next(t for t in threads if t not in eve)
    mid = next(m for m in threads[tid] if m not in eve)
    made_up = await client.post(
        path, json=body_of("m" + "0" * 20, "t" + "0" * 20), headers=auth(keys.eve)
    )
    r = await client.post(path, json=body_of(mid, tid), headers=auth(keys.eve))
    assert r.status_code == made_up.status_code == 404
    assert r.json()["title"] == made_up.json()["title"]


async def _chat(
    client: httpx.AsyncClient, key: str, question: str, conversation: str
) -> dict[str, Any]:
    r = await client.post(
        "/v1/chat",
        json={"messages": [{"role": "user", "content": question}], "conversation_id": conversation},
        headers={**auth(key), "Accept": "application/json"},
        timeout=600,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _cited(body: dict[str, Any]) -> set[str]:
    return {c["id"] for c in body.get("citations", [])}


@pytest.mark.slow
async def test_chat_sees_only_the_callers_mail_and_memory(
    client: httpx.AsyncClient, keys: Keys, http_app: object, http_services: Services
) -> None:
    _require(http_app, "POST", "/v1/chat")
    conversation = "shared-conversation-1"
    demo = await _chat(
        client, keys.demo, f"Remember the code {DEMO_SECRET}. What did the housing quote say?",
        conversation,
    )  # fmt: skip
    assert demo["conversation_id"] == conversation
    # Same conversation id, other user: a separate conversation over eve's mail only.
    body = await _chat(client, keys.eve, "What did the housing quote say?", conversation)
    eve = _eve_ids(http_services)
    assert _cited(body) <= eve
    assert DEMO_SECRET not in body["answer"]
    for call in body["tool_calls"]:
        assert "user" not in call["args"]
    state = http_services.assistant.get_state(
        {"configurable": {"thread_id": f"eve/{conversation}"}}
    )
    assert DEMO_SECRET not in str(state.values)
    # Positive control: demo's memory does hold the secret, under demo's key.
    state = http_services.assistant.get_state(
        {"configurable": {"thread_id": f"demo/{conversation}"}}
    )
    assert DEMO_SECRET in str(state.values)


@pytest.mark.slow
async def test_openai_completions_see_only_the_callers_mail(
    client: httpx.AsyncClient, keys: Keys, http_app: object, http_services: Services
) -> None:
    _require(http_app, "POST", "/v1/chat/completions")
    _require(http_app, "GET", "/v1/models")
    r = await client.get("/v1/models", headers=auth(keys.eve))
    assert r.status_code == 200
    r = await client.post(
        "/v1/chat/completions",
        json={
            "model": "mailmind-assistant",
            "messages": [{"role": "user", "content": "Find the housing quote."}],
            "conversation_id": "shared-conversation-1",
        },
        headers=auth(keys.eve),
        timeout=600,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert _cited(body) <= _eve_ids(http_services)
    assert DEMO_SECRET not in body["choices"][0]["message"]["content"]


async def test_internal_routes_do_not_take_api_keys(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.post("/internal/index", json={"user": "demo"}, headers=auth(keys.eve))
    if r.status_code == 404:
        pytest.skip("no /internal/index in this build of the app")
    assert r.status_code == 403


async def test_actions_are_bound_to_their_user(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    action = http_services.actions.store.create(
        "demo", tool="save_draft", args={"to": ["a@example.com"], "subject": "s", "body": "b"},
        provenance={}, flags=[], summary="demo's draft", ttl_s=600,
    )  # fmt: skip
    listed = await client.get("/v1/actions", headers=auth(keys.eve))
    assert listed.status_code == 200
    assert action.id not in {a["id"] for a in listed.json()["actions"]}
    for verb in ("approve", "reject"):
        r = await client.post(f"/v1/actions/{action.id}/{verb}", headers=auth(keys.eve))
        assert r.status_code == 404
    assert http_services.actions.get("demo", action.id).status == "pending"
