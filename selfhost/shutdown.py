"""The end of a server process: uvicorn that stops cleanly on a signal, and every task left
running ends, within a bound. `python -m selfhost` and `python -m azure_local` use it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
from collections.abc import Iterable, Iterator

import uvicorn

log = logging.getLogger("codestream")


class Uvicorn(uvicorn.Server):
    """uvicorn that returns after a graceful stop on SIGINT or SIGTERM.

    uvicorn re-raises the signal once it has shut down: the process would die there, before
    the caller's `finally` (a store's last writes, a child process to stop), and a clean
    stop would look like a crash to process supervisors and tests.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        if self.should_exit:  # a second signal: stop waiting for connections
            self.force_exit = True
        self.should_exit = True


# How long the tasks left once uvicorn has stopped get to end (after its own 3 s for
# connections), and how often each is cancelled again meanwhile.
END_TASKS_SECONDS = 5.0
RECANCEL_SECONDS = 0.1


async def end_tasks(
    tasks: Iterable[asyncio.Task[object]], seconds: float = END_TASKS_SECONDS
) -> set[asyncio.Task[object]]:
    """Cancel `tasks` until each has ended or `seconds` have passed; return those still running.

    One cancellation is not enough: python-socketio and engineio swallow a CancelledError that
    reaches them inside an event handler (their `_trigger_event`), so a loop that calls one (the
    Redis listener handling a `disconnect`, the heartbeat ending a socket, the sweep ending a
    room) would go on, and the event loop's own last cancellation would then wait for it forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, left))
    return {task for task in pending if not task.done()}


def report_stuck(tasks: Iterable[asyncio.Task[object]]) -> None:
    for task in tasks:
        stack = io.StringIO()
        task.print_stack(file=stack)
        log.error("shutdown: a task would not end: %s", stack.getvalue().rstrip())
