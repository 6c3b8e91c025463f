"""The consume loop every worker runs: read, handle, ack; retry with backoff; dead-letter.

The loop knows nothing about what handling means (``handler(event)`` does that, idempotently);
it owns the delivery policy:

* a handler that returns normally gets its event acked;
* a permanent error (bad input: an invalid user or id, an unparsable event) dead-letters the
  event at once: retrying cannot help;
* any other exception retries the event after ``backoff_s * 2**(attempt-1)`` (capped), and after
  ``max_attempts`` deliveries it is dead-lettered with the error;
* every ``claim_idle_s`` the loop first reclaims events that another consumer took and never
  acked (it was killed mid-batch); one handed out more than ``max_attempts`` times is
  dead-lettered instead of handled (it kills its workers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import InputError, ParseError
from retrieval.events.base import Delivery, Event, EventBus

log = logging.getLogger(__name__)

#: Handles one event; must be idempotent (it may run twice for one event).
Handler = Callable[[Event], object]
#: ``observe(event, outcome, seconds_since_published)``; outcome: handled, retried, dead.
Observer = Callable[[Event, str, float], None]
#: Errors that retrying cannot fix.
PERMANENT: tuple[type[BaseException], ...] = (InputError, ParseError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed events are retried."""

    max_attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds before delivery ``attempt + 1`` of an event that failed ``attempt`` times."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(0, attempt - 1)))


@dataclass(slots=True)
class WorkerCounts:
    """What one worker did (``mailmind worker --json``)."""

    handled: int = 0
    retried: int = 0
    dead: int = 0
    reclaimed: int = 0
    bus_errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class EventWorker:
    """One consumer of a bus, calling ``handler`` for each event."""

    def __init__(
        self,
        bus: EventBus,
        handler: Handler,
        *,
        consumer: str,
        policy: RetryPolicy | None = None,
        batch_size: int = 16,
        claim_idle_s: float = 60.0,
        observe: Observer | None = None,
    ) -> None:
        self.bus, self.handler, self.consumer = bus, handler, consumer
        self.policy = policy or RetryPolicy()
        self.batch_size, self.claim_idle_s = batch_size, claim_idle_s
        self.observe = observe
        self.counts = WorkerCounts()
        self._next_claim = 0.0

    def _handle(self, delivery: Delivery) -> None:
        event = delivery.event
        if delivery.deliveries > self.policy.max_attempts:
            # Its consumers died on it every time (no exception to catch): a poison pill.
            error = f"delivered {delivery.deliveries} times without an ack (its workers died)"
            log.warning("event %s dead-lettered: %s", delivery.id, error)
            self.bus.dead_letter(delivery, error=error, consumer=self.consumer)
            self.counts.dead += 1
            self._observe(event, "dead")
            return
        try:
            outcome = self.handler(event)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a retry or a dead letter
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, PERMANENT) or event.attempt >= self.policy.max_attempts:
                log.warning("event %s dead-lettered after %d attempt(s): %s",
                            delivery.id, event.attempt, error)  # fmt: skip
                self.bus.dead_letter(delivery, error=error, consumer=self.consumer)
                self.counts.dead += 1
                self._observe(event, "dead")
            else:
                self.bus.retry_later(
                    delivery, delay_s=self.policy.delay(event.attempt), error=error
                )
                self.counts.retried += 1
                self._observe(event, "retried")
            return
        self.bus.ack([delivery.id])
        self.counts.handled += 1
        key = str(outcome) if isinstance(outcome, str) else "ok"
        self.counts.outcomes[key] = self.counts.outcomes.get(key, 0) + 1
        self._observe(event, "handled")

    def _observe(self, event: Event, outcome: str) -> None:
        if self.observe is not None:
            self.observe(event, outcome, max(0.0, time.time() - event.published_at))

    def run_once(self, *, block_s: float = 1.0) -> int:
        """Reclaim (when due) and read one batch, handling each event; returns the number of
        deliveries handled in any way."""
        deliveries: list[Delivery] = []
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + min(self.claim_idle_s, 5.0)
            deliveries = self.bus.reclaim(
                self.consumer, min_idle_s=self.claim_idle_s, count=self.batch_size
            )
            self.counts.reclaimed += len(deliveries)
        if not deliveries:
            deliveries = self.bus.read(self.consumer, count=self.batch_size, block_s=block_s)
        for delivery in deliveries:
            self._handle(delivery)
        return len(deliveries)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        max_events: int | None = None,
        idle_exit_s: float | None = None,
        block_s: float = 1.0,
    ) -> WorkerCounts:
        """Loop until ``stop`` is set, ``max_events`` deliveries were handled, or nothing
        arrived for ``idle_exit_s``."""
        stop = stop or threading.Event()
        done = 0
        idle_since = time.monotonic()
        while not stop.is_set():
            try:
                n = self.run_once(block_s=block_s)
            except Exception:  # the bus failed (e.g. Redis restarting): try again
                log.exception("event bus error; trying again")
                self.counts.bus_errors += 1
                stop.wait(min(5.0, self.policy.backoff_max_s))
                continue
            done += n
            if max_events is not None and done >= max_events:
                break
            if n:
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                break
        return self.counts
