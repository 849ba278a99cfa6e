"""Run the pure core's coroutines inline, without an event loop, as the fuzz oracle and memory tests do."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from shared.handlers import Handlers, Throttles
from shared.settings import Settings
from shared.store import MemoryRoomStore


def run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a core coroutine that never really waits (MemoryRoomStore): no event loop needed."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the core awaited something real")


def memory_core(settings: Settings, secret: bytes, clock: Callable[[], float] = time.time) -> Handlers:
    """The core over rooms in memory, with throttles of its own: what a one-process host runs."""
    return Handlers(settings, secret, MemoryRoomStore(settings), Throttles.for_settings(settings, clock), clock)
