"""A viewer that pauses now and then moves between the direct path and engineio's queue;
its messages still arrive once each, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from selfhost import fanout
from tests.fanout.conftest import Running, full
from tests.fanout.raw import RawViewer


async def test_order_kept_across_paths(running: Running, counted: Callable[[], fanout.Counters]) -> None:
    writer = await running.writer()
    viewer = await RawViewer.open(await running.grant(writer.room_id), deflate=False, receive_buffer=4096)
    await viewer.join(writer.room_id)
    await viewer.editor()
    received: list[int] = []

    async def read() -> None:
        while True:
            data, _ = await viewer.editor(timeout=30)
            received.append(data["version"])

    reading = asyncio.create_task(read())
    count = 300
    for version in range(1, count + 1):
        await writer.emit("sendToRoom", full(writer, version, "z" * 40_000))
        if version % 60 == 0:  # stop reading long enough for the server's buffers to fill
            viewer.stop_reading()
            await asyncio.sleep(1.0)
            viewer.resume_reading()
    async with asyncio.timeout(30):
        while len(received) < count:
            await asyncio.sleep(0.05)
    reading.cancel()
    assert received == list(range(1, count + 1))
    used = counted()
    assert used.direct > 0 and used.queued > 0 and used.cut_off == 0
    viewer.close()
    await writer.close()
