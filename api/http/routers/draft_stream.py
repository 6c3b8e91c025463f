"""``POST /v1/drafts`` with ``Accept: text/event-stream``: the draft as it is written.

The same inputs as the JSON answer (the message, the calendar facts its chips checked, the
sender's contact card, the user's instructions) and the same prompt
(:func:`agents.smart_reply.draft.build_messages`); the model's tokens go out as ``token``
events, then ``done`` carries the :class:`~api.http.schemas.agents.DraftResponse`, or ``error``
a problem document. It runs under the generation gate like every generation, and a client
that goes away cancels it at the next token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http.errors import ProblemError
from api.http.routers.chat import _stream
from api.http.schemas.agents import DraftResponse
from core.errors import ModelError, NotFoundError

if TYPE_CHECKING:
    from fastapi import Request

    from api.http.generation import CancelToken, GenerationGate
    from api.http.schemas.agents import DraftRequest
    from api.services import Services
    from core.types import Message

#: Documented in the route's OpenAPI entry.
DRAFT_SSE_EXAMPLE = (
    'event: token\ndata: {"text": "Hi Kenji,"}\n\n'
    'event: done\ndata: {"message_id": "m3f9a0c2b7d1e4f5a6b7c", "draft": "Hi Kenji, ...", '
    '"calendar_context": "", "latency_ms": 2140.5}\n\n'
)


def draft_inputs(services: Services, user: str, message_id: str) -> tuple[Message, str, str]:
    """The message and the plain-text calendar and contact facts a draft is grounded in."""
    from agents.smart_reply import suggest
    from agents.smart_reply.draft import calendar_context_from, contact_context_from

    message = services.store.get_message(user, message_id)
    if message is None:
        raise NotFoundError(f"message {message_id!r} not found")
    chips = suggest(
        services.store, user, message.id, calendar=services.pim.calendars,
        contacts=services.pim.contacts, embedder=services.embedder,
        data_dir=services.settings.data_dir,
    )  # fmt: skip
    contact = (
        services.pim.contacts.get_by_email(user, message.sender.email) if message.sender else None
    )
    return message, calendar_context_from(chips), contact_context_from(contact)


def draft_events(
    services: Services, user: str, body: DraftRequest, token: CancelToken
) -> Iterator[dict[str, Any]]:
    """The draft's tokens, then ``done`` with the whole draft (runs in a worker thread)."""
    from agents.smart_reply.draft import build_messages

    started = time.perf_counter()
    message, calendar, contact = draft_inputs(services, user, body.message_id)
    token.check()
    prompt = build_messages(
        message, calendar_context=calendar, contact_context=contact, hint=body.instructions
    )
    parts: list[str] = []
    for chunk in services.chat_model.stream(prompt):
        token.check()
        text = str(chunk.text)
        if text:
            parts.append(text)
            yield {"event": "token", "text": text}
    draft = "".join(parts).strip()
    if not draft:
        raise ModelError("the chat model returned an empty draft")
    elapsed = (time.perf_counter() - started) * 1000
    done = DraftResponse(
        message_id=message.id, draft=draft, calendar_context=calendar, latency_ms=elapsed
    )
    yield {"event": "done", **done.model_dump()}


async def stream_draft(
    services: Services, user: str, body: DraftRequest, request: Request, gate: GenerationGate
) -> StreamingResponse:
    """The Server-Sent-Events answer of ``POST /v1/drafts`` (a missing message is a 404 before
    the stream starts, like the JSON answer's)."""
    if await run_in_threadpool(services.store.get_message, user, body.message_id) is None:
        raise ProblemError(404, "not found", "no message with this id", code="not_found")
    job = await gate.start(lambda t: draft_events(services, user, body, t))
    return StreamingResponse(
        _stream(job, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
