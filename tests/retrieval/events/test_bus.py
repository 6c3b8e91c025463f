"""The EventBus contract, on the in-process queue and on Redis Streams alike: delivery to one
consumer of the group, acks, delayed retries, dead letters, reclaiming from a dead consumer,
and the counts behind the lag metrics."""

from __future__ import annotations

import time

import pytest

from retrieval.events import MESSAGE_STORED, stored_events
from retrieval.events.base import Event, EventBus


def _drain(bus: EventBus, consumer: str, *, block_s: float = 0.2) -> list[str]:
    keys = []
    while batch := bus.read(consumer, count=10, block_s=block_s):
        keys += [d.event.key for d in batch]
        bus.ack([d.id for d in batch])
    return keys


def test_published_events_reach_one_consumer_each_in_order(bus: EventBus) -> None:
    ids = [f"m{i:020x}" for i in range(25)]
    published = bus.publish(stored_events("alice", ids, origin="test"))
    assert len(set(published)) == 25
    assert bus.stats().lag == 25

    first = bus.read("w1", count=10, block_s=0.1)
    second = bus.read("w2", count=100, block_s=0.1)
    # Each event goes to exactly one consumer of the group, oldest first.
    assert [d.event.key for d in first + second] == ids
    assert {d.event.type for d in first} == {MESSAGE_STORED}
    assert (first[0].event.user, first[0].event.origin, first[0].event.attempt) == (
        "alice", "test", 1,
    )  # fmt: skip
    stats = bus.stats()
    assert (stats.lag, stats.pending) == (0, 25)
    bus.ack([d.id for d in first + second])
    assert bus.stats().pending == 0
    assert bus.read("w1", count=10, block_s=0.1) == []


def test_read_blocks_until_the_deadline_when_empty(bus: EventBus) -> None:
    started = time.monotonic()
    assert bus.read("w1", count=5, block_s=0.3) == []
    assert time.monotonic() - started >= 0.25


def test_retry_later_redelivers_after_the_delay_with_the_attempt_raised(bus: EventBus) -> None:
    bus.publish([Event(MESSAGE_STORED, "alice", "m" + "1" * 20)])
    (delivery,) = bus.read("w1", count=1, block_s=0.1)
    bus.retry_later(delivery, delay_s=0.6, error="boom")
    stats = bus.stats()
    assert (stats.pending, stats.delayed) == (0, 1)
    # Not before its time ...
    assert bus.read("w1", count=1, block_s=0.1) == []
    # ... then again, one attempt later, with what it was about unchanged.
    deadline = time.monotonic() + 5
    again = []
    while not again and time.monotonic() < deadline:
        again = bus.read("w2", count=1, block_s=0.5)
    assert len(again) == 1
    assert again[0].event.key == delivery.event.key
    assert again[0].event.attempt == 2
    assert again[0].event.published_at == pytest.approx(delivery.event.published_at, abs=1e-3)
    assert bus.stats().delayed == 0


def test_dead_letter_keeps_the_event_and_its_error(bus: EventBus) -> None:
    bus.publish(stored_events("alice", ["m" + "a" * 20, "m" + "b" * 20], origin="api"))
    poison, good = bus.read("w1", count=2, block_s=0.1)
    bus.dead_letter(poison, error="ValueError: cannot parse", consumer="w1")
    bus.ack([good.id])
    (dead,) = bus.dead_letters()
    assert (dead.event.key, dead.event.user, dead.event.origin) == ("m" + "a" * 20, "alice", "api")
    assert dead.error == "ValueError: cannot parse" and dead.consumer == "w1"
    stats = bus.stats()
    assert (stats.dead, stats.pending, stats.lag) == (1, 0, 0)


def test_a_dead_consumers_events_are_reclaimed_after_the_idle_time(bus: EventBus) -> None:
    ids = [f"m{i:020x}" for i in range(5)]
    bus.publish(stored_events("alice", ids, origin="test"))
    taken = bus.read("dies", count=3, block_s=0.1)  # never acked: this consumer "died"
    assert len(taken) == 3
    # Too early: still owned by the dead consumer.
    assert bus.reclaim("alive", min_idle_s=5.0, count=10) == []
    time.sleep(0.3)
    reclaimed = bus.reclaim("alive", min_idle_s=0.2, count=10)
    assert sorted(d.event.key for d in reclaimed) == ids[:3]
    bus.ack([d.id for d in reclaimed])
    assert _drain(bus, "alive") == ids[3:]
    stats = bus.stats()
    assert (stats.lag, stats.pending, stats.delayed, stats.dead) == (0, 0, 0, 0)


def test_dead_letters_can_be_replayed_as_first_attempts(bus: EventBus) -> None:
    ids = ["m" + "c" * 20, "m" + "d" * 20, "m" + "e" * 20]
    bus.publish(stored_events("alice", ids, origin="sync"))
    for delivery in bus.read("w1", count=3, block_s=0.1):
        bus.retry_later(delivery, delay_s=0, error="x")
    for delivery in bus.read("w1", count=3, block_s=0.5):
        bus.dead_letter(delivery, error="still failing", consumer="w1")
    assert bus.stats().dead == 3
    assert bus.replay_dead(2) == 2
    assert [d.event.key for d in bus.dead_letters()] == ids[2:]
    again = bus.read("w2", count=10, block_s=0.2)
    assert [(d.event.key, d.event.attempt, d.event.origin) for d in again] == [
        (ids[0], 1, "sync"), (ids[1], 1, "sync"),
    ]  # fmt: skip
    bus.ack([d.id for d in again])
    assert bus.replay_dead() == 1 and bus.stats().dead == 0


def test_reclaims_count_the_deliveries(bus: EventBus) -> None:
    bus.publish(stored_events("alice", ["m" + "f" * 20], origin="test"))
    (first,) = bus.read("w1", count=1, block_s=0.1)
    assert first.deliveries == 1
    time.sleep(0.15)
    (second,) = bus.reclaim("w2", min_idle_s=0.1, count=5)
    time.sleep(0.15)
    (third,) = bus.reclaim("w3", min_idle_s=0.1, count=5)
    assert (second.id, third.id) == (first.id, first.id)
    assert (second.deliveries, third.deliveries) == (2, 3)
