"""The end of a server process: every task ends, even one whose cancellation a library swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

import pytest
import socketio

from selfhost.shutdown import end_tasks, report_stuck
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.server import start_server


def _server_whose_disconnect_takes(seconds: float) -> tuple[socketio.AsyncServer, asyncio.Event]:
    sio = socketio.AsyncServer(async_mode="asgi")
    entered = asyncio.Event()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        entered.set()
        await asyncio.sleep(seconds)  # e.g. the room's store, on Redis

    return sio, entered


async def _listener(sio: socketio.AsyncServer, handled: list[str]) -> None:
    """As python-socketio's Redis listener: one `disconnect` message, then waits for the next."""
    await sio._trigger_event("disconnect", "/", "sid-1", "client disconnect")
    handled.append("sid-1")
    await asyncio.Event().wait()  # no more messages


async def test_a_cancellation_swallowed_by_an_event_handler_does_not_keep_a_task_running() -> None:
    sio, entered = _server_whose_disconnect_takes(0.3)
    handled: list[str] = []
    task = asyncio.create_task(_listener(sio, handled))
    await entered.wait()
    task.cancel()
    await asyncio.sleep(0.5)
    # python-socketio's _trigger_event swallowed the cancellation: the listener went on.
    assert handled == ["sid-1"] and not task.done()
    started = time.monotonic()
    assert await end_tasks([task], seconds=5) == set()
    assert task.cancelled() and time.monotonic() - started < 1


async def test_a_cancellation_that_lands_in_a_handler_is_repeated() -> None:
    sio, entered = _server_whose_disconnect_takes(0.3)
    task = asyncio.create_task(_listener(sio, []))
    await entered.wait()
    assert await end_tasks([task], seconds=5) == set()
    assert task.cancelled()


async def test_a_task_that_never_ends_is_returned_once_the_time_is_up(caplog: pytest.LogCaptureFixture) -> None:
    stubborn = True

    async def swallow_every_cancellation() -> None:
        while stubborn:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)

    task = asyncio.create_task(swallow_every_cancellation(), name="the stubborn task")
    await asyncio.sleep(0)  # under way: a task cancelled before its first step just ends
    started = time.monotonic()
    assert await end_tasks([task], seconds=0.5) == {task}
    assert 0.5 <= time.monotonic() - started < 2
    with caplog.at_level(logging.ERROR, logger="codestream"):
        report_stuck({task})
    assert "would not end" in caplog.text and "the stubborn task" in caplog.text
    stubborn = False
    await task


async def test_sigterm_with_a_room_streaming_ends_the_process_at_once(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    writer = await new_writer(server)
    viewer = await new_viewer(server, writer.room_id)
    await type_text(writer, "print('still typing')\n")
    await viewer.wait_text(writer.text())
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0, server.output()[-3000:]
    assert time.monotonic() - started < 10  # uvicorn's 3 s for connections, then every task ends
    assert "would not end" not in server.output()
    for client in (writer, viewer):
        await client.close()
