"""``/v1/actions``: the key's user's proposed actions, approved or rejected here, one by one.

Approval is bound to the key's user (another user's action id is 404), single-use (409 once
decided) and expires (410). An approved action runs before the response is sent; its outcome
is in ``status`` and ``result``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.http.deps import PrincipalDep, ServicesDep
from api.http.errors import ProblemError
from api.http.schemas.actions import ActionList, ActionOut
from retrieval.store.actions import ActionConflictError, ActionExpiredError

router = APIRouter(prefix="/v1/actions", tags=["actions"])

ActionId = Annotated[str, Path(pattern=r"^act_[0-9a-f]{16}$", description="An action id.")]
_DECISION_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "No action with this id for the key's user."},
    409: {"description": "The action was already approved, rejected or run."},
    410: {"description": "The action expired before it was approved."},
}


@router.get("", response_model=ActionList, summary="The key's user's actions, newest first.")
async def list_actions(
    services: ServicesDep,
    principal: PrincipalDep,
    status: Annotated[
        Literal["pending", "approved", "rejected", "expired", "executed", "failed"] | None,
        Query(description="Only actions in this state."),
    ] = None,
) -> ActionList:
    """Pending actions (and decided ones) with their arguments, provenance and flags."""
    found = await run_in_threadpool(services.actions.list, principal.user, status=status)
    return ActionList(actions=[ActionOut.of(a) for a in found])


async def _decide(services: ServicesDep, user: str, action_id: str, decision: str) -> ActionOut:
    try:
        action = await run_in_threadpool(services.decide_action, user, action_id, decision)
    except ActionExpiredError as exc:
        raise ProblemError(410, "gone", str(exc), code=exc.code) from exc
    except ActionConflictError as exc:
        raise ProblemError(409, "conflict", str(exc), code=exc.code) from exc
    return ActionOut.of(action)


@router.post(
    "/{action_id}/approve", response_model=ActionOut, responses=_DECISION_ERRORS,
    summary="Approve one pending action; it runs now.",
)  # fmt: skip
async def approve_action(
    action_id: ActionId, services: ServicesDep, principal: PrincipalDep
) -> ActionOut:
    """Approve and run the action; ``status`` is then ``executed`` or ``failed``."""
    return await _decide(services, principal.user, action_id, "approve")


@router.post(
    "/{action_id}/reject", response_model=ActionOut, responses=_DECISION_ERRORS,
    summary="Reject one pending action; it never runs.",
)  # fmt: skip
async def reject_action(
    action_id: ActionId, services: ServicesDep, principal: PrincipalDep
) -> ActionOut:
    """Reject the action."""
    return await _decide(services, principal.user, action_id, "reject")
