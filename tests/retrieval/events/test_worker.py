"""The consume loop's delivery policy, on both buses: handled events are acked once, failing
ones retried with backoff, a poison event dead-lettered with its error while the rest flow."""

from __future__ import annotations

import threading
from collections import Counter

from core.errors import InputError
from retrieval.events import stored_events
from retrieval.events.base import Event, EventBus
from retrieval.events.worker import EventWorker, RetryPolicy

IDS = [f"m{i:020x}" for i in range(12)]
FAST = RetryPolicy(max_attempts=3, backoff_s=0.05, backoff_max_s=0.2)


def _run(worker: EventWorker, *, idle_exit_s: float = 1.0) -> None:
    worker.run(threading.Event(), idle_exit_s=idle_exit_s, block_s=0.1)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=9, backoff_s=0.5, backoff_max_s=3.0)
    assert [policy.delay(a) for a in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_every_event_is_handled_and_acked(bus: EventBus) -> None:
    bus.publish(stored_events("alice", IDS, origin="test"))
    seen: list[str] = []
    worker = EventWorker(bus, lambda e: seen.append(e.key), consumer="w1", batch_size=5)
    _run(worker)
    assert seen == IDS
    assert (worker.counts.handled, worker.counts.retried, worker.counts.dead) == (12, 0, 0)
    stats = bus.stats()
    assert (stats.lag, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 0)


def test_a_transient_failure_is_retried_then_handled(bus: EventBus) -> None:
    bus.publish(stored_events("alice", IDS[:4], origin="test"))
    failures = Counter[str]()
    done: list[tuple[str, int]] = []

    def flaky(event: Event) -> None:
        if event.key == IDS[1] and failures[event.key] < 2:
            failures[event.key] += 1
            raise ConnectionError("index busy")
        done.append((event.key, event.attempt))

    worker = EventWorker(bus, flaky, consumer="w1", policy=FAST)
    _run(worker)
    assert sorted(done) == sorted([(IDS[0], 1), (IDS[1], 3), (IDS[2], 1), (IDS[3], 1)])
    assert (worker.counts.handled, worker.counts.retried, worker.counts.dead) == (4, 2, 0)
    assert bus.dead_letters() == []


def test_a_poison_event_is_dead_lettered_and_the_rest_keep_flowing(bus: EventBus) -> None:
    poison = IDS[5]
    bus.publish(stored_events("alice", IDS, origin="test"))
    handled: list[str] = []
    calls = Counter[str]()

    def handler(event: Event) -> None:
        calls[event.key] += 1
        if event.key == poison:
            raise RuntimeError(f"cannot summarise {event.key}")
        handled.append(event.key)

    worker = EventWorker(bus, handler, consumer="w1", policy=FAST, batch_size=4)
    _run(worker)
    assert handled == [i for i in IDS if i != poison]
    assert calls[poison] == FAST.max_attempts  # retried, then given up on
    (dead,) = bus.dead_letters()
    assert dead.event.key == poison and dead.event.attempt == FAST.max_attempts
    assert dead.error == f"RuntimeError: cannot summarise {poison}"
    assert dead.consumer == "w1"
    stats = bus.stats()
    assert (stats.lag, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 1)


def test_bad_input_is_dead_lettered_without_retries(bus: EventBus) -> None:
    bus.publish(
        [Event("message.stored", "Not A User", IDS[0]), *stored_events("a", IDS[1:3], origin="t")]
    )
    calls = Counter[str]()

    def handler(event: Event) -> None:
        calls[event.user] += 1
        if event.user != "a":
            raise InputError(f"invalid user id {event.user!r}")

    worker = EventWorker(bus, handler, consumer="w1", policy=FAST)
    _run(worker)
    assert calls == {"Not A User": 1, "a": 2}
    (dead,) = bus.dead_letters()
    assert dead.event.user == "Not A User" and dead.error.startswith("InputError: invalid user")


def test_observer_sees_each_outcome(bus: EventBus) -> None:
    bus.publish(stored_events("alice", IDS[:3], origin="test"))
    seen: list[tuple[str, str]] = []

    def handler(event: Event) -> None:
        if event.key == IDS[2]:
            raise InputError("bad")

    worker = EventWorker(
        bus, handler, consumer="w1", policy=FAST,
        observe=lambda e, outcome, s: seen.append((e.key, outcome)) if s >= 0 else None,
    )  # fmt: skip
    _run(worker)
    assert seen == [(IDS[0], "handled"), (IDS[1], "handled"), (IDS[2], "dead")]


def test_an_event_that_kills_its_workers_is_dead_lettered(bus: EventBus) -> None:
    import time

    bus.publish(stored_events("alice", IDS[:2], origin="test"))
    # Two consumers "die" holding the first event (read or reclaimed, never acked).
    (held,) = bus.read("dies-1", count=1, block_s=0.1)
    time.sleep(0.15)
    assert [d.id for d in bus.reclaim("dies-2", min_idle_s=0.1, count=1)] == [held.id]
    time.sleep(0.15)
    handled: list[str] = []
    worker = EventWorker(
        bus, lambda e: handled.append(e.key), consumer="w1", claim_idle_s=0.1,
        policy=RetryPolicy(max_attempts=2, backoff_s=0.05),
    )  # fmt: skip
    _run(worker)
    assert handled == [IDS[1]]  # the poison pill never ran again; the rest flowed
    (dead,) = bus.dead_letters()
    assert dead.event.key == IDS[0]
    assert dead.error == "delivered 3 times without an ack (its workers died)"
