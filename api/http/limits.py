"""Request limits of the service: per-key rate limits, body size and request time.

* Rate: a moving window per API key with the ``limits`` library (in-memory storage: one process
  serves the API; a multi-process deployment would point ``limits`` at Redis instead).
  :meth:`Limits.check_rate` is called by the auth dependency (:mod:`api.http.deps`) once the key
  is known, so unauthenticated floods never consume a user's budget.
* Body size and request time are enforced by :mod:`api.http.middleware` with the numbers kept
  here. ``POST /v1/ingest`` is exempt from the body limit: it streams uploads to disk and checks
  ``max_upload_bytes`` itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from core.errors import ConfigError
from core.settings import ServerSettings

#: Paths (exact) whose bodies are not limited by ``max_body_bytes`` (they enforce their own).
BODY_LIMIT_EXEMPT: frozenset[str] = frozenset({"/v1/ingest"})


@dataclass
class Limits:
    """The service's limits, built from ``settings.server``."""

    rate: RateLimitItem
    max_body_bytes: int
    request_timeout_s: float
    body_exempt: frozenset[str] = BODY_LIMIT_EXEMPT
    _limiter: MovingWindowRateLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_settings(cls, server: ServerSettings) -> Limits:
        """Limits from ``settings.server`` (a bad ``rate_limit`` string is a config error)."""
        try:
            rate = parse(server.rate_limit)
        except ValueError as exc:
            raise ConfigError(
                f"MAILMIND_SERVER__RATE_LIMIT={server.rate_limit!r} is not a rate "
                "(use e.g. `600/minute` or `10/second`)"
            ) from exc
        return cls(
            rate=rate,
            max_body_bytes=server.max_body_bytes,
            request_timeout_s=server.request_timeout_s,
        )

    def check_rate(self, key_id: str) -> int | None:
        """Count one request of ``key_id``: ``None`` if allowed, else the seconds to wait
        (``Retry-After``, at least 1) until the moving window has room again."""
        if self._limiter.hit(self.rate, key_id):
            return None
        stats = self._limiter.get_window_stats(self.rate, key_id)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def body_limit(self, path: str) -> int | None:
        """Largest body accepted on ``path`` (``None``: the route limits its own body)."""
        return None if path in self.body_exempt else self.max_body_bytes

    def reset(self) -> None:
        """Forget every key's window (tests, and an admin changing limits at run time)."""
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
