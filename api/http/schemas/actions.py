"""Bodies of ``GET /v1/actions`` and ``POST /v1/actions/{id}/approve|reject``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from retrieval.store.actions import StoredAction


class ArgumentProvenance(BaseModel):
    """Where one argument's value came from."""

    source: Literal["user", "tool", "mail", "event", "contact"] = Field(
        description="`user` = your request; `tool` = computed by code; else third-party content."
    )
    ids: list[str] = Field(default_factory=list, description="Message/event/contact ids.")
    trusted: bool = Field(description="False when the value came from untrusted content.")
    note: str = Field("", description="How the value was derived.")


class ActionOut(BaseModel):
    """A proposed action and its approval state."""

    id: str = Field(examples=["act_3f9a1c2b7d4e5f60"])
    conversation: str | None = Field(None, description="The conversation that proposed it.")
    tool: Literal["save_draft", "send_email", "reply_to_invitation", "create_event",
                  "update_event"]  # fmt: skip
    args: dict[str, Any] = Field(description="The arguments the action will run with.")
    provenance: dict[str, ArgumentProvenance] = Field(description="Per argument: its source.")
    flags: list[str] = Field(description="Warnings: arguments from untrusted content.")
    summary: str = Field(examples=["Send an email to alice@example.com: Budget"])
    status: Literal["pending", "approved", "rejected", "expired", "executed", "failed"]
    created_at: str
    expires_at: str = Field(description="After this, approving answers 410 Gone.")
    decided_at: str | None = None
    result: dict[str, Any] | None = Field(None, description="What running it did.")

    @classmethod
    def of(cls, action: StoredAction) -> ActionOut:
        """The wire form of a stored action."""
        return cls.model_validate(action.as_dict())


class ActionList(BaseModel):
    """The key's user's actions, newest first."""

    actions: list[ActionOut]
