"""The two event buses behind one fixture, so every contract test runs on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retrieval.events.base import EventBus


@pytest.fixture(
    params=[
        "inprocess",
        pytest.param("redis", marks=[pytest.mark.integration, pytest.mark.server]),
    ]
)
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    """An empty bus: in-process, or Redis Streams on a redis-server started for the test."""
    if request.param == "inprocess":
        from retrieval.events.inprocess import InProcessBus

        bus = InProcessBus()
        yield bus
        bus.close()
        return
    from retrieval.events.redis_bus import RedisBus

    server = request.getfixturevalue("redis_server")
    bus = RedisBus(server.url, prefix="test:events", group="workers")
    yield bus
    bus.close()
