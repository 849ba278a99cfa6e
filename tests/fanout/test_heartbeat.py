"""Engine.IO's heartbeat, kept by one service task (selfhost.fanout): pings come on time and go
straight to a WebSocket, a viewer that answers stays, one that stops answering is closed, and a
long-polling viewer gets its pings through engineio's queue."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable

import pytest

from selfhost import fanout
from selfhost.app import Server
from shared.settings import Settings
from shared.store import MemoryRoomStore
from tests.fanout.conftest import Running, serve
from tests.fanout.raw import RawViewer
from tests.support.clients import monaco_event

INTERVAL, TIMEOUT = 1.0, 1.0  # seconds: Engine.IO's 25 and 20, shortened


class Closed(Exception):
    def __init__(self, pings: list[float]) -> None:
        self.pings = pings


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    server = Server(settings, os.urandom(32), MemoryRoomStore(settings))
    server.sio.eio.ping_interval, server.sio.eio.ping_timeout = INTERVAL, TIMEOUT
    try:
        async with serve(server) as started:
            yield started
    finally:
        fanout.uninstall()


async def _pings(viewer: RawViewer, seconds: float, answer: bool) -> list[float]:
    """When each ping came, over `seconds` (answered with a pong when `answer`), until the server
    closes the session (Engine.IO's CLOSE, a WebSocket close frame or the connection's end)."""
    came: list[float] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await viewer.frame(timeout=left)
        except TimeoutError:
            break
        except asyncio.IncompleteReadError:
            raise Closed(came) from None
        if frame.opcode == 0x8 or (frame.opcode == 0x1 and frame.payload == b"1"):
            raise Closed(came)
        if frame.opcode == 0x1 and frame.payload == b"2":
            came.append(time.monotonic())
            if answer:
                viewer.send_text("3")
    return came


async def test_pings_go_straight_to_the_websocket_and_keep_it_open(
    running: Running, counted: Callable[[], fanout.Counters]
) -> None:
    writer = await running.writer()
    viewer = await RawViewer.open(await running.grant(writer.room_id))
    await viewer.join(writer.room_id)
    came = await _pings(viewer, 4.5, answer=True)
    assert len(came) >= 3, came
    gaps = [b - a for a, b in itertools.pairwise(came)]
    # The interval from the pong, plus up to a tick (a quarter of it here), plus a loaded machine's lag.
    assert all(INTERVAL * 0.9 < gap < INTERVAL + 1.0 for gap in gaps), gaps
    assert counted().pings_direct >= len(came)
    await writer.edit(monaco_event((0, 0, "x")))  # still open, and streaming
    assert (await viewer.editor())[0]["type"] == "delta"
    viewer.close()
    await writer.close()


@pytest.mark.parametrize("chatty", [False, True])
async def test_a_viewer_that_stops_answering_is_closed(running: Running, chatty: bool) -> None:
    """Silent, engineio's reader gives up on it; chatty (Engine.IO NOOPs, which keep the reader
    waiting), the heartbeat's own check of the unanswered ping closes it."""
    writer = await running.writer()
    viewer = await RawViewer.open(await running.grant(writer.room_id))
    await viewer.join(writer.room_id)
    sockets = running.server.sio.eio.sockets
    assert len(sockets) == 2

    async def chatter() -> None:
        while True:
            viewer.send_text("6")
            await asyncio.sleep(0.2)

    chatting = asyncio.create_task(chatter()) if chatty else None
    began = time.monotonic()
    with pytest.raises(Closed) as closed:
        await _pings(viewer, 10, answer=False)
    # One ping within the interval (plus a tick), then the timeout (plus a tick).
    assert len(closed.value.pings) == 1
    assert time.monotonic() - began < INTERVAL + TIMEOUT + 1.5
    if chatting is not None:
        chatting.cancel()
    for _ in range(50):
        if len(sockets) == 1:
            break
        await asyncio.sleep(0.1)
    assert list(sockets) == [writer.sio.eio.sid]  # the writer's, which answers
    viewer.close()
    await writer.close()


async def test_a_long_polling_viewer_gets_its_pings_through_the_queue(running: Running) -> None:
    writer = await running.writer()
    polling = await running.viewer(writer.room_id, ["polling"])
    await asyncio.sleep(INTERVAL + TIMEOUT + 1.5)  # without pings its client would have given up
    assert polling.sio.connected and polling.sio.transport() == "polling"
    await writer.edit(monaco_event((0, 0, "y")))
    await polling.wait_text("y")
    await polling.close()
    await writer.close()
