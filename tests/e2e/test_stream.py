"""A writer streams to viewers through a real server, with real python-socketio clients."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clients import Client, monaco_event
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer


async def test_writer_and_three_viewers_converge(server: RunningServer) -> None:
    writer = await new_writer(server)
    viewers = [await new_viewer(server, writer.room_id) for _ in range(3)]
    await type_text(writer, "def f():\r\n\treturn '😀'")
    await writer.edit(monaco_event((0, 3, "async def"), (5, 2, "")))  # two changes, one event
    await writer.edit(monaco_event((0, 0, "# x\n")), monaco_event((0, 1, "#!")))  # two events, one delta
    await writer.emit(
        "sendToRoom",
        {
            "room_id": writer.room_id,
            "writer_key": writer.grant["writer_key"],
            "data": {"type": "language", "language": "python"},
        },
    )
    for viewer in viewers:
        await viewer.wait_text(writer.text())
        await viewer.wait_for(lambda v=viewer: v.language == "python")
    assert writer.text() == "#! x\nasync def f:\r\n\treturn '😀'"
    presence = await writer.wait_for(
        lambda: writer.of_type("presence")[-1]["viewers"] == 3 and writer.of_type("presence")[-1]
    )
    assert presence == {"type": "presence", "room_id": writer.room_id, "viewers": 3, "writer": "online"}
    for client in (writer, *viewers):
        await client.close()


async def test_late_viewer_gets_full_text_after_writer_left(server: RunningServer) -> None:
    writer = await new_writer(server)
    await type_text(writer, "print('hello')\n")
    await writer.emit(
        "sendToRoom",
        {
            "room_id": writer.room_id,
            "writer_key": writer.grant["writer_key"],
            "data": {"type": "language", "language": "python"},
        },
    )
    expected = writer.text()
    early = await new_viewer(server, writer.room_id)
    await early.wait_text(expected)
    await writer.close()
    await early.wait_for(lambda: early.presence and early.presence["writer"] == "offline")

    late = await new_viewer(server, writer.room_id)
    full = await late.wait_for(lambda: [m for m in late.of_type("editorMessage") if m["data"].get("type") == "full"])
    assert full[0]["data"] == {
        "type": "full",
        "version": len(expected),
        "content": expected,
        "language": "python",
        "numbering": "native",
    }
    await late.wait_for(lambda: late.presence is not None)
    assert late.presence == {"type": "presence", "room_id": writer.room_id, "viewers": 2, "writer": "offline"}
    await early.close()
    await late.close()


@pytest.mark.parametrize(
    "data",
    [
        {"type": "delta", "version": 2, "changes": [monaco_event((0, 0, "evil"))]},
        {"type": "full", "version": 99, "content": "evil"},
        {"type": "language", "language": "rust"},
        {"type": "cursor", "version": 1, "selections": [{"anchor": 0, "head": 1}]},
    ],
    ids=["delta", "full", "language", "cursor"],
)
async def test_viewer_writes_are_refused_and_change_nothing(server: RunningServer, data: dict) -> None:
    writer = await new_writer(server)
    await type_text(writer, "x")
    viewer = await new_viewer(server, writer.room_id)
    other = await new_viewer(server, writer.room_id)
    await viewer.wait_text("x")
    await viewer.emit("sendToRoom", {"room_id": viewer.room_id, "data": data})
    error = await viewer.wait_message("error")
    assert error == {
        "type": "error",
        "code": "unauthorized",
        "message": "only the room's writer may change it (send its writer_key)",
        "event": "sendToRoom",
    }
    # Nothing was relayed or stored: a fresh viewer still sees the writer's text and language.
    fresh = await new_viewer(server, writer.room_id)
    full = await fresh.wait_for(lambda: [m for m in fresh.of_type("editorMessage") if m["data"]["type"] == "full"])
    assert full[0]["data"] == {"type": "full", "version": 1, "content": "x", "numbering": "native"}
    await asyncio.sleep(0.1)
    assert [m["data"] for m in other.of_type("editorMessage")] == [
        {"type": "full", "version": 1, "content": "x", "numbering": "native"}
    ]
    assert writer.of_type("error") == []
    for client in (writer, viewer, other, fresh):
        await client.close()


async def test_tutorial_client_streams(server: RunningServer) -> None:
    """Role from the token in `url`'s query, no writer_key, deltas numbered from 0, `sync` answered."""
    writer = await new_writer(server, tutorial=True)
    assert writer.sent_with_key is False
    viewer = await new_viewer(server, writer.room_id, token_in_url=True)
    await type_text(writer, "let a = 1;\n")
    await writer.edit(monaco_event((4, 1, "answer"), (8, 1, "42")))
    await viewer.wait_text(writer.text())
    assert writer.text() == "let answer = 42;\n"
    # The tutorial's viewer asks the room for `sync` after joining; the server answers from its text.
    late = await new_viewer(server, writer.room_id, token_in_url=True)
    await late.emit("sendToRoom", {"room_id": f"{writer.room_id}-control", "data": {"data": "sync"}})
    fulls = await late.wait_for(
        lambda: (
            len([m for m in late.of_type("editorMessage") if m["data"]["type"] == "full"]) >= 2
            and late.of_type("editorMessage")
        )
    )
    assert fulls[-1]["data"]["content"] == writer.text()
    # The tutorial writer's full (version = its next delta's number) keeps everyone in step.
    await writer.send_full()
    await type_text(writer, "// more")
    for v in (viewer, late):
        await v.wait_text(writer.text())
    assert writer.of_type("error") == []
    for client in (writer, viewer, late):
        await client.close()


async def test_room_behind_its_writer_relays_sync_to_writer(server: RunningServer) -> None:
    """A gap the room cannot fill itself: `sync` goes to the writer, whose full heals every viewer."""
    writer = await new_writer(server)
    viewer = await new_viewer(server, writer.room_id)
    await type_text(writer, "ab")
    await viewer.wait_text("ab")
    writer.document.apply([[__import__("shared.document", fromlist=["Change"]).Change(2, 0, "c")]])
    writer.version += 1  # this delta (3) is "lost": never sent
    await writer.edit(monaco_event((3, 0, "d")))  # delta 4 is held back
    await viewer.emit("sendToRoom", {"room_id": writer.room_id, "data": {"data": "sync"}})
    # The writer is asked and answers with its full text (Writer does so on `sync`).
    await viewer.wait_text("abcd")
    syncs = [m for m in writer.of_type("editorMessage") if m["data"] == {"data": "sync"}]
    assert syncs
    await writer.close()
    await viewer.close()


async def test_writer_resumes_with_key_after_reconnect(server: RunningServer) -> None:
    writer = await new_writer(server)
    await type_text(writer, "keep")
    await writer.close()
    status, grant = await negotiate(server.url, room_id=writer.room_id, writer_key=writer.grant["writer_key"])
    assert status == 200 and grant["role"] == "writer" and grant["writer_key"] == writer.grant["writer_key"]
    again = Client(grant)
    await again.connect()
    ack = await again.join(writer_key=grant["writer_key"])
    assert ack == {
        "type": "ackJoinRoom",
        "success": True,
        "room_id": writer.room_id,
        "role": "writer",
        "version": 4,
        "expires_at": grant["expires_at"],
        "ended_at": None,
    }
    full = await again.wait_message("editorMessage")
    assert full["data"] == {"type": "full", "version": 4, "content": "keep", "numbering": "native"}
    await again.close()
