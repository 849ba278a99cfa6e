"""Long-polling, upgraded and WebSocket viewers in one room all get every delta, in order."""

from __future__ import annotations

from collections.abc import Callable

from selfhost import fanout
from tests.fanout.conftest import Running
from tests.support.clients import monaco_event


async def test_polling_and_websocket_viewers_in_one_room(
    running: Running, counted: Callable[[], fanout.Counters]
) -> None:
    writer = await running.writer()
    polling = await running.viewer(writer.room_id, ["polling"])
    upgraded = await running.viewer(writer.room_id, ["polling", "websocket"])
    websocket = await running.viewer(writer.room_id, ["websocket"])
    assert polling.sio.transport() == "polling" and websocket.sio.transport() == "websocket"
    text = "def f(x):\n    return x * 2\n"
    for i, ch in enumerate(text):
        await writer.edit(monaco_event((i, 0, ch)))
    for viewer in (polling, upgraded, websocket):
        await viewer.wait_text(text)
        versions = [m["data"]["version"] for m in viewer.of_type("editorMessage") if m["data"]["type"] == "delta"]
        assert versions == list(range(1, len(text) + 1))
    used = counted()
    assert used.direct >= len(text) and used.queued >= len(text)  # the WebSocket ones direct, polling queued
    for client in (polling, upgraded, websocket, writer):
        await client.close()
