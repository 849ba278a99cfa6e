"""The writer and viewer flows most server tests start with: negotiate, connect, join, type."""

from __future__ import annotations

from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer


async def new_writer(server: RunningServer, tutorial: bool = False) -> Writer:
    status, grant = await negotiate(server.url)
    assert status == 200
    writer = Writer(grant, tutorial=tutorial)
    await writer.connect(token_in_url=tutorial)
    ack = await writer.join()
    assert ack["success"] and ack["role"] == "writer"
    return writer


async def new_viewer(server: RunningServer, room_id: str, token_in_url: bool = False) -> Viewer:
    status, grant = await negotiate(server.url, room_id=room_id)
    assert status == 200 and grant["role"] == "viewer" and "writer_key" not in grant
    viewer = Viewer(grant)
    await viewer.connect(token_in_url=token_in_url)
    ack = await viewer.join()
    assert ack["success"] and ack["role"] == "viewer"
    return viewer


async def type_text(writer: Writer, text: str) -> None:
    for ch in text:
        await writer.edit(monaco_event((len(writer.text().encode("utf-16-le")) // 2, 0, ch)))
