"""A handler that fails on purpose: how tests see what a host and its clients do after a bug.

`fail_sends_containing(marker)` makes the first sendToRoom whose payload holds `marker` raise
inside the core, on whichever host runs it, as a passing bug would; the host must answer
the sender with an `internal` error naming the protocol's event, and the writer must resync
with its full (which holds the marker too, and goes through).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.handlers import Handlers

MARKER_ENV = "CODESTREAM_TEST_FAIL_MARKER"  # read by tests.support.failing_selfhost


class InjectedFault(RuntimeError):
    """Raised where a real bug would be."""


def fail_sends_containing(marker: str, times: int = 1) -> Callable[[], None]:
    """Patch the core's sendToRoom (every host's); returns the function that undoes it."""
    original = Handlers.send_to_room
    left = [times]

    async def send_to_room(self: Handlers, caller: Any, payload: Any) -> Any:
        if left[0] > 0 and marker in json.dumps(payload, ensure_ascii=False):
            left[0] -= 1
            raise InjectedFault(f"a sendToRoom holding {marker!r}")
        return await original(self, caller, payload)

    Handlers.send_to_room = send_to_room  # type: ignore[method-assign]

    def undo() -> None:
        Handlers.send_to_room = original  # type: ignore[method-assign]

    return undo
