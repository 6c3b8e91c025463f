"""New-mail events: the :class:`EventBus` protocol, its in-process and Redis Streams
implementations, and the consume loop (:class:`~retrieval.events.worker.EventWorker`).

Publishers (IMAP sync, ``POST /v1/ingest``) announce each committed message with a
``message.stored`` event; consumers index it and precompute what the mail client shows
(``agents/precompute.py``). :func:`open_bus` picks the backend from settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.events.base import (
    MESSAGE_REMOVED,
    MESSAGE_STORED,
    BusStats,
    DeadLetter,
    Delivery,
    Event,
    EventBus,
)

if TYPE_CHECKING:
    from core.settings import EventSettings

__all__ = [
    "MESSAGE_REMOVED",
    "MESSAGE_STORED",
    "BusStats",
    "DeadLetter",
    "Delivery",
    "Event",
    "EventBus",
    "open_bus",
    "stored_events",
]


def open_bus(settings: EventSettings) -> EventBus:
    """The configured bus: in-process (default) or Redis Streams."""
    if settings.backend == "redis":
        from retrieval.events.redis_bus import RedisBus

        return RedisBus(settings.url, prefix=settings.stream, group=settings.group)
    from retrieval.events.inprocess import InProcessBus

    return InProcessBus()


def stored_events(
    user: str, message_ids: list[str], *, origin: str, kind: str = MESSAGE_STORED
) -> list[Event]:
    """One event of ``kind`` (``message.stored`` by default) per id, in order."""
    return [Event(kind, user, mid, origin) for mid in message_ids]
