"""The assistant graph's action branch::

    route ──(an action request)──► propose ──(proposed)──► approval ──► END
                                         └──(refused / unclear)──────► END

``propose`` reads the proposal off the request by code, applies the policy and stores it as
pending; its answer shows the action, each argument's provenance and the flags. ``approval``
stops at a LangGraph ``interrupt()`` with the pending action. Resuming it with
``Command(resume={"action_id": ...})`` runs the action only when the store says its user
approved it: the resume value is a wake-up call, not an approval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.actions.intent import detect_action
from agents.actions.policy import ActionRefusedError
from agents.actions.propose import ActionUnclearError
from agents.actions.service import outcome_text
from agents.assistant.run import check_question
from agents.assistant.state import AssistantState
from tools.context import AgentContext

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from agents.actions.service import ActionService
    from retrieval.store.actions import StoredAction


def conversation_of(config: RunnableConfig) -> str | None:
    """The conversation id of a run (``thread_id`` is ``"<user>/<conversation>"``)."""
    thread = str((config.get("configurable") or {}).get("thread_id") or "")
    return thread.split("/", 1)[1] if "/" in thread else (thread or None)


def describe(action: StoredAction) -> str:
    """The approval prompt: what will happen, each argument with where it came from, flags."""
    lines = [f"I can do this once you approve it: {action.summary}", ""]
    for name, value in action.args.items():
        prov = action.provenance.get(name, {})
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if len(shown) > 300:
            shown = shown[:300] + "…"
        mark = "" if prov.get("trusted", True) else "  ⚠ untrusted"
        lines.append(f"  {name}: {shown}   [{prov.get('source', '?')}: {prov.get('note', '')}]"
                     f"{mark}")  # fmt: skip
    for flag in action.flags:
        lines.append(f"  ⚠ {flag}")
    lines += [
        "",
        f"Approve: `mailmind actions approve {action.id} --user {action.user}` or "
        f"POST /v1/actions/{action.id}/approve (expires {action.expires_at.isoformat()}).",
    ]
    return "\n".join(lines)


def _reset(question: str, tool: str) -> dict[str, Any]:
    """The per-turn fields ``route`` resets, for an action turn."""
    return {
        "question": question, "plan": [], "tools_used": [], "observed": [], "evidence": [],
        "steps": 0, "route": [(tool, 1.0)], "citations": [], "dropped_citations": [],
        "answer": "", "parts": [(question, tool)], "meta": {}, "action_tool": tool,
        "pending_action": None,
    }  # fmt: skip


def action_route(
    route: Callable[..., dict[str, Any]],
    rank: Callable[[str, Sequence[str]], str] | None,
    max_question_chars: int | None,
) -> Callable[..., dict[str, Any]]:
    """Wrap the graph's ``route`` node: action requests go to ``propose``, the rest to ``route``."""

    def node(state: AssistantState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        from agents.assistant.graph import _question

        question = _question(state)
        tool = detect_action(question, rank)
        if tool is None:
            out = route(state, runtime)
            return {**out, "action_tool": None, "pending_action": None}
        return _reset(check_question(question, max_question_chars), tool)

    return node


def after_route_or_action(
    after_route: Callable[[AssistantState], str],
) -> Callable[[AssistantState], str]:
    """The graph's edge after ``route``, with the action branch first."""

    def edge(state: AssistantState) -> str:
        return "propose" if state.get("action_tool") else after_route(state)

    return edge


def build_nodes(
    service: ActionService, model: BaseChatModel | None
) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
    """``(propose, approval)`` node functions over ``service``."""

    def propose_node(
        state: AssistantState, runtime: Runtime[AgentContext], config: RunnableConfig
    ) -> dict[str, Any]:
        ctx = runtime.context
        tool = str(state.get("action_tool"))
        try:
            action = service.propose(
                ctx, tool, state["question"], model=model, conversation=conversation_of(config)
            )
        except ActionRefusedError as exc:
            text = "I won't offer that action: " + "; ".join(exc.reasons) + "."
            return {"answer": text, "messages": [AIMessage(content=text)], "pending_action": None}
        except ActionUnclearError as exc:
            text = str(exc)[0].upper() + str(exc)[1:] + "."
            return {"answer": text, "messages": [AIMessage(content=text)], "pending_action": None}
        text = describe(action)
        return {
            "answer": text, "messages": [AIMessage(content=text)],
            "pending_action": action.as_dict(),
        }  # fmt: skip

    def approval_node(state: AssistantState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        pending = state.get("pending_action") or {}
        # Stops here until resumed; what it is resumed with is not trusted (see module doc).
        interrupt({"action": pending})
        action = service.run_approved(runtime.context.user, str(pending.get("id")))
        text = outcome_text(action)
        return {
            "answer": text, "messages": [AIMessage(content=text)],
            "pending_action": action.as_dict(),
        }  # fmt: skip

    return propose_node, approval_node


def after_propose(state: AssistantState) -> Literal["approval", "__end__"]:
    """To the approval interrupt only when an action was stored."""
    return "approval" if state.get("pending_action") else "__end__"
