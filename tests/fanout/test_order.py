"""A viewer that pauses now and then moves between the direct path and engineio's queue while
the writer keeps sending; its messages still arrive once each, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from engineio import packet as eio_packet
from socketio import packet

from selfhost import fanout
from shared.protocol import editor_message
from tests.fanout.conftest import Running, full, full_data
from tests.fanout.raw import RawViewer


async def test_order_kept_across_paths(running: Running, counted: Callable[[], fanout.Counters]) -> None:
    writer = await running.writer()
    viewer = await RawViewer.open(await running.grant(writer.room_id), deflate=False, receive_buffer=4096)
    await viewer.join(writer.room_id)
    await viewer.editor()
    received: list[int] = []
    count = 400

    async def read() -> None:
        while len(received) < count:
            data, _ = await viewer.editor(timeout=30)
            received.append(data["version"])

    async def pause_now_and_then() -> None:
        while True:  # long enough for the server's buffers to fill, then drain
            await asyncio.sleep(0.2)
            viewer.stop_reading()
            await asyncio.sleep(0.4)
            viewer.resume_reading()

    reading, pausing = asyncio.create_task(read()), asyncio.create_task(pause_now_and_then())
    before = counted()
    for version in range(1, count + 1):  # the writer never waits for the viewer
        await writer.emit("sendToRoom", full(writer, version, "z" * 40_000))
        await asyncio.sleep(0.003)
    pausing.cancel()
    viewer.resume_reading()
    await asyncio.wait_for(reading, 30)
    with contextlib.suppress(asyncio.CancelledError):
        await pausing
    assert received == list(range(1, count + 1))
    used = counted()
    assert used.direct - before.direct > 0 and used.queued - before.queued > 0 and used.cut_off == 0
    viewer.close()
    await writer.close()


async def test_broadcast_waits_behind_a_queued_packet(running: Running) -> None:
    """A packet sent through engineio's queue, then at once a broadcast: the broadcast must not
    overtake it (the direct path is for sockets with nothing queued or in flight)."""
    writer = await running.writer()
    viewer = await RawViewer.open(await running.grant(writer.room_id), deflate=False)
    await viewer.join(writer.room_id)
    await viewer.editor()
    sio = running.server.sio
    [(_, eio_sid)] = list(sio.manager.get_participants("/", writer.room_id))
    for version in range(1, 41, 2):
        queued = sio.packet_class(packet.EVENT, data=["message", editor_message(full_data(version, "q"))])
        await sio.eio.send_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, queued.encode()))
        await sio.emit("message", editor_message(full_data(version + 1, "b")), room=writer.room_id)
    received = [(await viewer.editor())[0]["version"] for _ in range(40)]
    assert received == list(range(1, 41))
    viewer.close()
    await writer.close()
