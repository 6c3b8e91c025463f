"""``POST /v1/ingest`` with a ``message/rfc822`` body: stored for the key's user, announced on the
(in-process) event bus and handled by the service's own consumer: indexed, chips and thread
summary precomputed, for that user only; duplicates and garbage are answered correctly."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from agents.precompute import CHIPS, SUMMARY
from api.services import Services
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration

WORD = "quetzalpergola"  # in no demo or eve message but this one
RAW = (
    "From: Ana Ruiz <ana@example.org>\r\nTo: eve@evil.example\r\n"
    f"Subject: {WORD} delivery\r\nMessage-ID: <eve-live-1@example.org>\r\n"
    "Date: Thu, 12 Nov 2026 08:30:00 +0000\r\n\r\n"
    f"Can you confirm the {WORD} delivery for Friday morning?\r\n"
).encode()
RFC822 = {"Content-Type": "message/rfc822"}


async def _until(check: object, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the event was not handled in time"
        await asyncio.sleep(0.05)


async def test_raw_message_is_stored_handled_and_isolated(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    r = await client.post("/v1/ingest", content=RAW, headers={**auth(keys.eve), **RFC822})
    assert r.status_code == 202, r.text
    body = r.json()
    mid = body["message_id"]
    assert (body["added"], body["events"]) == (True, 1)
    assert mid in http_services.store.message_ids("eve")
    message = http_services.store.get_message("eve", mid)
    assert message is not None and message.folder == "INBOX"

    # The service's consumer indexes it and precomputes chips and the thread summary.
    svc = http_services
    await _until(lambda: svc.precomputed.get("eve", SUMMARY, message.thread_id) is not None)
    chips = svc.precomputed.get("eve", CHIPS, mid)
    assert chips is not None and chips["message_id"] == mid
    assert mid in svc.index.message_hashes("eve")
    hits = await client.get("/v1/search", params={"q": WORD}, headers=auth(keys.eve))
    assert [h["message_id"] for h in hits.json()["results"] if WORD in h["subject"]] == [mid]

    # Nothing of it reaches demo: not the message, the vectors, nor the precomputed results.
    assert (await client.get(f"/v1/messages/{mid}", headers=auth(keys.demo))).status_code == 404
    hits = await client.get("/v1/search", params={"q": WORD}, headers=auth(keys.demo))
    assert mid not in {h["message_id"] for h in hits.json()["results"]}
    assert mid not in svc.store.message_ids("demo")
    assert svc.precomputed.get("demo", CHIPS, mid) is None
    assert svc.precomputed.get("demo", SUMMARY, message.thread_id) is None

    # The same bytes again: a duplicate, no new event.
    r = await client.post("/v1/ingest", content=RAW, headers={**auth(keys.eve), **RFC822})
    assert r.status_code == 202
    assert r.json() == {"message_id": mid, "added": False, "events": 0}

    # The pipeline's metrics are on /metrics.
    metrics = (await client.get("/metrics")).text
    handled = [
        line for line in metrics.splitlines()
        if line.startswith('mailmind_events_handled_total{outcome="handled"}')
    ]  # fmt: skip
    assert handled and float(handled[0].split()[-1]) >= 1
    assert "mailmind_events_lag " in metrics and "mailmind_events_dead " in metrics


async def test_raw_garbage_is_quarantined_and_refused(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    before = http_services.store.message_ids("eve")
    r = await client.post(
        "/v1/ingest", content=b"\x00\x01 not a message", headers={**auth(keys.eve), **RFC822}
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/parse_error")
    assert http_services.store.message_ids("eve") == before
    r = await client.post("/v1/ingest", content=b"", headers={**auth(keys.eve), **RFC822})
    assert r.status_code == 400
    r = await client.post(
        "/v1/ingest", params={"folder": "In\nbox"}, content=RAW,
        headers={**auth(keys.eve), **RFC822},
    )  # fmt: skip
    assert r.status_code == 400 and "folder" in r.json()["detail"]
    assert http_services.store.message_ids("eve") == before
    r = await client.post("/v1/ingest", content=RAW, headers=RFC822)
    assert r.status_code == 401


async def test_multipart_upload_publishes_one_event_per_new_message(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    mails = [
        RAW.replace(b"eve-live-1", f"eve-live-up-{n}".encode()).replace(WORD.encode(), b"crate")
        for n in range(3)
    ]
    files = [("files", (f"{n}.eml", m, "message/rfc822")) for n, m in enumerate(mails)]
    r = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mail"]["added"] == 3 and body["events"] == 3
    again = await client.post("/v1/ingest", files=files, headers=auth(keys.eve))
    assert again.json()["events"] == 0


async def test_summarize_serves_a_summary_a_worker_made_the_same_way(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    from agents.precompute import summary_version

    raw = RAW.replace(b"eve-live-1", b"eve-live-kept").replace(WORD.encode(), b"pergola")
    r = await client.post("/v1/ingest", content=raw, headers={**auth(keys.eve), **RFC822})
    mid = r.json()["message_id"]
    svc = http_services
    message = svc.store.get_message("eve", mid)
    assert message is not None and message.thread_id
    thread = message.thread_id
    await _until(lambda: svc.precomputed.get("eve", SUMMARY, thread) is not None)
    # The service's default worker summary is extractive: the route (which uses the model)
    # does not take it for its own ...
    kept = dict(svc.precomputed.get("eve", SUMMARY, thread))
    assert kept["method"] == "extractive"
    # ... but one made with the model over the same messages it serves as is.
    _, messages = svc.store.get_thread("eve", thread)  # type: ignore[misc]
    version = summary_version("model", [m.id for m in messages])
    svc.precomputed.put("eve", SUMMARY, thread, version, {**kept, "subject": "kept by a worker"})
    try:
        r = await client.post("/v1/summarize", json={"thread_id": thread}, headers=auth(keys.eve))
        assert r.status_code == 200, r.text
        assert r.json()["subject"] == "kept by a worker"
        # Another user asking for the thread id still gets a 404.
        r = await client.post("/v1/summarize", json={"thread_id": thread}, headers=auth(keys.demo))
        assert r.status_code == 404
    finally:
        with svc.precomputed.conn:
            svc.precomputed.conn.execute(
                "DELETE FROM precomputed WHERE user_id = 'eve' AND version = ?", (version,)
            )
