"""``POST /v1/summarize``, ``POST /v1/smart-reply`` and ``POST /v1/drafts``.

Ids are read for the caller's user only: another user's thread or message id is a 404, exactly
like an id that does not exist. Raw RFC 822 input is parsed with the ingest parser and never
stored. Summaries and drafts run the LLM, so they go through the generation gate; smart-reply
chips do not (MiniLM and one vector query) and only leave the event loop.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError
from api.http.generation import CancelToken, GateDep
from api.http.routers.chat import GENERATION_RESPONSES, wants_sse
from api.http.routers.draft_stream import DRAFT_SSE_EXAMPLE, draft_inputs, stream_draft
from api.http.schemas.agents import (
    DraftRequest,
    DraftResponse,
    SmartReplyRequest,
    SmartReplyResponse,
    SummarizeRequest,
    SummaryResponse,
)
from core.errors import ParseError

if TYPE_CHECKING:
    from api.services import Services
    from core.types import Message

router = APIRouter(prefix="/v1", tags=["mail agents"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such id for the caller (other users' ids included)."}
}


def parse_raw(services: Services, raws: list[str], field: str) -> list[Message]:
    """Parse raw RFC 822 texts with the ingest parser; 422 naming the one that fails."""
    from retrieval.sources.mail.parse import parse_message

    ingest = services.settings.ingest
    out: list[Message] = []
    for i, raw in enumerate(raws):
        try:
            # JSON may carry lone surrogates: they become U+FFFD, not an encoding error.
            data = raw.encode("utf-8", "replace")
            out.append(
                parse_message(
                    data, max_bytes=ingest.max_message_bytes, body_chars=ingest.body_chars
                )
            )
        except ParseError as exc:
            loc = f"{field}.{i}" if len(raws) > 1 or field.endswith("s") else field
            raise ProblemError(
                422, "unparsable message", f"{loc}: {exc}", code="parse_error",
                extra={"errors": [{"field": loc, "msg": str(exc), "type": "parse_error"}]},
            ) from None  # fmt: skip
    return out


def _summarize(services: Services, user: str, body: SummarizeRequest) -> SummaryResponse:
    from agents.precompute import kept_summary
    from agents.summarize.thread import summarize_messages, summarize_thread

    model, embedder = services.chat_model, services.embedder
    if body.thread_id is not None:
        # A worker may have summarised this thread already, the same way (agents/precompute.py).
        kept = kept_summary(services.store, services.precomputed, user, body.thread_id, "model")
        if kept is not None:
            return SummaryResponse.model_validate(kept)
        summary = summarize_thread(
            services.store, user, body.thread_id, model=model, embedder=embedder
        )
    else:
        messages = parse_raw(services, body.raw_messages or [], "raw_messages")
        far = datetime.max.replace(tzinfo=UTC)
        messages.sort(key=lambda m: m.date or far)
        summary = summarize_messages(
            f"raw-{messages[0].id}", messages[0].normalized_subject or messages[0].subject,
            messages, model=model, embedder=embedder,
        )  # fmt: skip
    return SummaryResponse.model_validate(summary.model_dump())


@router.post(
    "/summarize",
    response_model=SummaryResponse,
    summary="Summarise a thread, or raw RFC 822 messages, with citations.",
    responses={**_NOT_FOUND, 422: {"description": "Bad body or unparsable message."},
               **GENERATION_RESPONSES},
)  # fmt: skip
async def summarize(
    body: SummarizeRequest, request: Request, principal: PrincipalDep, services: ServicesDep,
    gate: GateDep,
) -> SummaryResponse:  # fmt: skip
    """2-5 sentences, action items and dates, each citing the messages it comes from."""
    out = await gate.run(lambda _t: _summarize(services, principal.user, body), request=request)
    # Quality signals: fallback rate, and model sentences kept vs dropped by the checks.
    kept = len(out.sentences) if out.method == "abstractive" else 0
    request.app.state.metrics.record_summary(
        out.method, kept=kept, dropped=len(out.dropped_sentences)
    )
    return out


def _suggest(services: Services, user: str, body: SmartReplyRequest) -> SmartReplyResponse:
    from agents.smart_reply import suggest

    target: Message | None = None
    if body.raw_message is not None:
        target = parse_raw(services, [body.raw_message], "raw_message")[0]
    result = suggest(
        target if target is not None else services.store, user, body.message_id,
        calendar=services.pim.calendars, contacts=services.pim.contacts,
        embedder=services.embedder, data_dir=services.settings.data_dir, now=body.now,
    )  # fmt: skip
    return SmartReplyResponse.model_validate(result.model_dump())


@router.post(
    "/smart-reply",
    response_model=SmartReplyResponse,
    summary="Smart-reply chips for a message: trigger decision and up to three replies.",
    responses=_NOT_FOUND,
)
async def smart_reply(
    body: SmartReplyRequest, principal: PrincipalDep, services: ServicesDep, request: Request
) -> SmartReplyResponse:
    """Whether to suggest replies (``reason`` says why or why not) and up to three chips with
    intents; no LLM on this path."""
    response = await run_in_threadpool(_suggest, services, principal.user, body)
    request.app.state.metrics.record_smart_reply(response.triggered)  # trigger-rate metric
    return response


def _draft(services: Services, user: str, body: DraftRequest, token: CancelToken) -> DraftResponse:
    from agents.smart_reply import draft_reply

    started = time.perf_counter()
    message, calendar, contact = draft_inputs(services, user, body.message_id)
    token.check()  # the model call below is the expensive part: skip it if nobody waits
    text = draft_reply(
        message, chat_model=services.chat_model, calendar_context=calendar,
        contact_context=contact, hint=body.instructions,
    )  # fmt: skip
    elapsed = (time.perf_counter() - started) * 1000
    return DraftResponse(
        message_id=message.id, draft=text, calendar_context=calendar, latency_ms=elapsed
    )


@router.post(
    "/drafts",
    response_model=DraftResponse,
    summary="Draft a full reply to a message (LLM), grounded in calendar and contacts.",
    responses={**_NOT_FOUND, **GENERATION_RESPONSES,
               200: {"content": {"text/event-stream": {"example": DRAFT_SSE_EXAMPLE}}}},
)  # fmt: skip
async def drafts(
    body: DraftRequest, request: Request, principal: PrincipalDep, services: ServicesDep,
    gate: GateDep,
) -> DraftResponse | StreamingResponse:  # fmt: skip
    """A reply in the user's voice; the email and facts are marked as untrusted data. With
    `Accept: text/event-stream` the draft streams as `token` events, then `done`."""
    if wants_sse(request):  # api/http/routers/draft_stream.py
        return await stream_draft(services, principal.user, body, request, gate)
    return await gate.run(lambda t: _draft(services, principal.user, body, t), request=request)
