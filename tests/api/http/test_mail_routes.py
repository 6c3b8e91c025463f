"""``GET /v1/search``, ``/v1/messages/{id}`` and ``/v1/threads/{id}`` over the real app and the
demo data: results are the key's user's, ids resolve, filters narrow, other users' ids are 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.services import Services
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
MADE_UP_MESSAGE = "m" + "0" * 20
MADE_UP_THREAD = "t" + "0" * 20


def _without_instance(body: dict[str, object]) -> dict[str, object]:
    """A problem body minus the fields that name the request (path, request id)."""
    return {k: v for k, v in body.items() if k not in ("instance", "request_id")}


async def _search(client: httpx.AsyncClient, key: str, **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/search", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_search_returns_demo_messages_that_exist(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    body = await _search(client, keys.demo, q="NW-200 launch plan", limit=5)
    assert body["mode"] == "hybrid"
    results = body["results"]
    assert isinstance(results, list)
    assert 0 < len(results) <= 5 and body["count"] == len(results)
    demo_ids = http_services.store.message_ids("demo")
    assert {h["message_id"] for h in results} <= demo_ids
    assert any("launch plan" in h["subject"].lower() for h in results)
    scores = [h["score"] for h in results]
    assert scores == sorted(scores, reverse=True)
    for hit in results:
        r = await client.get(f"/v1/messages/{hit['message_id']}", headers=auth(keys.demo))
        assert r.status_code == 200
        assert r.json()["message"]["thread_id"] == hit["thread_id"]


@pytest.mark.parametrize("mode", ["dense", "sparse"])
async def test_search_modes(client: httpx.AsyncClient, keys: Keys, mode: str) -> None:
    body = await _search(client, keys.demo, q="invoice enclosure design", mode=mode, limit=3)
    assert body["mode"] == mode
    assert body["count"] >= 1


async def test_search_sender_filter(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    everything = await _search(client, keys.demo, q="NW-200", limit=20)
    results = everything["results"]
    assert isinstance(results, list)
    senders = {h["sender"] for h in results}
    assert len(senders) > 1  # the filter below has something to exclude
    sender = results[0]["sender"]
    body = await _search(client, keys.demo, q="NW-200", limit=20, **{"from": sender})
    filtered = body["results"]
    assert isinstance(filtered, list)
    assert filtered and {h["sender"] for h in filtered} == {sender}


async def test_search_date_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    after, before = "2026-11-10", "2026-11-20"
    body = await _search(client, keys.demo, q="NW-200", limit=50, after=after, before=before)
    results = body["results"]
    assert isinstance(results, list) and results
    lo = datetime(2026, 11, 10, tzinfo=UTC)
    hi = datetime(2026, 11, 20, tzinfo=UTC)
    for hit in results:
        assert lo <= datetime.fromisoformat(hit["date"]) < hi
    unfiltered = await _search(client, keys.demo, q="NW-200", limit=50)
    assert unfiltered["count"] > body["count"]


async def test_search_of_eve_sees_only_eve(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    # "housing quote" matches demo's quote thread and eve's one message.
    demo_body = await _search(client, keys.demo, q="housing quote", limit=10)
    demo_hits = {h["message_id"] for h in demo_body["results"]}
    assert demo_hits and demo_hits <= http_services.store.message_ids("demo")

    body = await _search(client, keys.eve, q="housing quote", limit=10)
    hits = {h["message_id"] for h in body["results"]}
    eve_ids = http_services.store.message_ids("eve")
    assert hits and hits <= eve_ids
    assert not hits & (demo_hits - eve_ids)


async def test_search_of_a_user_without_mail_is_empty(
    client: httpx.AsyncClient, http_services: Services
) -> None:
    _, key = http_services.keys.create("nomail", name="test")
    body = await _search(client, key, q="housing quote")
    assert body["count"] == 0 and body["results"] == []


async def test_search_needs_a_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/search", params={"q": "quote"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 401
    r = await client.get("/v1/search", params={"q": "quote"}, headers=auth("mm_nope_nope"))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "x", "mode": "fuzzy"},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "after": "last tuesday"},
        {"q": "x", "thread": "t1\n"},
        {"q": "x", "has_attachment": "maybe"},
    ],
)
async def test_search_rejects_bad_parameters(
    client: httpx.AsyncClient, keys: Keys, params: dict[str, Any]
) -> None:
    r = await client.get("/v1/search", params=params, headers=auth(keys.demo))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"]


async def test_message_shows_everything_a_client_needs(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    mid = sorted(http_services.store.message_ids("demo"))[0]
    expected = http_services.store.get_message("demo", mid)
    assert expected is not None
    r = await client.get(f"/v1/messages/{mid}", headers=auth(keys.demo))
    assert r.status_code == 200
    body = r.json()
    msg = body["message"]
    assert msg["id"] == mid
    assert msg["subject"] == expected.subject
    assert msg["body_text"] == expected.body_text
    assert msg["new_text"] == expected.new_text
    assert len(msg["to"]) == len(expected.to)
    assert msg["sender"]["email"] == (expected.sender.email if expected.sender else None)
    assert len(msg["attachments"]) == len(expected.attachments)
    assert mid in [entry["id"] for entry in body["thread"]]


async def test_message_with_attachment_lists_its_metadata(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    with_files = [m for m in http_services.store.iter_messages("demo") if m.attachments]
    assert with_files, "the demo mailbox has messages with attachments"
    m = with_files[0]
    r = await client.get(f"/v1/messages/{m.id}", headers=auth(keys.demo))
    assert r.status_code == 200
    got = r.json()["message"]["attachments"]
    assert [(a["filename"], a["content_type"], a["size"]) for a in got] == [
        (a.filename, a.content_type, a.size) for a in m.attachments
    ]


async def test_thread_lists_its_messages_oldest_first(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    # The demo thread with the most messages.
    threads: dict[str, int] = {}
    for m in http_services.store.iter_messages("demo"):
        assert m.thread_id is not None
        threads[m.thread_id] = threads.get(m.thread_id, 0) + 1
    tid = max(threads, key=lambda t: threads[t])
    r = await client.get(f"/v1/threads/{tid}", headers=auth(keys.demo))
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == tid
    assert body["message_count"] == threads[tid] == len(body["messages"]) > 1
    dates = [datetime.fromisoformat(m["date"]) for m in body["messages"]]
    assert dates == sorted(dates)
    assert {m["thread_id"] for m in body["messages"]} == {tid}


async def test_other_users_ids_are_not_found(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    demo_msg = sorted(http_services.store.message_ids("demo"))[0]
    demo_thread = http_services.store.get_message("demo", demo_msg)
    assert demo_thread is not None and demo_thread.thread_id
    eve_msg = sorted(http_services.store.message_ids("eve"))[0]

    made_up = await client.get(f"/v1/messages/{MADE_UP_MESSAGE}", headers=auth(keys.eve))
    assert made_up.status_code == 404
    for key, path in (
        (keys.eve, f"/v1/messages/{demo_msg}"),
        (keys.demo, f"/v1/messages/{eve_msg}"),
    ):
        r = await client.get(path, headers=auth(key))
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM)
        # Indistinguishable from an id that exists for nobody.
        assert _without_instance(r.json()) == _without_instance(made_up.json())

    made_up_thread = await client.get(f"/v1/threads/{MADE_UP_THREAD}", headers=auth(keys.eve))
    r = await client.get(f"/v1/threads/{demo_thread.thread_id}", headers=auth(keys.eve))
    assert r.status_code == made_up_thread.status_code == 404
    assert _without_instance(r.json()) == _without_instance(made_up_thread.json())


@pytest.mark.parametrize(
    "path",
    [
        "/v1/messages/m0000%0a0000000000000000",
        "/v1/messages/m%00aaaaaaaaaaaaaaaaaaaa",
        "/v1/messages/not-an-id",
        "/v1/messages/M0000000000000000",
        "/v1/messages/t00000000000000000000",
        "/v1/threads/t..%5C..%5Cetc",
        "/v1/threads/t%20aaaaaaaaaaaaaaaaaaa",
        "/v1/threads/m00000000000000000000",
    ],
)
async def test_malformed_ids_are_rejected(client: httpx.AsyncClient, keys: Keys, path: str) -> None:
    r = await client.get(path, headers=auth(keys.demo))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"][0]["loc"][0] == "path"
