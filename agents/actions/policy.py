"""The policy every proposed action passes before the user is even asked to approve it.

Checked by code, never by the model:

* **Recipients** (``to``, ``cc``, an invitation's organizer, event attendees) must be people the
  user named in the request (a typed address, or a name resolved through the contacts) or has
  corresponded with (the contacts store counts mail sent to and received from each address).
  Anyone else makes the action refused, with the reason, and it is not offered for approval.
* **Links and attachments** in outgoing mail must not come from untrusted content: every link
  in the subject or body must appear in the user's request, and attachments are allowed only
  when the user's request names them.
* **Provenance**: arguments whose value came from mail, event or contact text are listed as
  flags, shown with the approval prompt (:meth:`ProposedAction.flags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.actions.propose import addresses_in, urls_in
from core.errors import InputError

if TYPE_CHECKING:
    from agents.actions.schemas import ProposedAction
    from tools.context import AgentContext


class ActionRefusedError(InputError):
    """The policy refused a proposed action; ``reasons`` say why. It is never offered."""

    code = "action_refused"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(slots=True)
class PolicyResult:
    """The outcome of :func:`check`: refusal reasons (empty = allowed) and approval flags."""

    reasons: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        """Whether the action may be offered for approval."""
        return not self.reasons


def is_correspondent(ctx: AgentContext, address: str) -> bool:
    """Whether the user has sent mail to, or received mail from, ``address``."""
    contact = ctx.backends.contacts.get_by_email(ctx.user, address)
    return contact is not None and (contact.messages_from + contact.messages_to) > 0


def _recipients(action: ProposedAction) -> list[tuple[str, str]]:
    """(argument, address) pairs of everyone the action would contact."""
    out: list[tuple[str, str]] = []
    for name in ("to", "cc", "attendees"):
        if name in action.args:
            out += [(name, str(a).lower()) for a in action.args[name].value or []]
    if action.tool == "reply_to_invitation" and "organizer" in action.args:
        out.append(("organizer", str(action.args["organizer"].value).lower()))
    return out


def _named_in_request(action: ProposedAction, arg: str, address: str) -> bool:
    """The user typed the address, or named a person it was looked up for."""
    if address in addresses_in(action.request):
        return True
    tagged = action.args.get(arg)
    return bool(
        tagged is not None and tagged.provenance.source in ("user", "contact")
        and "looked up" in tagged.provenance.note and tagged.provenance.trusted
    )  # fmt: skip


def check(action: ProposedAction, ctx: AgentContext) -> PolicyResult:
    """Apply the policy to ``action`` for ``ctx.user``."""
    result = PolicyResult(flags=action.flags())
    for arg, address in _recipients(action):
        if _named_in_request(action, arg, address) or is_correspondent(ctx, address):
            continue
        result.reasons.append(
            f"{address} ({arg}) is neither someone you named nor someone you have corresponded with"
        )
    request_links = {u.lower() for u in urls_in(action.request)}
    for arg in ("subject", "body"):
        if arg not in action.args:
            continue
        for url in urls_in(str(action.args[arg].value)):
            if url.lower() not in request_links:
                result.reasons.append(
                    f"the {arg} contains a link your request does not ({url}); links are only "
                    "sent when you ask for them"
                )
    attachments: list[Any] = list(action.args["attachments"].value or []) if (
        "attachments" in action.args
    ) else []  # fmt: skip
    for name in attachments:
        if str(name).lower() not in action.request.lower():
            result.reasons.append(f"attachment {name!r} was not named in your request")
    return result


def enforce(action: ProposedAction, ctx: AgentContext) -> PolicyResult:
    """:func:`check`, raising :class:`ActionRefusedError` when the action is refused."""
    result = check(action, ctx)
    if not result.allowed:
        raise ActionRefusedError(result.reasons)
    return result
