"""Rate limits that need memory of recent traffic (size limits live in the protocol)."""

from __future__ import annotations

from collections.abc import Callable


class RateLimiter:
    """A token bucket per key: `rate` messages a second, bursts of up to `rate`.

    Kept in the memory of the process that handles the socket; on Azure, where one socket's
    events may reach several instances, it is a per-instance best effort.
    """

    def __init__(self, rate: int, clock: Callable[[], float]) -> None:
        self.rate = float(rate)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)
