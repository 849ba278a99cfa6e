"""What a user meets, the same on every host: self-hosted, self-hosted over Redis, and Azure in its worker."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.settings import Settings
from tests.support.clients import Client, Viewer, Writer, monaco_event

from .drivers import Driver


async def open_room(driver: Driver, tutorial: bool = False) -> Writer:
    status, grant = await driver.negotiate()
    assert status == 200 and grant["role"] == "writer"
    writer = Writer(grant, tutorial=tutorial)
    writer.sent_with_key = True  # on Azure the writer proves itself with writer_key (every host accepts it)
    await driver.connect(writer)
    ack = await writer.join()
    assert ack["success"] and ack["role"] == "writer"
    return writer


async def watch(driver: Driver, room_id: str) -> Viewer:
    status, grant = await driver.negotiate(room_id=room_id)
    assert status == 200 and grant["role"] == "viewer" and "writer_key" not in grant
    viewer = await driver.connect(Viewer(grant))
    ack = await viewer.join()
    assert ack["success"] and ack["role"] == "viewer"
    return viewer


async def last_error(client: Client, count: int = 1) -> dict[str, Any]:
    return await client.wait_message("error", count)


async def test_writer_and_viewers_converge(driver: Driver) -> None:
    writer = await open_room(driver)
    viewers = [await watch(driver, writer.room_id) for _ in range(2)]
    await writer.edit(monaco_event((0, 0, "def f():\n    return 1\n")))
    await writer.edit(monaco_event((4, 1, "g"), (20, 1, "2😀")))  # two changes, from the end; an emoji
    await writer.edit(monaco_event((0, 0, "# 😀 é\r\n")), monaco_event((0, 1, "")))  # two events in one delta
    await writer.emit("sendToRoom", writer._payload({"type": "language", "language": "python"}))
    for viewer in viewers:
        await viewer.wait_text(writer.text())
        await viewer.wait_for(lambda v=viewer: v.language == "python")
    assert writer.text() == " 😀 é\r\ndef g():\n    return 2😀\n"
    await viewers[1].wait_for(lambda: (viewers[1].presence or {}).get("writer") == "online")


async def test_tutorial_numbering_converges(driver: Driver) -> None:
    writer = await open_room(driver, tutorial=True)  # deltas from 0, as the tutorial's writer sends them
    viewer = await watch(driver, writer.room_id)
    for i in range(5):
        await writer.edit(monaco_event((i, 0, str(i))))
    await viewer.wait_text("01234")


async def test_late_joiner_gets_the_text_with_the_writer_gone(driver: Driver) -> None:
    writer = await open_room(driver)
    await writer.edit(monaco_event((0, 0, "kept after the writer left")))
    await writer.edit(monaco_event((0, 4, "Still")))
    await driver.settle()
    await writer.close()
    await driver.settle()
    late = await watch(driver, writer.room_id)
    await late.wait_text("Still after the writer left")
    full = [m["data"] for m in late.of_type("editorMessage") if m["data"].get("type") == "full"]
    assert full[0]["version"] == 2
    await late.wait_for(lambda: late.presence is not None)
    assert late.presence == {"type": "presence", "room_id": writer.room_id, "viewers": 1, "writer": "offline"}


async def test_a_viewer_cannot_write(driver: Driver) -> None:
    writer = await open_room(driver)
    await writer.edit(monaco_event((0, 0, "mine")))
    intruder = await watch(driver, writer.room_id)
    await intruder.wait_text("mine")
    bystander = await watch(driver, writer.room_id)
    await bystander.wait_text("mine")
    delta = {"type": "delta", "version": 2, "changes": [monaco_event((0, 4, "pwned"))]}
    await intruder.emit("sendToRoom", {"room_id": writer.room_id, "data": delta})
    error = await last_error(intruder)
    assert (error["code"], error["event"]) == ("unauthorized", "sendToRoom")
    await driver.settle()
    late = await watch(driver, writer.room_id)  # the room's own text is untouched too
    await late.wait_text("mine")
    assert bystander.text() == "mine" and not bystander.of_type("error")


async def test_a_viewer_sync_request_is_answered_from_the_room(driver: Driver) -> None:
    writer = await open_room(driver)
    await writer.edit(monaco_event((0, 0, "abc")))
    viewer = await watch(driver, writer.room_id)
    await viewer.wait_text("abc")
    await driver.settle()
    before = len(viewer.of_type("editorMessage"))
    await viewer.emit("sendToRoom", {"room_id": writer.room_id + "-control", "data": {"data": "sync"}})
    message = await viewer.wait_message("editorMessage", before + 1)
    assert message["data"] == {"type": "full", "version": 1, "content": "abc", "numbering": "native"}


async def test_bad_input_gets_an_error(driver: Driver) -> None:
    writer = await open_room(driver)
    await writer.emit("sendToRoom", {"room_id": "not-a-room", "data": {"type": "language", "language": "go"}})
    assert (await last_error(writer))["code"] == "bad_request"
    await writer.emit("sendToRoom", writer._payload({"type": "delta", "version": 1, "changes": "nope"}))
    assert (await last_error(writer, 2))["code"] == "bad_request"
    negative = {"type": "delta", "version": 1, "changes": [monaco_event((-1, 0, "x"))]}
    await writer.emit("sendToRoom", writer._payload(negative))
    assert (await last_error(writer, 3))["code"] == "bad_request"
    await writer.emit("sendToRoom", writer._payload({"type": "language", "language": "a b"}))
    assert (await last_error(writer, 4))["code"] == "bad_request"

    _, grant = await driver.negotiate(room_id=writer.room_id)
    viewer = await driver.connect(Client(grant))
    await viewer.emit("joinRoom", {"room_id": writer.room_id, "writer_key": "A" * 43})
    ack = await viewer.wait_message("ackJoinRoom")
    assert ack["success"] is False and ack["error"]["code"] == "unauthorized"
    assert (await last_error(viewer))["event"] == "joinRoom"
    await viewer.emit("joinRoom", "room please")
    assert (await viewer.wait_message("ackJoinRoom", 2))["error"]["code"] == "bad_request"


async def test_negotiate_answers(driver: Driver) -> None:
    status, grant = await driver.negotiate()
    assert status == 200 and set(grant) == {
        "room_id",
        "role",
        "writer_key",
        "endpoint",
        "path",
        "token",
        "url",
        "limits",
        "expires_at",
        "ended",
    }
    assert grant["ended"] is False and grant["expires_at"] > time.time() + 86400 - 60  # the default lifetime
    assert grant["limits"] == Settings().client_limits()  # both hosts tell the browser the server's limits
    assert grant["path"].endswith("/clients/socketio/hubs/codestream")
    assert grant["url"].startswith(grant["endpoint"] + "?access_token=")
    status, body = await driver.negotiate(room_id=grant["room_id"], writer_key=grant["writer_key"])
    assert (status, body["role"], body["writer_key"]) == (200, "writer", grant["writer_key"])
    status, body = await driver.negotiate(room_id=grant["room_id"], writer_key="B" * 43)
    assert (status, body["error"]["code"]) == (403, "unauthorized")
    status, body = await driver.negotiate(room_id="AAAAAAAAAAAAAAAAAAAAAA")
    assert (status, body["error"]["code"]) == (404, "room_not_found")
    status, body = await driver.negotiate(room_id="short")
    assert (status, body["error"]["code"]) == (400, "bad_request")


async def test_the_newest_writer_tab_takes_over(driver: Driver) -> None:
    first = await open_room(driver)
    await first.edit(monaco_event((0, 0, "one")))
    viewer = await watch(driver, first.room_id)
    await viewer.wait_text("one")
    status, grant = await driver.negotiate(room_id=first.room_id, writer_key=first.grant["writer_key"])
    assert status == 200 and grant["role"] == "writer"
    second = Writer(grant)
    await driver.connect(second)
    ack = await second.join()
    assert ack["success"] and ack["version"] == 1
    superseded = await first.wait_message("superseded")
    assert superseded["room_id"] == first.room_id
    second.version, second.document = first.version, first.document  # the new tab loaded the text
    await second.edit(monaco_event((3, 0, " two")))
    await viewer.wait_text("one two")
    await driver.settle()
    late = await watch(driver, first.room_id)
    await late.wait_text("one two")
    await late.wait_for(lambda: late.presence is not None)
    assert late.presence == {"type": "presence", "room_id": first.room_id, "viewers": 2, "writer": "online"}


async def test_a_burst_of_joins_is_one_presence_broadcast_to_viewers(driver: Driver) -> None:
    """Viewers hear of joins at most once a second (the writer at once), on Azure too, where
    each message is billed and the throttle is the instance's, not the event's."""
    writer = await open_room(driver)
    first = await watch(driver, writer.room_id)
    others = [await watch(driver, writer.room_id) for _ in range(4)]
    await writer.wait_for(lambda: [m["viewers"] for m in writer.of_type("presence")][-1:] == [5])  # at once
    await asyncio.sleep(1.1)  # the interval passes: what was held back goes out (Azure: on the next event)
    await writer.edit(monaco_event((0, 0, "x")))
    await first.wait_for(lambda: (first.presence or {}).get("viewers") == 5)
    heard = [m["viewers"] for m in first.of_type("presence")]
    assert heard[0] == 1 and len(heard) <= 3, heard  # its own join, then one or two broadcasts, not four
    assert all(other.presence is not None for other in others)


async def test_a_pasted_timestamp_streams_as_typed(driver: Driver) -> None:
    """Newtonsoft.Json, in the Azure host and extension, rewrites whole strings that look like dates
    (`...00.000Z` becomes `...00Z`, an offset moves to UTC); the stream must carry them as typed."""
    writer = await open_room(driver)
    viewer = await watch(driver, writer.room_id)
    for stamp in ("2024-01-01T00:00:00.000Z", "2024-01-01T10:00:00+02:00", "/Date(0)/"):
        await writer.edit(monaco_event((len(writer.text()), 0, stamp)))
        await writer.edit(monaco_event((len(writer.text()), 0, " ok\n")))
    await viewer.wait_text(writer.text())
    await driver.settle()
    late = await watch(driver, writer.room_id)  # the room's own text, as the entity keeps it
    await late.wait_text(writer.text())
