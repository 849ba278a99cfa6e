"""A viewer that stops reading is cut off once its queue is full; the others get everything."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from selfhost import fanout
from tests.fanout.conftest import Running, full
from tests.fanout.raw import RawViewer

SIZE = 60_000  # per full: the stalled viewer's kernel buffers (a few MB) fill after some 70


async def test_stalled_viewer_cut_off_others_unchanged(
    running: Running, counted: Callable[[], fanout.Counters]
) -> None:
    writer = await running.writer()
    readers = [await running.viewer(writer.room_id) for _ in range(2)]
    stalled = await RawViewer.open(await running.grant(writer.room_id), deflate=False, receive_buffer=4096)
    await stalled.join(writer.room_id)
    await stalled.editor()
    stalled.stop_reading()
    count = 500  # past the kernel buffers and MAX_QUEUED_PACKETS
    for version in range(1, count + 1):
        await writer.emit("sendToRoom", full(writer, version, chr(ord("a") + version % 26) * SIZE))
        if version % 50 == 0:
            await asyncio.sleep(0.05)  # let the readers keep up, as a writer's pace would
    for reader in readers:
        await reader.wait_for(lambda r=reader: r.tracker.version == count, timeout=30)
        versions = [m["data"]["version"] for m in reader.of_type("editorMessage")][1:]
        assert versions == list(range(1, count + 1))
    assert counted().cut_off == 1
    # Its socket is gone on the server, and its own end sees the connection closed.
    assert len(running.server.sio.eio.sockets) == len(readers) + 1
    stalled.resume_reading()
    try:
        while True:
            await stalled.frame(timeout=5)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    for client in (*readers, writer):
        await client.close()
