"""The online quality signals of issue 15 through ``GET /metrics``: thumbs ratio (feedback
route), summary fallback and citation-drop rates (summarize route), answer length and tool
errors (chat route), on an app of this module's own over the shared demo services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from api.services import Services
from tests.api.http.conftest import Keys, auth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RAW = (
    "From: Ana Ruiz <ana@example.com>\r\nTo: demo@example.com\r\nSubject: Budget review\r\n"
    "Message-ID: <q1@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
    "The Q1 budget review moved to Thursday at 3pm. Please bring the updated vendor quotes.\r\n"
    "Marco will present the certification costs.\r\n"
)


@pytest.fixture(scope="module")
def quality_app(http_services: Services) -> FastAPI:
    # A generous request timeout: the signals, not the speed, are under test (loaded CI boxes).
    base = http_services.settings
    settings = base.model_copy(
        update={"server": base.server.model_copy(update={"request_timeout_s": 900.0})}
    )
    return create_app(settings, services=http_services, warm=False)


@pytest.fixture
async def quality_client(quality_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(quality_app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def _metrics(client: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = (await client.get("/metrics")).text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _sum(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
         ) -> float:  # fmt: skip
    return sum(
        v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    )


async def test_feedback_summary_and_chat_routes_feed_the_quality_metrics(
    quality_client: httpx.AsyncClient, keys: Keys
) -> None:
    before = await _metrics(quality_client)
    assert _sum(before, "mailmind_thumbs_up_ratio") == 0.0  # exported before any feedback
    hit = (await quality_client.get(
        "/v1/search", params={"q": "invoice", "limit": 1}, headers=auth(keys.demo)
    )).json()["results"][0]  # fmt: skip
    for rating in ("up", "up", "down"):
        r = await quality_client.post(
            "/v1/feedback", json={"kind": "summary", "target_id": hit["message_id"],
                                  "rating": rating}, headers=auth(keys.demo),
        )  # fmt: skip
        assert r.status_code == 201, r.text

    # A short raw message keeps the one model call small.
    summary = await quality_client.post(
        "/v1/summarize", json={"raw_messages": [RAW]}, headers=auth(keys.demo)
    )
    assert summary.status_code == 200, summary.text
    chat = await quality_client.post(
        "/v1/chat",
        json={"messages": [{"role": "user", "content": "how much is the brightpath invoice?"}]},
        headers=auth(keys.demo),
    )  # fmt: skip
    assert chat.status_code == 200, chat.text

    after = await _metrics(quality_client)
    assert _sum(after, "mailmind_feedback_thumbs_total", kind="summary", rating="up") == 2
    assert _sum(after, "mailmind_thumbs_up_ratio") == pytest.approx(2 / 3)
    method = summary.json()["method"]
    assert _sum(after, "mailmind_summaries_total", method=method) == 1
    assert _sum(after, "mailmind_summary_fallback_ratio") == (1.0 if method == "extractive"
                                                              else 0.0)  # fmt: skip
    dropped = len(summary.json()["dropped_sentences"])
    assert _sum(after, "mailmind_summary_sentences_total", outcome="dropped") == dropped
    body = chat.json()
    assert _sum(after, "mailmind_answer_length_chars_count") == 1
    assert _sum(after, "mailmind_answer_length_chars_sum") == len(body["answer"])
    calls = body["tool_calls"]
    assert _sum(after, "mailmind_tool_calls_total") == len(calls)
    failed = sum(1 for c in calls if not c["ok"])
    expected = failed / len(calls) if calls else 0.0
    assert _sum(after, "mailmind_tool_error_ratio") == pytest.approx(expected)
