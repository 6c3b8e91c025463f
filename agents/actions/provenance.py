"""Data-flow tags for action arguments (CaMeL-style): where each value came from.

Every argument of a proposed action is a :class:`Tagged` value. Its :class:`Provenance` says
which kind of source produced it (the user's own request, code, or mail / event / contact text)
with the ids of those items, and whether that source is trusted. Only the user's request and
values computed by code from it are trusted; anything read out of mail, event or contact text is
not, and an action argument that came from there is flagged in the approval prompt.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

SourceKind = Literal["user", "tool", "mail", "event", "contact"]
T = TypeVar("T")

#: Kinds whose text is written by third parties (anyone can send the user mail or an invitation).
UNTRUSTED_KINDS: frozenset[str] = frozenset({"mail", "event", "contact"})


class Provenance(BaseModel):
    """Where a value came from."""

    source: SourceKind = Field(description="user = the request; tool = computed by code.")
    ids: list[str] = Field(default_factory=list, description="Message/event/contact ids.")
    trusted: bool = Field(description="False for text written by third parties.")
    note: str = Field("", description="How the value was derived (shown to the user).")

    @classmethod
    def user(cls, note: str = "from your request") -> Provenance:
        """A value the user typed."""
        return cls(source="user", trusted=True, note=note)

    @classmethod
    def tool(cls, note: str) -> Provenance:
        """A value computed by code from trusted inputs (a resolved date, your own address)."""
        return cls(source="tool", trusted=True, note=note)

    @classmethod
    def content(cls, kind: SourceKind, ids: list[str], note: str) -> Provenance:
        """A value read out of mail, event or contact data: untrusted."""
        return cls(source=kind, ids=list(ids), trusted=kind not in UNTRUSTED_KINDS, note=note)

    def merge(self, other: Provenance) -> Provenance:
        """A value derived from two sources is as trusted as the less trusted one."""
        if not other.trusted or (self.trusted == other.trusted and other.source != "user"):
            worse, better = other, self
        else:
            worse, better = self, other
        ids = list(dict.fromkeys([*worse.ids, *better.ids]))
        return Provenance(
            source=worse.source, ids=ids, trusted=self.trusted and other.trusted,
            note="; ".join(n for n in (self.note, other.note) if n),
        )  # fmt: skip


class Tagged(BaseModel, Generic[T]):
    """A value with its provenance."""

    value: T
    provenance: Provenance


def tagged(value: Any, provenance: Provenance) -> Tagged[Any]:
    """Shorthand for ``Tagged(value=..., provenance=...)``."""
    return Tagged[Any](value=value, provenance=provenance)


def untrusted_arguments(provenance: dict[str, Provenance]) -> list[str]:
    """Names of the arguments whose value came from untrusted content, in order."""
    return [name for name, p in provenance.items() if not p.trusted]
