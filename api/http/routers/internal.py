"""``POST /internal/index``: CLI processes hand a user's indexing to the running service.

While ``mailmind serve`` runs it is the one writer of the users' Qdrant Edge shards; ``mailmind
ingest``/``sync``/``index`` store mail in SQLite themselves and then ask the service, through
this route, to index it from the store (see :mod:`retrieval.index.handoff`). The route is not an
API: it is left out of the OpenAPI document and answers only requests carrying the random token
from ``<data_dir>/service.json`` (readable by the service's OS user only), never an API key.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, FastAPI, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.http.deps import ServicesDep
from api.http.errors import ProblemError
from retrieval.index.handoff import TOKEN_HEADER, ServiceInfo, loopback_url, publish, withdraw

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger("mailmind.http")

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


class IndexRequest(BaseModel):
    """Bring this user's vectors up to date with the store."""

    user: str = Field(min_length=1, max_length=200)
    rebuild: bool = False


class IndexResponse(BaseModel):
    """What :meth:`~api.services.Services.index_user` did."""

    user: str
    counts: dict[str, int]


_user_locks: dict[str, threading.Lock] = {}
_user_locks_guard = threading.Lock()


def _user_lock(user: str) -> threading.Lock:
    # Two CLI processes handing off the same user at once: index one after the other, so the
    # second run finds the first one's points and only embeds what is still missing.
    with _user_locks_guard:
        return _user_locks.setdefault(user, threading.Lock())


def _check_token(request: Request, token: str | None) -> None:
    expected = getattr(request.app.state, "service_token", None)
    if not expected or not token or not hmac.compare_digest(token, expected):
        raise ProblemError(
            403, "forbidden", "internal routes need the service token", code="forbidden"
        )


@router.post("/index", response_model=IndexResponse)
async def index_user(
    body: IndexRequest,
    request: Request,
    services: ServicesDep,
    token: Annotated[str | None, Header(alias=TOKEN_HEADER)] = None,
) -> IndexResponse:
    """Index ``body.user``'s stored mail (new, changed and deleted messages) in this process."""
    _check_token(request, token)

    def run() -> dict[str, int]:
        with _user_lock(body.user):
            return services.index_user(body.user, rebuild=body.rebuild)

    counts = await run_in_threadpool(run)
    return IndexResponse(user=body.user, counts=counts)


def announce(app: FastAPI, settings: Settings) -> ServiceInfo | None:
    """Write ``<data_dir>/service.json`` for this service (called by the app's lifespan), so CLI
    processes hand their indexing here. The URL is ``app.state.public_url`` when the server
    set it (``mailmind serve`` does), else ``server.host``/``server.port`` from the settings."""
    url = getattr(app.state, "public_url", None) or loopback_url(
        settings.server.host, settings.server.port
    )
    try:
        info = publish(settings.data_dir, url)
    except OSError as exc:  # a read-only data dir: CLI processes then wait for the shard lock
        log.warning("cannot write %s: %s", settings.data_dir / "service.json", exc)
        return None
    app.state.service_token = info.token
    return info


def retract(settings: Settings, info: ServiceInfo | None) -> None:
    """Remove this service's ``service.json`` at shutdown (never raises)."""
    if info is not None:
        try:
            withdraw(settings.data_dir, info)
        except OSError as exc:
            log.warning("cannot remove %s: %s", settings.data_dir / "service.json", exc)
