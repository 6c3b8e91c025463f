"""Liveness, readiness and the OpenAPI document, over the real app and the demo data."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.integration]


async def test_healthz_and_readyz_need_no_key(client: httpx.AsyncClient) -> None:
    live = await client.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"store": True, "index": True, "embedder": True, "model": True}


async def test_every_route_is_documented_with_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for route in ("/v1/chat", "/v1/chat/completions", "/v1/search", "/v1/ingest", "/readyz"):
        assert route in paths, sorted(paths)
    assert "/internal/index" not in paths  # the hand-off route is not public API
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
