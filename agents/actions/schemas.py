"""Typed arguments of the side-effecting tools and the proposal the assistant offers for approval.

The argument models are what the executor validates before it acts; none has a user field (the
user comes from the approval's owner). A :class:`ProposedAction` carries every argument as a
:class:`~agents.actions.provenance.Tagged` value so the approval prompt can show where each came
from.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from agents.actions.provenance import Provenance, Tagged

ActionTool = Literal[
    "save_draft", "send_email", "reply_to_invitation", "create_event", "update_event"
]
ACTION_TOOLS: tuple[str, ...] = (
    "save_draft", "send_email", "reply_to_invitation", "create_event", "update_event",
)  # fmt: skip
PartStat = Literal["ACCEPTED", "DECLINED", "TENTATIVE"]
#: One mailbox address (no display name); header injection (newlines) cannot pass.
ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _address(value: str) -> str:
    value = value.strip().lower()
    if not ADDRESS.fullmatch(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


EmailStr = Annotated[str, AfterValidator(_address)]


class EmailArgs(BaseModel):
    """Arguments of ``send_email`` and ``save_draft``."""

    to: list[EmailStr] = Field(min_length=1, max_length=20, description="Recipients.")
    cc: list[EmailStr] = Field(default_factory=list, max_length=20)
    subject: str = Field(max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    in_reply_to: str | None = Field(None, description="Message id (m...) this replies to.")
    attachments: list[str] = Field(
        default_factory=list, description="Attachment file names (content is not stored)."
    )


class ReplyToInvitationArgs(BaseModel):
    """Arguments of ``reply_to_invitation``: answer an invitation stored in the calendar."""

    event_uid: str = Field(min_length=1, max_length=500)
    partstat: PartStat
    organizer: EmailStr
    summary: str = Field("", max_length=500, description="The event's title (for the prompt).")
    comment: str | None = Field(None, max_length=2000)


class CreateEventArgs(BaseModel):
    """Arguments of ``create_event``."""

    summary: str = Field(min_length=1, max_length=500)
    start: str = Field(description="ISO datetime with offset.")
    end: str = Field(description="ISO datetime with offset.")
    location: str = Field("", max_length=500)
    attendees: list[EmailStr] = Field(default_factory=list, max_length=50)


class UpdateEventArgs(BaseModel):
    """Arguments of ``update_event``: only the given fields change."""

    event_uid: str = Field(min_length=1, max_length=500)
    summary: str | None = Field(None, max_length=500)
    start: str | None = None
    end: str | None = None
    location: str | None = Field(None, max_length=500)


ARG_MODELS: dict[str, type[BaseModel]] = {
    "save_draft": EmailArgs,
    "send_email": EmailArgs,
    "reply_to_invitation": ReplyToInvitationArgs,
    "create_event": CreateEventArgs,
    "update_event": UpdateEventArgs,
}


class ProposedAction(BaseModel):
    """An action the assistant offers for approval: tool, tagged arguments, a summary."""

    tool: ActionTool
    args: dict[str, Tagged[Any]]
    summary: str
    #: The request it came from (kept for the policy's "did the user ask for it" checks).
    request: str

    def plain_args(self) -> dict[str, Any]:
        """The argument values without tags (what the executor validates)."""
        return {k: v.value for k, v in self.args.items()}

    def provenance(self) -> dict[str, Provenance]:
        """``{argument: provenance}``."""
        return {k: v.provenance for k, v in self.args.items()}

    def flags(self) -> list[str]:
        """One warning per argument whose value came from untrusted content."""
        out = []
        for name, value in self.args.items():
            p = value.provenance
            if not p.trusted:
                where = f" {', '.join(p.ids)}" if p.ids else ""
                out.append(f"{name} comes from {p.source} content{where}, not from you")
        return out
