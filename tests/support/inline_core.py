"""Run the pure core's coroutines inline, without an event loop, as the fuzz oracle and memory tests do."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any


def run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a core coroutine that never really waits (MemoryRoomStore): no event loop needed."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the core awaited something real")
