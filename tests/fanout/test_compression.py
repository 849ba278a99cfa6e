"""permessage-deflate negotiated and not: small messages go as one uncompressed frame to
everyone, large ones compressed (once per broadcast) to the viewers that asked for it."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from selfhost import fanout
from tests.fanout.conftest import Running, full
from tests.fanout.raw import RawViewer
from tests.support.clients import monaco_event


def _text(size: int) -> str:
    rng = random.Random(3)
    words = ["def", "return", "self", "value", "for", "in", "if", "print", "\n    "]
    out: list[str] = []
    length = 0
    while length < size:
        out.append(rng.choice(words) + rng.choice(string.ascii_lowercase) + " ")
        length += len(out[-1])
    return "".join(out)[:size]


async def test_small_uncompressed_large_compressed(running: Running, counted: Callable[[], fanout.Counters]) -> None:
    writer = await running.writer()
    grant = await running.grant(writer.room_id)
    deflating = await RawViewer.open(grant, deflate=True)
    plain = await RawViewer.open(grant, deflate=False)
    assert deflating.extensions.startswith("permessage-deflate")
    assert "server_no_context_takeover" in deflating.extensions  # no zlib state kept per viewer
    assert plain.extensions == ""
    for viewer in (deflating, plain):
        await viewer.join(writer.room_id)
        await viewer.editor()
    await writer.edit(monaco_event((0, 0, "hello")))
    big = _text(200_000)
    await writer.emit("sendToRoom", full(writer, 2, big))
    writer.version = 2  # the next delta is 3
    await writer.edit(monaco_event((0, 0, "!")))
    for viewer in (deflating, plain):
        small, frame = await viewer.editor()
        assert small["type"] == "delta" and not frame.rsv1
        large, frame = await viewer.editor()
        assert large["content"] == big
        if viewer is deflating:
            assert frame.rsv1 and len(frame.payload) < len(big) // 2
        else:
            assert not frame.rsv1 and len(frame.payload) > len(big)
        small, frame = await viewer.editor()
        assert small["type"] == "delta" and small["version"] == 3 and not frame.rsv1
    assert counted().direct >= 6  # the three messages to both viewers went straight to their WebSockets
    deflating.close()
    plain.close()
    await writer.close()


@pytest.mark.parametrize("size", [fanout.COMPRESS_MIN_BYTES, 70_000, 1_000_000])
def test_compressed_once_is_what_websockets_sends(size: int) -> None:
    """The frame built once per broadcast is, byte for byte, the one websockets would build for
    each viewer (with the settings our uvicorn protocol negotiates)."""
    payload = ("42" + _text(size)).encode()
    settings = {"memLevel": 5, "level": 1}
    theirs = WsFrame(Opcode.TEXT, payload).serialize(
        mask=False, extensions=[PerMessageDeflate(True, True, 12, 12, settings)]
    )
    deflate = PerMessageDeflate(True, True, 12, 12, settings)
    assert fanout._Deflated(payload).frame([deflate]) == theirs


async def test_a_large_message_is_compressed_once_for_all_deflating_viewers(
    running: Running, counted: Callable[[], fanout.Counters]
) -> None:
    writer = await running.writer()
    grant = await running.grant(writer.room_id)
    viewers = [await RawViewer.open(grant, deflate=True) for _ in range(3)]
    for viewer in viewers:
        await viewer.join(writer.room_id)
        await viewer.editor()
    big = _text(100_000)
    before = counted()
    await writer.emit("sendToRoom", full(writer, 1, big))
    payloads = []
    for viewer in viewers:
        data, frame = await viewer.editor()
        assert data["content"] == big and frame.rsv1
        payloads.append(frame.payload)
    assert payloads[0] == payloads[1] == payloads[2]
    used = counted()
    assert used.deflated - before.deflated == 1 and used.direct - before.direct == 3
    for viewer in viewers:
        viewer.close()
    await writer.close()
