"""The FastAPI app factory.

``create_app(settings)`` builds the app and nothing else: the heavy collaborators (store, index,
embedder, LLM runtime, graphs) are built once in the lifespan, warmed in a worker thread so the
first request does not pay for loading, and closed on shutdown. Uvicorn's graceful shutdown lets
in-flight requests finish before the lifespan closes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.http import observability
from api.http.errors import install_error_handlers
from api.http.generation import GenerationGate
from api.http.limits import Limits
from api.http.middleware import install_middleware
from api.http.routers import (
    actions,
    agents,
    chat,
    feedback,
    health,
    ingest,
    internal,
    mail,
    mailbox,
    metrics,
    openai_compat,
)
from api.http.web import install_web
from core.logging import install_record_factory

if TYPE_CHECKING:
    from api.services import Services
    from core.settings import Settings

log = logging.getLogger("mailmind.http")

API_DESCRIPTION = """\
mailmind's HTTP API: chat with the assistant over your mail, calendar and contacts (plain JSON,
Server-Sent Events, or OpenAI-compatible), thread summaries, smart-reply chips, drafts, hybrid
search, mail upload and feedback.

Every route but `/healthz`, `/readyz` and `/metrics` needs an API key
(`Authorization: Bearer mm_...`, made with `mailmind keys create --user NAME`); a key only ever
sees its own user's data. Errors are `application/problem+json` (RFC 9457).
"""


def create_app(
    settings: Settings, *, services: Services | None = None, warm: bool = True
) -> FastAPI:
    """Build the app over ``settings``.

    ``services`` lets a caller (tests, the benchmark) share an already built
    :class:`~api.services.Services`; it is then not closed on shutdown. ``warm`` loads the
    models at startup instead of on the first request that needs them.
    """
    owned = services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api.services import Services

        svc = services if services is not None else Services(settings)
        app.state.services = svc
        # Counted, not a flag: a test may run the same app under two servers at once.
        app.state.lifespans = getattr(app.state, "lifespans", 0) + 1
        observability.activate(app)
        if warm:
            await run_in_threadpool(svc.warm)
        log.info("mailmind service ready")
        # From here on CLI ingest/sync/index hand their indexing to this process (the one
        # writer of the users' shards): <data_dir>/service.json tells them where.
        announced = internal.announce(app, settings)
        consumer = start_inprocess_consumer(app, svc)
        try:
            yield
        finally:
            app.state.lifespans -= 1  # at 0 the app is shutting down: /readyz says so
            if consumer is not None:
                await run_in_threadpool(consumer.stop)
            internal.retract(settings, announced)
            if owned:
                await run_in_threadpool(svc.close)
            observability.flush(app)

    app = FastAPI(
        title="mailmind",
        version=_version(),
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Limits, request ids, access log, metrics and tracing (api/http/{limits,middleware,
    # observability}.py); deps.py applies the per-key rate limit through app.state.limits.
    install_record_factory(log_content=settings.log_content)
    app.state.limits = Limits.from_settings(settings.server)
    install_middleware(app, app.state.limits, observability.install_observability(app, settings))
    app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(mail.router)
    app.include_router(mailbox.router)  # folders, message pages, conversations
    app.include_router(ingest.router)
    app.include_router(feedback.router)
    app.include_router(actions.router)
    # Every route that runs the LLM or the graph takes a slot here (503 when full, 504 late).
    app.state.generation = GenerationGate(
        max_running=settings.llm.max_concurrency,
        max_waiting=settings.server.generation_queue,
        retry_after_s=settings.server.retry_after_s,
        timeout_s=settings.server.request_timeout_s,
    )
    app.include_router(chat.router)
    app.include_router(openai_compat.router)
    app.include_router(agents.router)
    app.include_router(internal.router)
    install_web(app)  # the web client at / (api/http/web)
    return app


class InProcessConsumer:
    """The thread that handles new-mail events inside the service (in-process bus only)."""

    def __init__(self, app: FastAPI, services: Services) -> None:
        import os

        self._stop = threading.Event()
        metrics = getattr(app.state, "metrics", None)
        observe = metrics.events.observe if metrics is not None and metrics.events else None

        def run() -> None:
            # The worker (and the models its handler needs) is built here, not in the lifespan.
            try:
                worker = services.event_worker(f"serve-{os.getpid()}", observe=observe)
                worker.run(self._stop, block_s=0.5)
            except Exception:
                log.exception("the in-process event consumer stopped")

        self._thread = threading.Thread(target=run, name="mailmind-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let the event in hand finish, then end the thread."""
        self._stop.set()
        self._thread.join(timeout=30)


def start_inprocess_consumer(app: FastAPI, services: Services) -> InProcessConsumer | None:
    """Handle events in this process when the bus is in-process (with Redis, `mailmind worker`
    processes do)."""
    if services.settings.events.backend != "inprocess":
        return None
    return InProcessConsumer(app, services)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailmind")
    except PackageNotFoundError:
        return "0.0.0"
