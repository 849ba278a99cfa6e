"""When the writer sends: the two policies the benchmark compares.

- `Window` (ours, PROTOCOL.md "Writer pacing"): send at once when the line is idle; while
  edits come faster than the window, coalesce them into one send per window.
- `Interval` (the tutorial): flush whatever is pending every 200 ms, on a fixed clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

Flush = Callable[[list[dict[str, Any]], list[float]], None]  # (events, keystroke times)


class Window:
    def __init__(self, window: float, flush: Flush) -> None:
        self.window = window
        self.flush = flush
        self.events: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.last_sent = float("-inf")  # monotonic
        self.timer: asyncio.TimerHandle | None = None

    def edit(self, event: dict[str, Any], typed_at: float) -> None:
        self.events.append(event)
        self.times.append(typed_at)
        if self.timer is not None:
            return  # a send is already due; this edit rides along
        wait = self.last_sent + self.window - time.monotonic()
        if wait <= 0:
            self._send()
        else:
            self.timer = asyncio.get_running_loop().call_later(wait, self._send)

    def _send(self) -> None:
        self.timer = None
        if self.events:
            events, times, self.events, self.times = self.events, self.times, [], []
            self.last_sent = time.monotonic()
            self.flush(events, times)

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self._send()


class Interval:
    def __init__(self, period: float, flush: Flush) -> None:
        self.period = period
        self.flush = flush
        self.events: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.task = asyncio.get_running_loop().create_task(self._tick())

    def edit(self, event: dict[str, Any], typed_at: float) -> None:
        self.events.append(event)
        self.times.append(typed_at)

    async def _tick(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self._send()

    def _send(self) -> None:
        if self.events:
            events, times, self.events, self.times = self.events, self.times, [], []
            self.flush(events, times)

    async def close(self) -> None:
        self.task.cancel()
        self._send()


def policy(name: str, flush: Flush) -> Window | Interval:
    if name == "ours":
        return Window(0.05, flush)
    if name == "tutorial":
        return Interval(0.2, flush)
    raise ValueError(f"unknown pacing {name!r}")
