"""Malformed input of every kind gets an `error`, changes nothing, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_stream import new_viewer, new_writer, type_text
from tests.support.clients import Client, monaco_event, negotiate
from tests.support.server import RunningServer

ROOM = "room"  # replaced by the writer's room id
KEY = "key"  # replaced by the writer's key
OTHER_ROOM = "AAAAAAAAAAAAAAAAAAAAAA"  # well-formed, but no such room
BAD_KEY = "A" * 43

HUGE = "x" * (1024 * 1024 + 10)


def fill(value: Any, room_id: str, key: str) -> Any:
    if value == ROOM:
        return room_id
    if value == KEY:
        return key
    if isinstance(value, dict):
        return {k: fill(v, room_id, key) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, room_id, key) for v in value]
    return value


def delta(**over: Any) -> dict[str, Any]:
    return {"type": "delta", "version": 2, "changes": [monaco_event((0, 0, "y"))], **over}


# (event, payload, expected code)
CASES: list[tuple[str, Any, str]] = [
    ("joinRoom", None, "bad_request"),
    ("joinRoom", "room", "bad_request"),
    ("joinRoom", [ROOM], "bad_request"),
    ("joinRoom", {}, "bad_request"),
    ("joinRoom", {"room_id": 5}, "bad_request"),
    ("joinRoom", {"room_id": "short"}, "bad_request"),
    ("joinRoom", {"room_id": "../../etc/passwd"}, "bad_request"),
    ("joinRoom", {"room_id": HUGE}, "too_large"),
    ("joinRoom", {"room_id": OTHER_ROOM}, "room_not_found"),
    ("joinRoom", {"room_id": ROOM, "writer_key": BAD_KEY}, "unauthorized"),
    ("joinRoom", {"room_id": ROOM, "writer_key": "short"}, "bad_request"),
    ("joinRoom", {"room_id": ROOM, "writer_key": 7}, "bad_request"),
    ("sendToRoom", None, "bad_request"),
    ("sendToRoom", 42, "bad_request"),
    ("sendToRoom", {"room_id": ROOM}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": None}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "nope"}}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"data": "nosync"}}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version="2")}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=True)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=-1)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=2**60)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[])}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(changes="abc")}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[{"changes": [{"text": "a"}]}])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {
            "room_id": ROOM,
            "writer_key": KEY,
            "data": delta(changes=[{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": 5}]}]),
        },
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((0, 0, "\ud83d"))])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((99, 0, "far"))])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((0, 0, "a"))] * 1001)},
        "too_large",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5, "content": HUGE}},
        "too_large",
    ),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5}}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5, "content": "\udc00"}},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "language", "language": "<script>"}},
        "bad_request",
    ),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "language"}}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "cursor", "version": 1, "selections": 3}},
        "bad_request",
    ),
    (
        "sendToRoom",
        {
            "room_id": ROOM,
            "writer_key": KEY,
            "data": {"type": "cursor", "version": 1, "selections": [{"anchor": -1, "head": 0}]},
        },
        "bad_request",
    ),
    ("sendToRoom", {"room_id": OTHER_ROOM, "data": {"data": "sync"}}, "room_not_found"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": BAD_KEY, "data": delta()}, "unauthorized"),
    ("sendToRoom", {"room_id": "nope", "writer_key": KEY, "data": delta()}, "bad_request"),
]


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
