"""``POST /v1/chat``: the assistant over the caller's mail, calendar and contacts.

JSON by default; with ``Accept: text/event-stream`` the same run as Server-Sent Events
(``node``, ``tool_call``, ``tool_result``, ``token``, then ``done`` with the full answer, or
``error``). The graph runs in a worker thread under the generation gate; a client that goes away
cancels it (between events, and inside the model at the next token).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from agents.assistant.run import check_question
from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError, status_for
from api.http.generation import GateDep, Job
from api.http.schemas.chat import (
    SSE_EXAMPLE,
    ChatRequest,
    ChatResponse,
    Citation,
    CitationKind,
    ToolCallView,
)
from core.errors import MailmindError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from api.services import Services

log = logging.getLogger("mailmind.http")
router = APIRouter(prefix="/v1", tags=["assistant"])

#: Answers of the gate and the timeout, shared by every generating route's OpenAPI entry.
GENERATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "The generation queue is full; retry after `Retry-After` seconds."},
    504: {"description": "The request ran past the server's request timeout and was cancelled."},
}


def chat_events(
    services: Services,
    user: str,
    question: str,
    conversation: str,
    *,
    now: datetime | None = None,
    timezone: str | None = None,
) -> Iterator[dict[str, Any]]:
    """One assistant turn as events (runs in a worker thread); the last is ``done`` carrying a
    :class:`ChatResponse` dict."""
    from agents.assistant.run import stream_ask

    ctx = services.agent_context(user, now=now, timezone=timezone)
    for event in stream_ask(services.assistant, ctx, question, conversation):
        if event["event"] != "result":
            yield event
            continue
        result = event["result"]
        response = ChatResponse(
            answer=result["answer"],
            citations=describe_citations(services, user, conversation, result["citations"]),
            tool_calls=[ToolCallView(**c) for c in result["tool_calls"]],
            conversation_id=result["conversation"],
            steps=result["steps"],
            latency_s=result["latency_s"],
        )
        yield {"event": "done", **response.model_dump()}


def describe_citations(
    services: Services, user: str, conversation: str, ids: list[str]
) -> list[Citation]:
    """What each cited id is, from the tool results of the turn that cited it."""
    from langchain_core.messages import HumanMessage, ToolMessage

    from agents.assistant.evidence import describe

    # The checkpoint key format of agents.assistant.run: the user part comes from the key.
    config: Any = {"configurable": {"thread_id": f"{user}/{conversation}"}}
    messages = services.assistant.get_state(config).values.get("messages", [])
    artifacts: list[BaseModel] = []
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            break
        if isinstance(msg, ToolMessage) and msg.artifact is not None:
            artifacts.append(msg.artifact)
    texts = describe(artifacts)
    kinds = _kinds(artifacts)
    return [
        Citation(id=i, kind=kinds.get(i) or _kind_by_shape(i), description=texts.get(i, ""))
        for i in ids
    ]


def _kinds(artifacts: list[BaseModel]) -> dict[str, CitationKind]:
    from tools.schemas import (
        ListEventsResult,
        LookupContactsResult,
        MessageView,
        SearchMailboxResult,
        ThreadView,
    )

    out: dict[str, CitationKind] = {}
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            out.update({h.message_id: "message" for h in a.hits})
            out.update({h.thread_id: "thread" for h in a.hits})
        elif isinstance(a, MessageView):
            out.update({a.message_id: "message", a.thread_id: "thread"})
        elif isinstance(a, ThreadView):
            out[a.thread_id] = "thread"
            out.update({m.message_id: "message" for m in a.messages})
        elif isinstance(a, ListEventsResult):
            out.update({e.event_id: "event" for e in a.events})
        elif isinstance(a, LookupContactsResult):
            out.update({c.contact_id: "contact" for c in a.contacts})
    return out


def _kind_by_shape(cid: str) -> CitationKind:
    return "message" if cid.startswith("m") else "thread" if cid.startswith("t") else "event"


def wants_sse(request: Request) -> bool:
    """Whether the client asked for Server-Sent Events."""
    return "text/event-stream" in request.headers.get("accept", "")


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event (JSON data never contains a raw newline)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def problem_data(exc: Exception) -> dict[str, Any]:
    """A problem document for an error that happens after a stream's 200 was sent."""
    if isinstance(exc, ProblemError):
        return {"status": exc.status, "title": exc.title, "detail": exc.detail, "code": exc.code}
    if isinstance(exc, MailmindError) and status_for(exc) < 500:
        return {"status": status_for(exc), "title": exc.code, "detail": str(exc), "code": exc.code}
    log.error("stream failed", exc_info=exc)
    return {"status": 500, "title": "internal error", "detail": "an unexpected error occurred"}


def record_answer(request: Request, done: dict[str, Any]) -> None:
    """Answer-length and tool-error quality signals of one finished turn (``done`` event)."""
    calls = [(str(c["name"]), bool(c["ok"])) for c in done.get("tool_calls", [])]
    request.app.state.metrics.record_answer(len(done.get("answer", "")), calls)


async def _stream(job: Job[dict[str, Any]], request: Request) -> AsyncIterator[str]:
    events = job.events(request)
    try:
        async for event in events:
            data = dict(event)
            if data["event"] == "done":
                record_answer(request, data)
            yield sse(data.pop("event"), data)
    except Exception as exc:  # noqa: BLE001 - the status line is gone: report in-band
        yield sse("error", problem_data(exc))
    finally:
        await events.aclose()  # cancels the worker if the client left mid-stream


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Ask the assistant (JSON, or Server-Sent Events with `Accept: text/event-stream`).",
    responses={
        200: {"content": {"text/event-stream": {"example": SSE_EXAMPLE}}},
        **GENERATION_RESPONSES,
    },
)
async def chat(
    body: ChatRequest,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    gate: GateDep,
) -> ChatResponse | StreamingResponse:
    """Answer the last user message from the caller's own data, with checked citations.

    Conversation memory is kept per caller and ``conversation_id``: another key's user can
    never continue (or read) it, whatever id it sends.
    """
    question = check_question(body.question, services.settings.agent.max_question_chars)
    conversation = body.conversation_id or uuid.uuid4().hex[:12]
    job = await gate.start(
        lambda _token: chat_events(
            services, principal.user, question, conversation,
            now=body.now, timezone=body.timezone,
        )
    )  # fmt: skip
    if wants_sse(request):
        return StreamingResponse(
            _stream(job, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    done: dict[str, Any] | None = None
    async for event in job.events(request):
        if event["event"] == "done":
            done = event
    if done is None:
        raise ProblemError(499, "client closed request", code="client_closed")
    record_answer(request, done)
    return ChatResponse.model_validate({k: v for k, v in done.items() if k != "event"})
