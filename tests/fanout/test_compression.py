"""permessage-deflate negotiated and not: small messages go as one uncompressed frame to
everyone, large ones compressed to the viewers that asked for it."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

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
