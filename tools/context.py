"""What the graph's runtime injects into every tool: whose data, which backends, what time it is.

The user id lives here and only here. It comes from the API key or the CLI's ``--user`` and is
never read from model output: tool argument schemas have no user field, and LangGraph's
``ToolRuntime`` injection keeps the context parameter out of the schema the model sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InputError
from retrieval.store.base import check_user

if TYPE_CHECKING:
    from retrieval.store.base import Store
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore


class MailSearch(Protocol):
    """Hybrid search (``retrieval.index.search.Searcher``) as the tools use it."""

    def search(
        self, user: str, query: str, *, filters: Any = None, limit: int = 10
    ) -> Sequence[Any]:
        """Hits with message_id, thread_id, score, date, sender, subject, snippet."""
        ...


@dataclass(slots=True)
class Backends:
    """Data access the tools need; every call they make passes the context's user."""

    store: Store
    calendars: CalendarStore
    contacts: ContactStore
    search: MailSearch | None = None


@dataclass(slots=True)
class AgentContext:
    """LangGraph runtime context for the assistant and its tools."""

    user: str
    backends: Backends
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        check_user(self.user)
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(
                f"unknown time zone {self.timezone!r}: use an IANA name like Europe/Paris"
            ) from exc

    @property
    def tz(self) -> ZoneInfo:
        """The user's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def zone_name(self) -> str:
        """The zone as answers name it: the IANA name (``America/Los_Angeles``)."""
        return self.timezone

    @property
    def local_now(self) -> datetime:
        """``now`` in the user's time zone."""
        return self.now.astimezone(self.tz)
