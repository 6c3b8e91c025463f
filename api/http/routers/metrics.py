"""``GET /metrics``: the app's Prometheus metrics (text exposition format, no API key, like
``/healthz``: scrapers run inside the deployment and the metrics hold no mail data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics.",
    response_class=Response,
    responses={
        200: {
            "description": "Metrics in the Prometheus text format.",
            "content": {
                "text/plain": {
                    "example": (
                        "# TYPE mailmind_retrieval_duration_seconds histogram\n"
                        "mailmind_retrieval_duration_seconds_count 12.0\n"
                    )
                }
            },
        }
    },
)
async def metrics(request: Request) -> Response:
    """Request latency per route, LLM tokens/s and time to first token, generation queue
    depth, retrieval latency, smart-reply trigger and chip acceptance counts and ratios."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
