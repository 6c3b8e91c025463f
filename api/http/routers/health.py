"""``GET /healthz`` (the process is up) and ``GET /readyz`` (model, store and index usable)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import ServicesDep
from api.http.schemas.health import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process is up.")
async def healthz() -> Health:
    """Always 200 while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: model loaded, store and index reachable.",
    responses={503: {"description": "A component is not ready.", "model": Readiness}},
)
async def readyz(request: Request, services: ServicesDep) -> Readiness | JSONResponse:
    """200 when every component answers, 503 (with which one failed) otherwise."""
    checks = await run_in_threadpool(services.readiness)
    serving = getattr(request.app.state, "lifespans", 0) > 0  # 0: shutting down
    ready = all(checks.values()) and serving
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    if not ready:
        return JSONResponse(body.model_dump(), status_code=503)
    return body
