"""Request limits: per-key rate limit (429 + Retry-After), body size (413), request time (504).

The app is the real ``create_app`` over real (lazily built) services on an empty data dir: only
the key store is touched, so no model loads. Test-only routes are added to it for a body to
post and a handler that is too slow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel

from api.http.app import create_app
from api.http.deps import PrincipalDep
from api.http.limits import Limits
from api.http.middleware import TIMEOUT_GRACE_S
from api.services import Services
from core.errors import ConfigError
from core.settings import ServerSettings, Settings
from tests.api.http.conftest import auth

PROBLEM = "application/problem+json"


class Note(BaseModel):
    text: str


def _add_test_routes(app: FastAPI) -> None:
    async def ping(principal: PrincipalDep) -> dict[str, str]:
        return {"user": principal.user}

    async def note(body: Note) -> dict[str, int]:
        return {"chars": len(body.text)}

    async def slow_async() -> dict[str, bool]:
        await asyncio.sleep(5)
        return {"done": True}

    def slow_sync() -> dict[str, bool]:
        time.sleep(TIMEOUT_GRACE_S + 1.5)  # a worker thread the middleware cannot interrupt
        return {"done": True}

    app.add_api_route("/test/ping", ping)
    app.add_api_route("/test/note", note, methods=["POST"])
    app.add_api_route("/test/slow", slow_async)
    app.add_api_route("/test/slow-sync", slow_sync)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data = Path(tmp_path_factory.mktemp("limits-data"))
    svc = Services(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def tokens(services: Services) -> dict[str, str]:
    _, alice = services.keys.create("alice", name="t")
    _, bob = services.keys.create("bob", name="t")
    return {"alice": alice, "bob": bob}


async def _client(services: Services, **server: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = services.settings.model_copy(deep=True)
    for name, value in server.items():
        setattr(settings.server, name, value)
    app = create_app(settings, services=services, warm=False)
    _add_test_routes(app)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture
async def tight(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a 3-per-minute rate limit, a 1 KiB body limit and a 0.1 s timeout."""
    async for c in _client(
        services, rate_limit="3/minute", max_body_bytes=1024, request_timeout_s=0.1
    ):
        yield c


async def test_rate_limit_is_per_key_with_retry_after(
    tight: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    statuses = [
        (await tight.get("/test/ping", headers=auth(tokens["alice"]))).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    r = await tight.get("/test/ping", headers=auth(tokens["alice"]))
    assert r.status_code == 429
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another key has its own window.
    r = await tight.get("/test/ping", headers=auth(tokens["bob"]))
    assert r.status_code == 200 and r.json() == {"user": "bob"}
    # Unauthenticated requests are refused before they could spend anyone's budget.
    assert (await tight.get("/test/ping")).status_code == 401


async def test_body_over_limit_is_413_declared_or_streamed(tight: httpx.AsyncClient) -> None:
    small = await tight.post("/test/note", json={"text": "x" * 100})
    assert small.status_code == 200 and small.json() == {"chars": 100}

    big = await tight.post("/test/note", json={"text": "x" * 5000})
    assert big.status_code == 413
    assert big.headers["content-type"].startswith(PROBLEM)
    assert big.json()["status"] == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked upload
        yield b'{"text": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = await tight.post(
        "/test/note", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"].startswith(PROBLEM)
    # The same problem type whichever layer noticed.
    assert streamed.json()["type"] == big.json()["type"]
    assert big.json()["type"].endswith("/body_too_large")


async def test_ingest_is_exempt_from_the_json_body_limit() -> None:
    limits = Limits.from_settings(ServerSettings(max_body_bytes=2048))  # type: ignore[call-arg]
    assert limits.body_limit("/v1/ingest") is None
    assert limits.body_limit("/v1/chat") == 2048


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/test/slow", "/test/slow-sync"])
async def test_request_past_the_timeout_is_504(tight: httpx.AsyncClient, path: str) -> None:
    started = time.perf_counter()
    r = await tight.get(path)
    elapsed = time.perf_counter() - started
    assert r.status_code == 504
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("/timeout")
    assert r.headers.get("x-request-id")
    # Answered at the deadline, not when the (sync) work ends.
    assert elapsed < 0.1 + TIMEOUT_GRACE_S + 1.0


async def test_fast_requests_are_not_timed_out(tight: httpx.AsyncClient) -> None:
    r = await tight.get("/healthz")
    assert r.status_code == 200


def test_rate_limit_window_and_retry_after() -> None:
    limits = Limits.from_settings(ServerSettings(rate_limit="2/minute"))  # type: ignore[call-arg]
    assert limits.check_rate("k1") is None
    assert limits.check_rate("k1") is None
    wait = limits.check_rate("k1")
    assert wait is not None and 1 <= wait <= 60
    assert limits.check_rate("k2") is None
    limits.reset()
    assert limits.check_rate("k1") is None


def test_bad_rate_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Limits.from_settings(ServerSettings(rate_limit="lots"))  # type: ignore[call-arg]
