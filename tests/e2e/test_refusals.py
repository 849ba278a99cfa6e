"""Malformed input of every kind gets an `error`, changes nothing, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clients import Client
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.refusals import CASES, OTHER_ROOM, fill
from tests.support.server import RunningServer


@pytest.mark.parametrize(("event", "payload", "code"), CASES, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(CASES)])
async def test_malformed_payload_gets_error(server: RunningServer, event: str, payload: Any, code: str) -> None:
    writer = await new_writer(server)
    await type_text(writer, "x")
    viewer = await new_viewer(server, writer.room_id)
    await viewer.wait_text("x")
    # sendToRoom comes from the writer's own socket (the worst case: it may write); joinRoom
    # from a fresh socket of the writer's that has joined nothing yet.
    sender = writer
    if event == "joinRoom":
        _, grant = await negotiate(server.url, room_id=writer.room_id, writer_key=writer.grant["writer_key"])
        sender = Client(grant)
        await sender.connect()
    await sender.emit(event, fill(payload, writer.room_id, writer.grant["writer_key"]))
    error = await sender.wait_message("error")
    assert error["code"] == code, error
    assert error["event"] == event and isinstance(error["message"], str) and error["message"]
    # Nothing changed: the viewer got nothing new, and the room still streams.
    await type_text(writer, "z")
    await viewer.wait_text("xz")
    editor = [m["data"] for m in viewer.of_type("editorMessage")]
    assert [d["type"] for d in editor] == ["full", "delta"], editor
    assert viewer.of_type("error") == []
    for client in {writer, viewer, sender}:
        await client.close()


async def test_join_refusal_also_answers_ack(server: RunningServer) -> None:
    _, grant = await negotiate(server.url)
    writer = Client(grant)
    await writer.connect()
    await writer.emit("joinRoom", {"room_id": OTHER_ROOM})
    ack = await writer.wait_message("ackJoinRoom")
    assert ack == {
        "type": "ackJoinRoom",
        "success": False,
        "error": {"code": "room_not_found", "message": "no such room: check the link, or wait for its writer"},
    }
    await writer.close()


async def test_rate_limit_refuses_floods(server: RunningServer) -> None:
    writer = await new_writer(server)
    viewer = await new_viewer(server, writer.room_id)
    for _ in range(150):  # 100 a second is the default
        await writer.emit("sendToRoom", {"room_id": writer.room_id, "data": {"data": "sync"}})
    error = await writer.wait_message("error")
    assert error["code"] == "rate_limited"
    await writer.close()
    await viewer.close()
