"""Redis Streams event bus (``MAILMIND_EVENTS__BACKEND=redis``), one consumer group.

Keys under ``prefix`` (default ``mailmind:events``):

* ``<prefix>`` - the stream. Consumers read it with ``XREADGROUP`` in one group; an entry is
  ``XACK``-ed *and* ``XDEL``-eted once handled, so the stream holds exactly the unread and the
  pending entries and the lag is ``XLEN - pending`` (no trimming that could drop unread events).
* ``<prefix>:delayed`` - a sorted set of events waiting for a retry, scored by due time; due ones
  are moved back into the stream by a Lua script (atomic, so two workers never both move one).
* ``<prefix>:dead`` - the dead-letter stream: the event's fields plus ``error``, ``consumer``,
  ``failed_at`` and ``source_id``.

A consumer that dies mid-batch leaves its entries pending; ``XAUTOCLAIM`` hands them to a live
consumer after ``claim_idle_s``. Every ack/retry/dead-letter is one ``MULTI`` transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from retrieval.events.base import BusStats, DeadLetter, Delivery, Event

if TYPE_CHECKING:
    import redis

# Moves due retries from the delayed set into the stream; returns how many moved.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local fields = cjson.decode(member)
  local flat = {}
  for k, v in pairs(fields) do
    table.insert(flat, k)
    table.insert(flat, v)
  end
  redis.call('XADD', KEYS[2], '*', unpack(flat))
end
return #due
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBus:
    """An :class:`~retrieval.events.base.EventBus` over Redis Streams (redis-py)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "mailmind:events",
        group: str = "workers",
        client: redis.Redis | None = None,
    ) -> None:
        try:
            import redis as redis_lib
        except ImportError as exc:  # the runtime works without it; only this backend needs it
            raise ConfigError(
                "MAILMIND_EVENTS__BACKEND=redis needs the redis client: "
                "pip install 'mailmind[scale]'"
            ) from exc
        self.r: redis.Redis = client or redis_lib.Redis.from_url(url)
        self.stream, self.group = prefix, group
        self.delayed_key, self.dead_key = f"{prefix}:delayed", f"{prefix}:dead"
        self._promote = self.r.register_script(_PROMOTE)
        try:
            self.r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis_lib.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        except redis_lib.ConnectionError as exc:
            raise ConfigError(f"cannot reach Redis at MAILMIND_EVENTS__URL: {exc}") from exc

    def publish(self, events: Sequence[Event]) -> list[str]:
        """``XADD`` each event (one round trip)."""
        if not events:
            return []
        pipe = self.r.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, event.to_fields())  # type: ignore[arg-type]
        return [_text(i) for i in pipe.execute()]

    def _deliveries(self, entries: Any) -> list[Delivery]:
        out = []
        for eid, fields in entries or ():
            if fields:  # None: deleted under us (acked by a consumer that came back)
                out.append(Delivery(_text(eid), Event.from_fields(fields)))
        return out

    def read(self, consumer: str, *, count: int, block_s: float) -> list[Delivery]:
        """Promote due retries, then ``XREADGROUP ... >`` (new entries only)."""
        self._promote(keys=[self.delayed_key, self.stream], args=[time.time(), 100])
        block = block_s
        head = self.r.zrange(self.delayed_key, 0, 0, withscores=True)
        if head:  # wake up in time for the next retry
            block = max(0.0, min(block, float(head[0][1]) - time.time()))  # type: ignore[index]
        reply: Any = self.r.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=count,
            block=max(1, int(block * 1000)) if block > 0 else None,
        )  # fmt: skip
        return self._deliveries(reply[0][1]) if reply else []

    def reclaim(self, consumer: str, *, min_idle_s: float, count: int) -> list[Delivery]:
        """``XAUTOCLAIM`` entries idle for ``min_idle_s`` (their consumer died), with their
        delivery counts from ``XPENDING``."""
        reply: Any = self.r.xautoclaim(
            self.stream, self.group, consumer, int(min_idle_s * 1000), "0-0", count=count
        )
        claimed = self._deliveries(reply[1])
        if not claimed:
            return []
        pipe = self.r.pipeline(transaction=False)
        for d in claimed:
            pipe.xpending_range(self.stream, self.group, min=d.id, max=d.id, count=1)
        counts = [int(r[0]["times_delivered"]) if r else 1 for r in pipe.execute()]
        return [Delivery(d.id, d.event, n) for d, n in zip(claimed, counts, strict=True)]

    def ack(self, ids: Sequence[str]) -> None:
        """``XACK`` + ``XDEL`` in one transaction."""
        if not ids:
            return
        pipe = self.r.pipeline(transaction=True)
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()

    def retry_later(self, delivery: Delivery, *, delay_s: float, error: str) -> None:
        """Ack and put the event (attempt + 1) into the delayed set, atomically."""
        ev = delivery.event
        again = Event(ev.type, ev.user, ev.key, ev.origin, ev.published_at, ev.attempt + 1)
        pipe = self.r.pipeline(transaction=True)
        pipe.zadd(self.delayed_key, {json.dumps(again.to_fields()): time.time() + delay_s})
        pipe.xack(self.stream, self.group, delivery.id)
        pipe.xdel(self.stream, delivery.id)
        pipe.execute()

    def dead_letter(self, delivery: Delivery, *, error: str, consumer: str) -> None:
        """Ack and append the event with its error to the dead-letter stream, atomically."""
        fields = {
            **delivery.event.to_fields(), "error": error[:4000], "consumer": consumer,
            "failed_at": str(time.time()), "source_id": delivery.id,
        }  # fmt: skip
        pipe = self.r.pipeline(transaction=True)
        pipe.xadd(self.dead_key, fields)  # type: ignore[arg-type]
        pipe.xack(self.stream, self.group, delivery.id)
        pipe.xdel(self.stream, delivery.id)
        pipe.execute()

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters."""
        out = []
        entries: Any = self.r.xrange(self.dead_key, count=count)
        for eid, fields in entries:
            f = {_text(k): _text(v) for k, v in fields.items()}
            out.append(
                DeadLetter(
                    id=_text(eid),
                    event=Event.from_fields(f),
                    error=f.get("error", ""),
                    consumer=f.get("consumer", ""),
                    failed_at=float(f.get("failed_at", 0)),
                )
            )
        return out

    def replay_dead(self, count: int = 100) -> int:
        """``XADD`` each of the oldest dead letters back (attempt 1) and ``XDEL`` it from the
        dead-letter stream, one transaction per entry."""
        n = 0
        for dead in self.dead_letters(count):
            ev = dead.event
            again = Event(ev.type, ev.user, ev.key, ev.origin, ev.published_at, 1)
            pipe = self.r.pipeline(transaction=True)
            pipe.xadd(self.stream, again.to_fields())  # type: ignore[arg-type]
            pipe.xdel(self.dead_key, dead.id)
            pipe.execute()
            n += 1
        return n

    def stats(self) -> BusStats:
        """Lag = stream length - pending (acked entries are deleted), plus the other counts."""
        pipe = self.r.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.xpending(self.stream, self.group)
        pipe.zcard(self.delayed_key)
        pipe.xlen(self.dead_key)
        pipe.xpending_range(self.stream, self.group, min="-", max="+", count=1)
        length, summary, delayed, dead, first = pipe.execute()
        pending = int(summary["pending"])
        oldest = float(first[0]["time_since_delivered"]) / 1000 if first else 0.0
        return BusStats(
            lag=max(0, int(length) - pending), pending=pending, delayed=int(delayed),
            dead=int(dead), oldest_pending_s=round(oldest, 3),
        )  # fmt: skip

    def close(self) -> None:
        """Close the connection pool."""
        self.r.close()
