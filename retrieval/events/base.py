"""The event bus contract: what a "message stored" event is and what any queue must offer.

Delivery is at least once. A consumer reads a batch, handles each event and then acks it; an
event whose consumer dies before the ack stays *pending* and is reclaimed by another consumer
after ``claim_idle_s``. A failed event is handed back with :meth:`EventBus.retry_later` (acked and
scheduled again with its attempt count raised, after a backoff) until it is moved to the
dead-letter stream with its error by :meth:`EventBus.dead_letter`. Handlers must therefore be
idempotent: handling an event twice leaves the same state as handling it once.

Two implementations: :class:`~retrieval.events.inprocess.InProcessBus` (the embedded default:
a queue inside the serving process) and :class:`~retrieval.events.redis_bus.RedisBus` (Redis
Streams with one consumer group, for worker processes on other machines).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

#: A message was committed to the store (``key``: its id).
MESSAGE_STORED = "message.stored"
#: A message left the store (expunged on the IMAP server; ``key``: its id).
MESSAGE_REMOVED = "message.removed"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a user's data; ``key`` names what it is about (a message id).

    ``published_at`` (epoch seconds) is set by the publisher and travels with the event, so a
    consumer can measure end-to-end latency; ``attempt`` counts deliveries after failures.
    """

    type: str
    user: str
    key: str
    origin: str = ""
    published_at: float = field(default_factory=time.time)
    attempt: int = 1

    def to_fields(self) -> dict[str, str]:
        """Flat string fields (a Redis stream entry)."""
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> Event:
        """Inverse of :meth:`to_fields` (bytes or str values)."""

        def text(name: str, default: str = "") -> str:
            value = fields.get(name, fields.get(name.encode(), default))
            return value.decode() if isinstance(value, bytes) else str(value)

        return cls(
            type=text("type"),
            user=text("user"),
            key=text("key"),
            origin=text("origin"),
            published_at=float(text("published_at", "0") or 0),
            attempt=int(text("attempt", "1") or 1),
        )

    def to_json(self) -> str:
        """The event as a JSON object."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event handed to one consumer; ``id`` is the bus's id of this delivery's entry.

    ``deliveries`` counts how often this entry was handed out (reclaims included): an event
    whose consumers keep dying on it (out of memory, a crash in native code) never raises, so
    only this count shows it is poison."""

    id: str
    event: Event
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that failed ``attempt`` times, with the last error."""

    id: str
    event: Event
    error: str
    consumer: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class BusStats:
    """What the lag metrics report.

    ``lag``: published but not yet delivered to any consumer; ``pending``: delivered but not
    acked (in progress, or held by a dead consumer); ``delayed``: waiting for a retry;
    ``dead``: in the dead-letter stream.
    """

    lag: int
    pending: int
    delayed: int
    dead: int
    oldest_pending_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """JSON-ready."""
        return asdict(self)


@runtime_checkable
class EventBus(Protocol):
    """A durable queue of :class:`Event` with consumer-side acknowledgement."""

    def publish(self, events: Sequence[Event]) -> list[str]:
        """Append events; returns their ids."""
        ...

    def read(self, consumer: str, *, count: int, block_s: float) -> list[Delivery]:
        """Up to ``count`` new events for ``consumer``, waiting up to ``block_s`` for one."""
        ...

    def reclaim(self, consumer: str, *, min_idle_s: float, count: int) -> list[Delivery]:
        """Take over events delivered to another consumer and not acked for ``min_idle_s``
        (that consumer died mid-batch)."""
        ...

    def ack(self, ids: Sequence[str]) -> None:
        """Mark deliveries as done."""
        ...

    def retry_later(self, delivery: Delivery, *, delay_s: float, error: str) -> None:
        """Ack ``delivery`` and deliver its event again (attempt + 1) after ``delay_s``; one
        atomic step, so the event is never lost nor doubled by a crash in between."""
        ...

    def dead_letter(self, delivery: Delivery, *, error: str, consumer: str) -> None:
        """Ack ``delivery`` and move its event, with ``error``, to the dead-letter stream."""
        ...

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest entries of the dead-letter stream."""
        ...

    def replay_dead(self, count: int = 100) -> int:
        """Publish the oldest ``count`` dead letters again (attempt 1) and remove them from the
        dead-letter stream, each in one step; returns how many."""
        ...

    def stats(self) -> BusStats:
        """Lag, pending, delayed and dead counts."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
