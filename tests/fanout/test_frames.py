"""Frames at the payload-length boundaries, built once by selfhost and read off the wire."""

from __future__ import annotations

import pytest
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from selfhost.frames import text_frame
from tests.fanout.conftest import Running, full
from tests.fanout.raw import RawViewer

BOUNDARIES = [(125, 125), (126, 126), (65_535, 126), (65_536, 127)]  # payload length, 7-bit length field


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_text_frame_is_what_websockets_serialises(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert text_frame(payload) == WsFrame(Opcode.TEXT, payload).serialize(mask=False)


async def test_broadcast_frames_at_length_boundaries(running: Running) -> None:
    writer = await running.writer()
    viewers = [await RawViewer.open(await running.grant(writer.room_id), deflate=False) for _ in range(2)]
    for viewer in viewers:
        await viewer.join(writer.room_id)
        assert (await viewer.editor())[0]["type"] == "full"  # the room's (empty) text
    # The packet around a full's content has a fixed length: measure it, then pad to each size.
    await writer.emit("sendToRoom", full(writer, 1, "x"))
    frames = [(await v.editor())[1] for v in viewers]
    overhead = len(frames[0].payload) - 1
    for version, (size, code) in enumerate(BOUNDARIES, start=2):
        content = "y" * (size - overhead)
        await writer.emit("sendToRoom", full(writer, version, content))
        for viewer in viewers:
            data, frame = await viewer.editor()
            assert (data["version"], data["content"]) == (version, content)
            assert (len(frame.payload), frame.length_code, frame.rsv1, frame.fin) == (size, code, False, True)
    for viewer in viewers:
        viewer.close()
    await writer.close()
