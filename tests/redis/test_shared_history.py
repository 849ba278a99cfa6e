"""Two `python -m selfhost --redis-url` processes, one history: what A recorded, B serves the same.

The writer streams through process A only; B never sees a message of it. B's
`GET /api/rooms/{id}/history` must still give A's entries, entry for entry, its `text` the
writer's text at every version, and a `DELETE` through B must leave nothing for A to serve.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import aiohttp

from selfhost import redis_history
from selfhost.redis_store import RedisRoomStore
from shared.settings import Settings
from tests.support.clients import Writer
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer

StartNode = Callable[[], RunningServer]


async def get(server: RunningServer, path: str, **query: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(server.url + path, params=query) as response:
        return response.status, await response.json()


async def history(server: RunningServer, room_id: str, limit: int) -> list[dict[str, Any]]:
    """Every entry, page by page."""
    entries: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": limit}
    while True:
        status, body = await get(server, f"/api/rooms/{room_id}/history", **query)
        assert status == 200, body
        entries += body["entries"]
        if body["next_after"] is None:
            return entries
        query["after"] = body["next_after"]


async def move_cursor(writer: Writer, offset: int) -> None:
    selection = {"anchor": offset, "head": offset}
    await writer.emit(
        "sendToRoom", writer._payload({"type": "cursor", "version": writer.version, "selections": [selection]})
    )


async def test_history_recorded_through_a_is_served_the_same_by_b(start_node: StartNode, redis_url: str) -> None:
    a, b = start_node(), start_node()
    writer = await new_writer(a)
    room_id, text = writer.room_id, "def f():\r\n\treturn '😀'\n"
    texts = [""]
    for char in text:
        await type_text(writer, char)
        texts.append(writer.text())
        if char == "\n":
            await move_cursor(writer, 0)  # cursors sampled; the last one waits for A's record_due
    await move_cursor(writer, 3)

    async def recorded() -> list[dict[str, Any]]:
        while True:
            entries = await history(b, room_id, 1000)
            if entries and entries[-1]["message"]["type"] == "cursor" and entries[-1]["version"] == len(text):
                return entries
            await asyncio.sleep(0.05)

    entries = await asyncio.wait_for(recorded(), 10)
    deltas = [e["version"] for e in entries if e["message"]["type"] == "delta"]
    assert deltas == list(range(1, len(text) + 1))
    assert await history(b, room_id, 3) == entries  # B's pages, small ones: the same entries
    assert await history(a, room_id, 1000) == entries  # and A, which recorded them, agrees
    for version, expected in enumerate(texts):
        status, body = await get(b, f"/api/rooms/{room_id}/text", version=version)
        assert status == 200 and body["content"] == expected and body["version"] == version

    async with (
        aiohttp.ClientSession() as session,
        session.delete(
            f"{b.url}/api/rooms/{room_id}", headers={"Authorization": f"Bearer {writer.grant['writer_key']}"}
        ) as response,
    ):
        assert response.status == 200
    for server in (a, b):
        assert (await get(server, f"/api/rooms/{room_id}/history"))[0] == 404
        assert (await get(server, f"/api/rooms/{room_id}/text"))[0] == 404
    reader = RedisRoomStore.from_url(redis_url, Settings())
    try:  # gone from Redis too, not only hidden behind the tombstone
        assert not await reader.redis.exists(*redis_history.keys(room_id))
    finally:
        await reader.close()
    await writer.close()


async def test_a_writer_moving_from_a_killed_process_to_b_keeps_one_history(
    start_node: StartNode, redis_url: str
) -> None:
    a, b = start_node(), start_node()
    writer = await new_writer(a)
    texts = [""]
    for char in "one\n":
        await type_text(writer, char)
        texts.append(writer.text())
    witness = await new_viewer(b, writer.room_id)
    await witness.wait_text("one\n")  # in Redis, with its history: saved in the same step

    a.stop(signal.SIGKILL)
    status, grant = await negotiate(b.url, room_id=writer.room_id, writer_key=writer.grant["writer_key"])
    assert status == 200 and grant["role"] == "writer"
    moved = Writer(grant)
    moved.version, moved.document = writer.version, writer.document  # the browser keeps its editor
    await moved.connect()
    assert (await moved.join())["success"]
    for char in "two 😀\n":
        await type_text(moved, char)
        texts.append(moved.text())
    await witness.wait_text("one\ntwo 😀\n")

    reader = RedisRoomStore.from_url(redis_url, Settings())  # a third process: only what Redis holds
    try:
        page = await reader.read_page(writer.room_id, None, 1000)
        assert page is not None
        assert [e.version for e in page.entries if e.message["type"] == "delta"] == list(range(1, len(texts)))
        for version, expected in enumerate(texts):
            snapshot = await reader.read_text(writer.room_id, version)
            assert snapshot is not None and (snapshot.version, snapshot.content) == (version, expected)
        # B's recorder had not seen the room: its first change kept a checkpoint of its own.
        assert await reader.redis.zcard(redis_history.keys(writer.room_id)[1]) == 2
    finally:
        await reader.close()
    for client in (moved, witness):
        await client.close()
