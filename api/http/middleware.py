"""ASGI middleware of the service (pure ASGI, so streaming responses and context variables pass
through untouched, which ``BaseHTTPMiddleware`` does not guarantee).

Outermost first, as :func:`install_middleware` stacks them:

* :class:`RequestContextMiddleware` - the request id (``X-Request-ID``: the client's if it is a
  sane token, else a new one) in :data:`core.logging.request_id_var`, on ``request.state`` and on
  the response; one access-log line; the request-latency histogram per route template.
* :class:`TimeoutMiddleware` - a request that has not started its response within
  ``request_timeout_s`` (plus :data:`TIMEOUT_GRACE_S`) gets 504. It is the backstop for routes
  without a timeout of their own: generation routes are bounded by the generation gate
  (:mod:`api.http.generation`), which cancels its work cooperatively and answers first thanks to
  the grace. The deadline ends when the response starts, so a Server-Sent-Events stream is
  never cut here.
* :class:`BodyLimitMiddleware` - 413 for a body over ``max_body_bytes``, from
  ``Content-Length`` or while a chunked body streams in.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.http.errors import problem
from core.logging import request_id_var

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from api.http.limits import Limits
    from api.http.observability import Metrics

log = logging.getLogger("mailmind.http")
access_log = logging.getLogger("mailmind.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Routes whose time is not bounded by the middleware (uploads are streamed to disk and indexed
#: in batches; the ingest route answers with counts when it is done).
TIMEOUT_EXEMPT: frozenset[str] = frozenset({"/v1/ingest"})
#: Extra seconds before the middleware's 504, so a route's own timeout (which stops its work)
#: answers first.
TIMEOUT_GRACE_S = 1.0
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _state(scope: Scope) -> dict[str, Any]:
    # Starlette's ``request.state`` is a view of ``scope["state"]``.
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/threads/{thread_id}``), bounded in cardinality:
    unmatched paths are all ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Request id, access log and request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its id set everywhere it is needed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        rid = incoming if incoming and _SANE_ID.match(incoming) else uuid.uuid4().hex
        _state(scope)["request_id"] = rid
        trace.get_current_span().set_attribute("mailmind.request_id", rid)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            if self.metrics is not None:
                self.metrics.observe_request(scope.get("method", ""), route, status, elapsed)
            principal = _state(scope).get("principal")
            # The route template, never the raw path or query: those can carry search text.
            access_log.info(
                "%s %s %d %.1fms", scope.get("method", ""), route, status, elapsed * 1000,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 1),
                       "route": route, "key_id": getattr(principal, "key_id", None)},
            )  # fmt: skip
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """A request body over the limit (413). A FastAPI ``HTTPException`` so that, raised while a
    route's body is read, it reaches the problem+json handler instead of becoming a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


class BodyLimitMiddleware:
    """413 for request bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length``, then count the bytes as they arrive."""
        if scope["type"] != "http" or scope.get("method") not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        limit = self.limits.body_limit(scope.get("path", ""))
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Raised outside a FastAPI body read (e.g. a route reading request.stream()).
            if started:
                raise
            await self._reject(scope, receive, send, limit)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await too_large_response(Request(scope), limit)(scope, receive, send)


def too_large_response(request: Request, limit: int) -> JSONResponse:
    """The 413 problem document (the same whether the middleware or a route's body read
    noticed)."""
    return problem(
        413, "content too large", f"the request body is larger than {limit} bytes",
        request=request, code="body_too_large",
    )  # fmt: skip


class TimeoutMiddleware:
    """504 for a request whose response has not started within the limit."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request in a task and answer 504 if it does not start a response in time."""
        if scope["type"] != "http" or scope.get("path") in TIMEOUT_EXEMPT:
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        timed_out = False

        async def guarded_send(message: Message) -> None:
            if timed_out:
                return  # the 504 has been sent; the abandoned work's answer goes nowhere
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        # A task (not a cancel scope): sync routes run in worker threads that cannot be
        # interrupted, so the 504 must not wait for the cancellation to land.
        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiter = asyncio.ensure_future(started.wait())
        try:
            done, _ = await asyncio.wait(
                {task, waiter}, timeout=self.limits.request_timeout_s + TIMEOUT_GRACE_S,
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            waiter.cancel()
        if done:
            await task  # finished, or streaming its response: no deadline from here on
            return
        timed_out = True
        task.cancel()
        task.add_done_callback(_drain)
        log.warning("request timed out after %.1fs", self.limits.request_timeout_s)
        response = problem(
            504, "gateway timeout",
            f"the request took longer than {self.limits.request_timeout_s:g} s",
            request=Request(scope), code="timeout",
        )  # fmt: skip
        await response(scope, receive, send)


def _drain(task: asyncio.Future[Any]) -> None:
    # Retrieve the abandoned task's outcome so asyncio does not log "never retrieved".
    if not task.cancelled():
        task.exception()


def install_middleware(app: FastAPI, limits: Limits, metrics: Metrics | None) -> None:
    """Stack the middleware on ``app`` (Starlette runs the last added outermost)."""

    async def on_too_large(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyTooLarge)
        return too_large_response(request, exc.limit)

    # More specific than the HTTPException handler of api.http.errors, so it wins.
    app.add_exception_handler(BodyTooLarge, on_too_large)
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    app.add_middleware(TimeoutMiddleware, limits=limits)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
