"""``POST /v1/feedback`` and ``GET /v1/feedback/stats``: per-user feedback for evaluation."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from agents.versions import producer_version
from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError
from api.http.schemas.feedback import FeedbackIn, FeedbackOut, FeedbackStats
from core.ids import MESSAGE_ID, THREAD_ID
from retrieval.store.feedback import FeedbackRecord

if TYPE_CHECKING:
    from api.services import Services

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


def target_exists(services: Services, user: str, kind: str, target_id: str) -> bool:
    """Whether ``target_id`` may be the target of ``user``'s feedback of ``kind``.

    A message or thread id must be one of ``user``'s. Chips, summaries and drafts are always
    about a message or thread; an answer's target may also be a conversation id, which is not
    in the mail store.
    """
    if MESSAGE_ID.fullmatch(target_id):
        return services.store.get_message(user, target_id) is not None
    if THREAD_ID.fullmatch(target_id):
        return services.store.get_thread(user, target_id) is not None
    return kind == "answer"


@router.post(
    "",
    response_model=FeedbackOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a chip choice, a thumbs up/down, or an edit of a suggestion.",
    responses={
        400: {"description": "The signal is inconsistent (e.g. chip_chosen past chips_shown)."},
        404: {"description": "target_id is not a message or thread of the key's user."},
    },
)
async def post_feedback(
    body: FeedbackIn, services: ServicesDep, principal: PrincipalDep, request: Request
) -> FeedbackOut:
    """Store one feedback signal of the key's user; the edit distance is computed here."""

    def store() -> tuple[int, FeedbackRecord] | None:
        record = body.record().validated()  # 400 when inconsistent, before any lookup
        # The prompt (or chip set) version in force, so feedback compares across versions.
        record = replace(record, prompt_version=producer_version(record.kind))
        target = record.target_id
        if target is not None and not target_exists(services, principal.user, record.kind, target):
            return None
        return services.feedback.add(principal.user, record), record

    stored = await run_in_threadpool(store)
    if stored is None:
        raise ProblemError(404, "not found", "no message or thread with this id", code="not_found")
    row_id, record = stored
    if record.kind == "chip" and record.rating is None:  # a chip choice (chip acceptance rate)
        request.app.state.metrics.record_chip_feedback(record.chip_chosen is not None)
    if record.rating is not None:  # thumbs ratio
        request.app.state.metrics.record_thumbs(record.kind, record.rating)
    return FeedbackOut(
        id=row_id,
        kind=record.kind,
        target_id=record.target_id,
        edit_distance=record.edit_distance,
        edit_distance_norm=record.edit_distance_norm,
        prompt_version=record.prompt_version,
    )


@router.get("/stats", response_model=FeedbackStats, summary="The key's user's feedback numbers.")
async def feedback_stats(services: ServicesDep, principal: PrincipalDep) -> FeedbackStats:
    """Counts per kind, chip acceptance rate, thumbs-up rate and mean edit distance."""
    stats = await run_in_threadpool(services.feedback.stats, principal.user)
    return FeedbackStats.model_validate(stats)
