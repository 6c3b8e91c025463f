"""Errors as ``application/problem+json`` (RFC 9457) on every route.

One handler per family: our :class:`~core.errors.MailmindError` hierarchy maps to a status by
class, FastAPI's validation errors become 422 with field paths, Starlette's HTTP errors keep their
status, and anything else is a 500 whose body says nothing about internals (the traceback goes to
the log with the request id).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    ConfigError,
    InputError,
    MailmindError,
    ModelError,
    NotFoundError,
    StoreError,
    SyncError,
    VectorIndexError,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("mailmind.http")

#: Status for each error family; the most specific class wins (checked in this order).
_STATUS: tuple[tuple[type[MailmindError], int], ...] = (
    (NotFoundError, 404),
    (InputError, 400),
    (ConfigError, 500),
    (ModelError, 503),
    (VectorIndexError, 503),
    (StoreError, 503),
    (SyncError, 502),
)


class ProblemError(Exception):
    """Raise from a route or dependency to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    request: Request | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response (``type`` is ``about:blank`` unless a code is given)."""
    body: dict[str, Any] = {
        "type": f"https://mailmind.dev/problems/{code}" if code else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        rid = getattr(request.state, "request_id", None)
        if rid:
            body["request_id"] = rid
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: MailmindError) -> int:
    """HTTP status for one of our errors."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem(
            exc.status, exc.title, exc.detail, request=request, code=exc.code,
            headers=exc.headers, **exc.extra,
        )  # fmt: skip

    @app.exception_handler(MailmindError)
    async def _ours(request: Request, exc: MailmindError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s: %s", exc.code, exc)
            # Infrastructure messages may carry paths: clients get the code only.
            detail = "the service could not complete the request; see the server log"
        else:
            detail = str(exc)
        return problem(status, exc.code.replace("_", " "), detail, request=request, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None,
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return problem(
            422, "validation error", "the request does not match the schema",
            request=request, code="validation_error", errors=errors,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return problem(
            exc.status_code, _reason(exc.status_code), detail, request=request,
            headers=dict(exc.headers or {}),
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal error", "an unexpected error occurred", request=request)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"
