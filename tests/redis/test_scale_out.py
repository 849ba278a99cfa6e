"""Two selfhost processes sharing rooms through Redis, driven by real Socket.IO clients."""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer

StartNode = Callable[[], RunningServer]


def last_presence(client: Viewer | Writer) -> dict | None:
    seen = client.of_type("presence")
    return seen[-1] if seen else None


async def test_writer_on_a_and_viewers_on_b_converge(start_node: StartNode) -> None:
    a, b = start_node(), start_node()
    writer = await new_writer(a)
    viewers = [await new_viewer(b, writer.room_id) for _ in range(3)]  # B finds A's room in Redis
    await type_text(writer, "def f():\n\treturn '😀'\n")
    await writer.edit(monaco_event((0, 3, "async def"), (5, 2, "")))
    for viewer in viewers:
        await viewer.wait_text(writer.text())
    assert writer.text() == "async def f:\n\treturn '😀'\n"
    # Presence is the room's, not one process's: the writer on A counts B's viewers.
    await writer.wait_for(lambda: (p := last_presence(writer)) and p["viewers"] == 3)
    for client in (writer, *viewers):
        await client.close()


async def test_late_joiner_on_b_gets_the_text_written_through_a(start_node: StartNode) -> None:
    a, b = start_node(), start_node()
    writer = await new_writer(a)
    await type_text(writer, "print('hello from A')\n")
    witness = await new_viewer(a, writer.room_id)  # the text has reached the store once A relays it
    await witness.wait_text(writer.text())
    await writer.close()
    late = await new_viewer(b, writer.room_id)
    await late.wait_text("print('hello from A')\n")
    full = [m["data"] for m in late.of_type("editorMessage") if m["data"].get("type") == "full"]
    assert full and full[0]["content"] == "print('hello from A')\n"
    await late.wait_for(lambda: (p := last_presence(late)) and p["writer"] == "offline" and p["viewers"] == 2)
    for client in (witness, late):
        await client.close()


async def test_writer_moves_to_b_when_a_is_killed_and_nothing_is_lost(start_node: StartNode) -> None:
    a, b = start_node(), start_node()
    writer = await new_writer(a)
    on_a = await new_viewer(a, writer.room_id)
    on_b = await new_viewer(b, writer.room_id)
    await type_text(writer, "line one\n")
    await on_b.wait_text("line one\n")

    a.stop(signal.SIGKILL)  # no goodbye: A's sockets never say `disconnect`
    status, grant = await negotiate(b.url, room_id=writer.room_id, writer_key=writer.grant["writer_key"])
    assert status == 200 and grant["role"] == "writer"
    moved = Writer(grant)
    moved.version, moved.document = writer.version, writer.document  # the browser keeps its editor
    await moved.connect()
    ack = await moved.join()
    assert ack["success"] and ack["version"] == writer.version

    await type_text(moved, "line two\n")
    await on_b.wait_text("line one\nline two\n")
    # B notices that A is gone and ends A's sockets: presence stops counting A's viewer.
    await on_b.wait_for(
        lambda: (p := last_presence(on_b)) and p["viewers"] == 1 and p["writer"] == "online", timeout=20
    )
    late = await new_viewer(b, writer.room_id)
    await late.wait_text("line one\nline two\n")
    for client in (moved, on_b, late):
        await client.close()
    assert on_a.text() == "line one\n"
