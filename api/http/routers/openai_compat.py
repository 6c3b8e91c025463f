"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

OpenAI SDK clients work unchanged (``base_url=".../v1"``, ``api_key=<mailmind key>``). The last
user message is asked; earlier turns are the client's copy of the conversation and are not
replayed (memory lives on the server, per ``conversation_id``, an ``extra_body`` field).

Streaming sends OpenAI's ``chat.completion.chunk`` events and ends with ``data: [DONE]``. The
answer's text is sent once it is final (citations checked, unknown ones removed), so a streamed
answer is exactly the non-streamed one; while the graph works, SSE comments keep the connection
alive. Citations ride along in an extra ``citations`` field.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from agents.assistant.run import check_question
from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError
from api.http.generation import GateDep, Job
from api.http.routers.chat import GENERATION_RESPONSES, chat_events, problem_data
from api.http.schemas.chat import ChatResponse
from api.http.schemas.openai_compat import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
)

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
#: ``created`` of the model card: fixed, so the listing is stable.
_CREATED = 1_767_225_600


@router.get("/models", response_model=ModelList, summary="Models (OpenAI-compatible).")
async def list_models(principal: PrincipalDep) -> ModelList:
    """The one model: ``mailmind-assistant``, the assistant graph over your data."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=_CREATED)])


def _chunk(cid: str, created: int, delta: ChunkDelta, **extra: Any) -> str:
    choice = ChunkChoice(delta=delta, finish_reason=extra.pop("finish_reason", None))
    chunk = ChatCompletionChunk(id=cid, created=created, model=MODEL_ID, choices=[choice], **extra)
    return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"


async def _stream(job: Job[dict[str, Any]], request: Request, cid: str) -> AsyncIterator[str]:
    created = int(time.time())
    yield _chunk(cid, created, ChunkDelta(role="assistant", content=""))
    events = job.events(request)
    try:
        async for event in events:
            if event["event"] != "done":
                # A comment line: ignored by SSE clients, keeps proxies and the client patient.
                yield f": {event['event']}\n\n"
                continue
            done = ChatResponse.model_validate(event)
            yield _chunk(cid, created, ChunkDelta(content=done.answer))
            yield _chunk(
                cid, created, ChunkDelta(), finish_reason="stop", citations=done.citations,
                conversation_id=done.conversation_id,
            )  # fmt: skip
        yield "data: [DONE]\n\n"
    except Exception as exc:  # noqa: BLE001 - after the 200: OpenAI's in-stream error shape
        p = problem_data(exc)
        error = {"message": p["detail"] or p["title"], "type": p.get("code"), "code": p["status"]}
        yield f"data: {json.dumps({'error': error})}\n\n"
    finally:
        await events.aclose()


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completion (OpenAI-compatible; `stream: true` for chunks).",
    responses={
        200: {"content": {"text/event-stream": {}}},
        404: {"description": "Unknown model."},
        **GENERATION_RESPONSES,
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    gate: GateDep,
) -> ChatCompletion | StreamingResponse:
    """Answer the last user message with the assistant, in OpenAI's response format."""
    if body.model != MODEL_ID:
        raise ProblemError(
            404, "model not found", f"unknown model {body.model!r}; use {MODEL_ID!r}",
            code="model_not_found",
        )  # fmt: skip
    question = check_question(body.question, services.settings.agent.max_question_chars)
    conversation = body.conversation_id or uuid.uuid4().hex[:12]
    job = await gate.start(lambda _t: chat_events(services, principal.user, question, conversation))
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        return StreamingResponse(
            _stream(job, request, cid), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )  # fmt: skip
    done = [e async for e in job.events(request) if e["event"] == "done"]
    if not done:
        raise ProblemError(499, "client closed request", code="client_closed")
    answer = ChatResponse.model_validate(done[-1])
    return ChatCompletion(
        id=cid, created=int(time.time()), model=MODEL_ID,
        choices=[Choice(message=AssistantMessage(content=answer.answer))],
        citations=answer.citations, conversation_id=answer.conversation_id,
    )  # fmt: skip
