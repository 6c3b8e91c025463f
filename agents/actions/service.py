"""Proposals, decisions and execution of actions, for every front end.

The approval rules live here and in :mod:`retrieval.store.actions`:

* an action is only stored (and so only offered) after :mod:`agents.actions.policy` allowed it;
* approval is per action and bound to its user: every lookup is ``(user, id)``;
* it expires (``MAILMIND_ACTIONS__APPROVAL_TTL_S``) and is single-use (a conditional update);
* it cannot be given by model output: :meth:`ActionService.decide` is called only by the approve
  and reject routes, the ``mailmind actions`` commands and the CLI's y/n prompt, and
  :meth:`ActionService.run_approved` executes only what the store says the user approved,
  whatever value a graph was resumed with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from agents.actions import policy
from agents.actions.executor import ActionEnv, execute
from agents.actions.propose import propose
from core.errors import MailmindError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.store.actions import ActionStatus, StoredAction
    from tools.context import AgentContext

log = logging.getLogger(__name__)

#: ``resume(action) -> bool``: continue the conversation waiting on ``action`` (True when one
#: was waiting and has run it).
Resume = Callable[["StoredAction"], bool]


class ActionService:
    """Propose, list, decide and run actions over one :class:`ActionEnv`."""

    def __init__(self, env: ActionEnv, *, ttl_s: int) -> None:
        self.env = env
        self.store = env.actions
        self.ttl_s = ttl_s

    def propose(
        self,
        ctx: AgentContext,
        tool: str,
        question: str,
        *,
        model: BaseChatModel | None = None,
        conversation: str | None = None,
    ) -> StoredAction:
        """Read the proposal off ``question``, apply the policy, store it as pending.

        Raises :class:`~agents.actions.propose.ActionUnclearError` or
        :class:`~agents.actions.policy.ActionRefusedError` (nothing is stored then)."""
        proposal = propose(tool, question, ctx, model=model)
        checked = policy.enforce(proposal, ctx)
        return self.store.create(
            ctx.user, tool=proposal.tool, args=proposal.plain_args(),
            provenance={k: p.model_dump() for k, p in proposal.provenance().items()},
            flags=checked.flags, summary=proposal.summary, ttl_s=self.ttl_s,
            conversation=conversation,
        )  # fmt: skip

    def list(
        self, user: str, *, status: ActionStatus | None = None, conversation: str | None = None
    ) -> list[StoredAction]:
        """``user``'s actions, newest first."""
        return self.store.list(user, status=status, conversation=conversation)

    def get(self, user: str, action_id: str) -> StoredAction:
        """``user``'s action (:class:`~core.errors.NotFoundError` for anyone else's)."""
        return self.store.get(user, action_id)

    def decide(
        self,
        user: str,
        action_id: str,
        decision: Literal["approve", "reject"],
        *,
        resume: Resume | None = None,
    ) -> StoredAction:
        """Record the user's decision (once, before expiry) and, when approved, run the action.

        A conversation waiting on the action is resumed through ``resume`` so it reports the
        outcome; without one (or when none waits) the action runs here."""
        decided = self.store.decide(
            user, action_id, "approved" if decision == "approve" else "rejected"
        )
        if resume is not None and decided.conversation:
            try:
                if resume(decided):
                    return self.store.get(user, action_id)
            except MailmindError:
                raise
            except Exception:
                log.exception("resuming the conversation of action %s failed", action_id)
        if decided.status == "approved":
            return self.run_approved(user, action_id)
        return decided

    def run_approved(self, user: str, action_id: str) -> StoredAction:
        """Execute ``action_id`` if, and only if, the store says its user approved it and it
        has not run yet; records ``executed`` or ``failed`` with the result."""
        action = self.store.get(user, action_id)
        if action.status != "approved":
            return action
        try:
            result: dict[str, Any] = execute(self.env, action)
        except MailmindError as exc:
            return self.store.finish(
                user, action_id, ok=False, result={"error": exc.code, "message": str(exc)}
            )
        except Exception as exc:
            log.exception("action %s failed", action_id)
            return self.store.finish(
                user, action_id, ok=False, result={"error": type(exc).__name__,
                                                  "message": str(exc)},
            )  # fmt: skip
        return self.store.finish(user, action_id, ok=True, result=result)


def outcome_text(action: StoredAction) -> str:
    """One sentence telling the user what became of ``action`` (from the store, not a model)."""
    if action.status == "executed":
        r = action.result or {}
        detail = r.get("status") or r.get("calendar") or ""
        return f"Done: {action.summary}" + (f" ({detail})" if isinstance(detail, str) and detail
                                            else "")  # fmt: skip
    if action.status == "failed":
        message = (action.result or {}).get("message", "")
        return f"The action failed: {action.summary}. {message}".strip()
    if action.status == "rejected":
        return f"Cancelled: {action.summary}"
    if action.status == "expired":
        return f"The approval expired: {action.summary}. Ask again to get a new proposal."
    if action.status == "pending":
        return f"Waiting for your approval: {action.summary} (action {action.id})"
    return f"{action.summary}: {action.status}"
