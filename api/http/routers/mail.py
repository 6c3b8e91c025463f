"""``GET /v1/search``, ``GET /v1/messages/{id}`` and ``GET /v1/threads/{id}``.

The user is always the API key's: no route here takes a user id. An id of another user answers
exactly like an id that does not exist (404), so ids cannot be probed across users.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError
from api.http.schemas.mail import (
    MSG_EXAMPLE,
    THREAD_EXAMPLE,
    MessageOut,
    MessageResponse,
    SearchHitOut,
    SearchMode,
    SearchResponse,
    ThreadEntry,
    ThreadOut,
)
from core.ids import MessageId, ThreadId
from retrieval.index.base import SearchFilters
from retrieval.index.search import MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["mail"])

# Ids are checked by core.ids (the rule every front end uses): a malformed one is a 422.
MessageIdPath = Annotated[
    MessageId, Path(description="A message id, e.g. from `/v1/search`.", examples=[MSG_EXAMPLE])
]
ThreadIdPath = Annotated[
    ThreadId, Path(description="A thread id, e.g. from `/v1/search`.", examples=[THREAD_EXAMPLE])
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such id for this key's user."}
}


def not_found(kind: str) -> ProblemError:
    """The one 404 for a missing id, whoever owns it (the body never depends on the id)."""
    return ProblemError(404, "not found", f"no {kind} with this id", code="not_found")


@router.get(
    "/search",
    response_model=SearchResponse,
    summary="Hybrid search over the key's user's mail.",
    responses={400: {"description": "A filter value is unusable."}},
)
async def search(
    services: ServicesDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
    sender: Annotated[
        str | None,
        Query(alias="from", max_length=320, description="Sender address, or words of the name."),
    ] = None,
    recipient: Annotated[
        str | None, Query(alias="to", max_length=320, description="A To or Cc address.")
    ] = None,
    after: Annotated[
        datetime | date | None, Query(description="On or after (ISO date or datetime; UTC).")
    ] = None,
    before: Annotated[
        datetime | date | None, Query(description="Before (ISO date or datetime; UTC).")
    ] = None,
    folder: Annotated[str | None, Query(max_length=200, description="Only this folder.")] = None,
    thread: Annotated[ThreadId | None, Query(description="Only this thread id.")] = None,
    has_attachment: Annotated[
        bool | None, Query(description="Only messages with (true) or without (false) files.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    mode: Annotated[SearchMode, Query(description="Ranking: hybrid, dense or sparse.")] = "hybrid",
) -> SearchResponse:
    """Messages of the key's user best matching `q`, with the CLI's filters."""
    filters = SearchFilters(
        sender=sender,
        recipient=recipient,
        after=after,
        before=before,
        folder=folder,
        thread_id=thread,
        has_attachment=has_attachment,
    )
    # Embedding the query and the shard query are CPU-bound: keep them off the event loop.
    hits = await run_in_threadpool(
        services.searcher.search, principal.user, q, filters=filters, limit=limit, mode=mode
    )
    results = [SearchHitOut.from_hit(h) for h in hits]
    return SearchResponse(query=q, mode=mode, count=len(results), results=results)


@router.get(
    "/messages/{message_id}",
    response_model=MessageResponse,
    summary="One message: headers, addresses, body, attachments, and its thread's messages.",
    responses=_NOT_FOUND,
)
async def get_message(
    message_id: MessageIdPath, services: ServicesDep, principal: PrincipalDep
) -> MessageResponse:
    """The message with this id, if the key's user has it."""

    def load() -> MessageResponse | None:
        message = services.store.get_message(principal.user, message_id)
        if message is None:
            return None
        found = services.store.get_thread(principal.user, message.thread_id or "")
        thread = [ThreadEntry.of(m) for m in found[1]] if found else [ThreadEntry.of(message)]
        return MessageResponse(message=MessageOut.of(message), thread=thread)

    body = await run_in_threadpool(load)
    if body is None:
        raise not_found("message")
    return body


@router.get(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    summary="One thread with its messages, oldest first.",
    responses=_NOT_FOUND,
)
async def get_thread(
    thread_id: ThreadIdPath, services: ServicesDep, principal: PrincipalDep
) -> ThreadOut:
    """The thread with this id, if the key's user has it."""
    found = await run_in_threadpool(services.store.get_thread, principal.user, thread_id)
    if found is None:
        raise not_found("thread")
    return ThreadOut.of(*found)
