"""Every limit at its edge, on a real server with small limits: the last allowed passes, the
first past it gets an `error` (or an HTTP 413) and changes nothing."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.handlers import Caller
from shared.protocol import Full, parse_stream_message, payload_size
from shared.room_operations import Receive
from shared.settings import Settings
from tests.support.clients import Client, monaco_event
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.inline_core import memory_core, run_now
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer, start_server

MESSAGE_BYTES = 4096
DOCUMENT_UNITS = 3000
RATE = 20
VIEWERS = 3


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("limits"),
        env={
            "CODESTREAM_MAX_MESSAGE_BYTES": str(MESSAGE_BYTES),
            "CODESTREAM_MAX_DOCUMENT_UNITS": str(DOCUMENT_UNITS),
            "CODESTREAM_MESSAGES_PER_SECOND": str(RATE),
            "CODESTREAM_MAX_VIEWERS_PER_ROOM": str(VIEWERS),
        },
    )
    yield running
    assert running.stop() == 0, running.output()[-3000:]


def _padded_sync(room_id: str, size: int) -> dict[str, Any]:
    """A sync request (anyone may send one) padded with an ignored field to exactly `size` bytes."""
    payload: dict[str, Any] = {"room_id": room_id, "data": {"data": "sync"}, "pad": ""}
    payload["pad"] = "p" * (size - payload_size(payload, 10 * size))
    assert payload_size(payload, 10 * size) == size
    return payload


def _since(client: Client, before: int) -> list[dict[str, Any]]:
    return [m for m in client.messages[before:] if m.get("type") != "presence"]


async def _answers(client: Client, before: int) -> list[dict[str, Any]]:
    """What the client got since `before`, presence changes left out."""

    def answers() -> list[dict[str, Any]]:
        return [m for m in client.messages[before:] if m.get("type") != "presence"]

    await client.wait_for(answers, timeout=5)
    await asyncio.sleep(0.05)
    return answers()


async def test_message_size_edge(small: RunningServer) -> None:
    writer = await new_writer(small)
    await type_text(writer, "hi")
    viewer = await new_viewer(small, writer.room_id)
    await viewer.wait_text("hi")
    before = len(viewer.messages)
    await viewer.emit("sendToRoom", _padded_sync(writer.room_id, MESSAGE_BYTES))
    answer = await _answers(viewer, before)
    assert answer[0]["type"] == "editorMessage" and answer[0]["data"]["content"] == "hi", answer
    before = len(viewer.messages)
    await viewer.emit("sendToRoom", _padded_sync(writer.room_id, MESSAGE_BYTES + 1))
    answer = await _answers(viewer, before)
    assert answer[0]["type"] == "error" and answer[0]["code"] == "too_large", answer
    # Far past the limit the transport itself closes the connection; the server carries on.
    await viewer.emit("sendToRoom", _padded_sync(writer.room_id, 2 * MESSAGE_BYTES + 80_000))
    for _ in range(100):
        if not viewer.sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not viewer.sio.connected
    await type_text(writer, "!")
    again = await new_viewer(small, writer.room_id)
    await again.wait_text("hi!")
    for client in (writer, again):
        await client.close()


async def test_document_size_edge(small: RunningServer) -> None:
    writer = await new_writer(small)
    viewer = await new_viewer(small, writer.room_id)
    key = writer.grant["writer_key"]

    async def send(data: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(writer.messages)
        await writer.emit("sendToRoom", {"room_id": writer.room_id, "writer_key": key, "data": data})
        await writer.emit("sendToRoom", {"room_id": writer.room_id, "data": {"data": "sync"}})
        return await _answers(writer, before)

    at_limit = "a" * (DOCUMENT_UNITS - 2) + "😀"  # an emoji is 2 UTF-16 units
    answer = await send({"type": "full", "version": 1, "content": at_limit})
    assert [m["type"] for m in answer] == ["editorMessage"] and answer[0]["data"]["content"] == at_limit
    await viewer.wait_text(at_limit)
    answer = await send({"type": "full", "version": 2, "content": at_limit + "b"})
    assert answer[0]["type"] == "error" and answer[0]["code"] == "too_large", answer
    answer = await send({"type": "delta", "version": 2, "changes": [monaco_event((0, 0, "b"))]})
    assert answer[0]["type"] == "error" and answer[0]["code"] == "too_large", answer
    assert answer[-1]["data"]["content"] == at_limit  # the room kept its text
    assert viewer.text() == at_limit
    for client in (writer, viewer):
        await client.close()


async def test_messages_per_second_edge(small: RunningServer) -> None:
    writer = await new_writer(small)
    await asyncio.sleep(1.1)  # a full bucket: the join above used a token
    sync = {"room_id": writer.room_id, "data": {"data": "sync"}}
    before = len(writer.messages)
    started = time.monotonic()
    for _ in range(2 * RATE):
        await writer.emit("sendToRoom", sync)
    await writer.wait_for(lambda: len(_since(writer, before)) >= 2 * RATE, timeout=10)
    span = time.monotonic() - started  # the server may take a while when the machine is busy
    answers = _since(writer, before)
    assert [m["type"] for m in answers[:RATE]] == ["editorMessage"] * RATE, answers  # a full bucket
    # Past the bucket, only what refilled while the burst was handled may pass (RATE a second).
    passed = sum(m["type"] == "editorMessage" for m in answers)
    assert passed <= RATE + int(span * RATE) + 1, (passed, span)
    refused = [m for m in answers if m["type"] == "error"]
    assert len(refused) == 2 * RATE - passed and all(m["code"] == "rate_limited" for m in refused)
    await asyncio.sleep(1.1)  # the bucket refills
    before = len(writer.messages)
    await writer.emit("sendToRoom", sync)
    assert (await _answers(writer, before))[0]["type"] == "editorMessage"
    await writer.close()


async def test_viewers_per_room_edge(small: RunningServer) -> None:
    writer = await new_writer(small)
    viewers = [await new_viewer(small, writer.room_id) for _ in range(VIEWERS)]
    _, grant = await negotiate(small.url, room_id=writer.room_id)
    extra = Client(grant)
    await extra.connect()
    ack = await extra.join()
    assert ack["success"] is False and ack["error"]["code"] == "too_large", ack
    assert (await extra.wait_message("error"))["code"] == "too_large"
    await writer.wait_for(lambda: writer.of_type("presence")[-1]["viewers"] == VIEWERS)
    await asyncio.sleep(0.2)
    assert writer.of_type("presence")[-1]["viewers"] == VIEWERS  # the refused viewer was never counted
    await viewers[0].close()
    await writer.wait_for(lambda: writer.of_type("presence")[-1]["viewers"] == VIEWERS - 1)
    assert (await extra.join())["success"]
    for client in (writer, extra, *viewers[1:]):
        await client.close()


async def test_rooms_per_server_and_idle_expiry(tmp_path: Path) -> None:
    running = start_server(tmp_path, env={"CODESTREAM_MAX_ROOMS": "3", "CODESTREAM_ROOM_IDLE_SECONDS": "1"})
    try:
        grants = [(await negotiate(running.url))[1] for _ in range(3)]
        status, body = await negotiate(running.url)
        assert status == 413 and body["error"]["code"] == "too_large", body
        # A room with a viewer in it stays; the two empty ones are forgotten after a second or two.
        watched = Client((await negotiate(running.url, room_id=grants[0]["room_id"]))[1])
        await watched.connect()
        assert (await watched.join())["success"]
        deadline = time.monotonic() + 10
        while (await negotiate(running.url, room_id=grants[1]["room_id"]))[0] != 404:
            assert time.monotonic() < deadline, "idle room never expired"
            await asyncio.sleep(0.25)
        assert (await negotiate(running.url, room_id=grants[2]["room_id"]))[0] == 404
        assert (await negotiate(running.url, room_id=grants[0]["room_id"]))[0] == 200
        # Their places are free again: two new rooms, then the limit again.
        assert [(await negotiate(running.url))[0] for _ in range(3)] == [200, 200, 413]
        # A writer resuming a forgotten room counts against the limit too.
        status, body = await negotiate(running.url, room_id=grants[1]["room_id"], writer_key=grants[1]["writer_key"])
        assert status == 413 and body["error"]["code"] == "too_large"
        await watched.close()
    finally:
        assert running.stop() == 0


def test_expired_rooms_give_their_memory_back() -> None:
    """Expiry drops every reference to a room and its history: the objects are freed and the memory returns."""
    clock = [1000.0]
    settings = Settings(max_lifetime_seconds=60, max_rooms=1000)
    handlers = memory_core(settings, b"s" * 32, lambda: clock[0])
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        refs = []
        for i in range(200):
            room_id = f"{i:021d}A"
            run_now(handlers.create_room(room_id))
            caller = Caller(f"socket-{i}")
            run_now(handlers.join_room(caller, {"room_id": room_id}))
            run_now(handlers.store.apply(room_id, Receive(_full("x" * 5000), clock[0])))
            run_now(handlers.disconnected(caller))
            refs.append(weakref.ref(handlers.store.rooms[room_id]))  # type: ignore[attr-defined]
        grown = tracemalloc.get_traced_memory()[0] - baseline
        assert grown > 200 * 10_000  # 5,000 UTF-16 units each
        clock[0] += 59
        assert run_now(handlers.sweep()) == []  # their lifetime has not run out yet
        clock[0] += 2
        assert len(run_now(handlers.sweep())) == 200  # each: `deleted` to its room (nobody is left to disconnect)
        gc.collect()
        assert all(ref() is None for ref in refs)
        left = tracemalloc.get_traced_memory()[0] - baseline
        assert left < grown / 10, (left, grown)
        assert run_now(handlers.store.count()) == 0
    finally:
        tracemalloc.stop()


def _full(content: str) -> Full:
    full = parse_stream_message({"type": "full", "version": 1, "content": content}, Settings())
    assert isinstance(full, Full)
    return full
