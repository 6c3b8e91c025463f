"""The embedded event bus: a queue inside one process (``MAILMIND_EVENTS__BACKEND=inprocess``).

Same contract as Redis Streams (pending entries, reclaim, delayed retries, a dead-letter list),
so the worker loop and its tests are the same for both. Nothing survives the process: on a
restart, mail that was stored but not yet handled is caught up by ``mailmind index`` (vectors)
and computed on demand (chips, summaries), exactly as before events existed.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.events.base import BusStats, DeadLetter, Delivery, Event


@dataclass(slots=True)
class _Pending:
    consumer: str
    event: Event
    since: float
    deliveries: int = 1


class InProcessBus:
    """A thread-safe in-memory :class:`~retrieval.events.base.EventBus`."""

    def __init__(self, *, max_dead: int = 10_000) -> None:
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._ready: deque[tuple[str, Event]] = deque()
        self._pending: dict[str, _Pending] = {}
        self._delayed: list[tuple[float, int, Event]] = []
        self._dead: deque[DeadLetter] = deque(maxlen=max_dead)
        self._closed = False

    def _next_id(self) -> str:
        return f"{int(time.time() * 1000)}-{next(self._ids)}"

    def publish(self, events: Sequence[Event]) -> list[str]:
        """Append events; returns their ids."""
        with self._cond:
            ids = []
            for event in events:
                eid = self._next_id()
                self._ready.append((eid, event))
                ids.append(eid)
            self._cond.notify_all()
        return ids

    def _promote_due(self) -> float | None:
        """Move due retries to the ready queue; seconds until the next one is due."""
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, event = heapq.heappop(self._delayed)
            self._ready.append((self._next_id(), event))
        return self._delayed[0][0] - now if self._delayed else None

    def read(self, consumer: str, *, count: int, block_s: float) -> list[Delivery]:
        """Up to ``count`` events, waiting up to ``block_s`` for the first."""
        deadline = time.monotonic() + block_s
        with self._cond:
            while True:
                next_due = self._promote_due()
                if self._ready or self._closed:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(min(left, next_due) if next_due is not None else left)
            out: list[Delivery] = []
            now = time.monotonic()
            while self._ready and len(out) < count:
                eid, event = self._ready.popleft()
                self._pending[eid] = _Pending(consumer, event, now)
                out.append(Delivery(eid, event))
            return out

    def reclaim(self, consumer: str, *, min_idle_s: float, count: int) -> list[Delivery]:
        """Take over deliveries not acked for ``min_idle_s``."""
        now = time.monotonic()
        out: list[Delivery] = []
        with self._cond:
            for eid, p in self._pending.items():
                if len(out) >= count:
                    break
                if p.consumer != consumer and now - p.since >= min_idle_s:
                    p.consumer, p.since, p.deliveries = consumer, now, p.deliveries + 1
                    out.append(Delivery(eid, p.event, p.deliveries))
        return out

    def ack(self, ids: Sequence[str]) -> None:
        """Forget these deliveries."""
        with self._cond:
            for eid in ids:
                self._pending.pop(eid, None)

    def retry_later(self, delivery: Delivery, *, delay_s: float, error: str) -> None:
        """Ack and schedule the event again with attempt + 1."""
        again = replace(delivery.event, attempt=delivery.event.attempt + 1)
        with self._cond:
            self._pending.pop(delivery.id, None)
            heapq.heappush(self._delayed, (time.monotonic() + delay_s, next(self._ids), again))
            self._cond.notify_all()

    def dead_letter(self, delivery: Delivery, *, error: str, consumer: str) -> None:
        """Ack and keep the event with its error in the dead-letter list."""
        with self._cond:
            self._pending.pop(delivery.id, None)
            self._dead.append(DeadLetter(delivery.id, delivery.event, error, consumer, time.time()))

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest dead letters."""
        with self._cond:
            return list(itertools.islice(self._dead, count))

    def replay_dead(self, count: int = 100) -> int:
        """Queue the oldest dead letters again as first attempts."""
        with self._cond:
            n = 0
            while self._dead and n < count:
                dead = self._dead.popleft()
                self._ready.append((self._next_id(), replace(dead.event, attempt=1)))
                n += 1
            self._cond.notify_all()
        return n

    def stats(self) -> BusStats:
        """Counts for the lag metrics."""
        now = time.monotonic()
        with self._cond:
            oldest = min((p.since for p in self._pending.values()), default=now)
            return BusStats(
                lag=len(self._ready),
                pending=len(self._pending),
                delayed=len(self._delayed),
                dead=len(self._dead),
                oldest_pending_s=round(now - oldest, 3),
            )

    def close(self) -> None:
        """Wake blocked readers; later reads return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
