"""Fixtures for HTTP tests: the real app over the demo data, keys for two users, clients.

``http_services`` is built once per session (MiniLM, the index and the model load once): the
demo mailbox, calendar and contacts as user ``demo``, indexed, and a second user ``eve`` with
one message, so every route can be checked for isolation. ``client`` talks to the ASGI app in
process (httpx); ``live_server`` runs a real uvicorn on a free loopback port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.http.app import create_app
from api.services import Services
from core.settings import REPO_ROOT, Settings
from tests.agents.llm.conftest import llm_settings  # noqa: F401 - shared real-model fixture

EVE_MAIL = (
    "From: spy@evil.example\nTo: eve@evil.example\nSubject: housing quote secret\n"
    "Message-ID: <eve-1@evil.example>\nDate: Tue, 10 Nov 2026 10:00:00 +0000\n\n"
    "The housing quote is 9.99 per unit. Can you confirm by Friday?\n"
)


@dataclass(frozen=True, slots=True)
class Keys:
    """API keys of the test users."""

    demo: str
    eve: str
    admin: str


@pytest.fixture(scope="session")
def http_services(
    tmp_path_factory: pytest.TempPathFactory,
    llm_settings: Settings,  # noqa: F811 - the imported fixture
) -> Iterator[Services]:
    """Services over the demo data (user ``demo``) plus one message of user ``eve``, with the
    real model (shared model cache) and short answers."""
    data = Path(tmp_path_factory.mktemp("http-data"))
    (data / "models").symlink_to(llm_settings.model_cache_dir)
    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    settings.agent.answer_tokens = 48  # structure, not prose, is under test: keep it short
    services = Services(settings)
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path("demo", REPO_ROOT / "demo" / part)
    other = data / "eve-mail"
    other.mkdir()
    (other / "1.eml").write_text(EVE_MAIL)
    services.ingest_path("eve", other)
    yield services
    services.close()


@pytest.fixture(scope="session")
def keys(http_services: Services) -> Keys:
    """One user key each for ``demo`` and ``eve``, and an admin key."""
    _, demo = http_services.keys.create("demo", name="test")
    _, eve = http_services.keys.create("eve", name="test")
    _, admin = http_services.keys.create("admin", name="test", scopes=("user", "admin"))
    return Keys(demo=demo, eve=eve, admin=admin)


@pytest.fixture(scope="session")
def http_app(http_services: Services) -> object:
    """The app over the shared services (the lifespan does not close them)."""
    return create_app(http_services.settings, services=http_services)


@pytest.fixture
async def client(http_app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the ASGI app, lifespan run."""
    from asgi_lifespan import LifespanManager

    # The first startup warms the models (seconds on a busy machine; asgi-lifespan allows 5).
    async with LifespanManager(http_app, startup_timeout=300) as manager:  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def auth(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running uvicorn."""

    url: str
    server: uvicorn.Server


@pytest.fixture(scope="session")
def live_server(http_app: object) -> Iterator[LiveServer]:
    """A real uvicorn serving the app on a free loopback port, in a thread."""
    port = free_port()
    config = uvicorn.Config(http_app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", server=server)
    server.should_exit = True
    thread.join(timeout=30)
