"""The rooms API on Azure (docs/API.md): function_app's routes through the worker, real sockets, Azurite.

- for the same stream, every answer equals what the self-hosted code answers (shared/rooms_api.py
  over the self-hosted store, with the same handlers, times and room);
- end: viewers and the writer hear `ended` at once, the answer repeats, a wrong key is 401;
- delete: they hear `deleted` and are disconnected, the history leaves Table storage, and
  then every endpoint answers 404 (negotiate with the writer key too);
- the timer deletes an expired room and its history, and tells its sockets.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import function_app
from azure_adapter.room_index import due_second
from azure_local.host import LocalAzure
from selfhost.sqlite_store import SqliteStore
from shared import rooms_api
from shared.capabilities import new_room_id, secret_bytes, writer_key
from shared.handlers import Caller, Handlers, Throttles
from shared.negotiate import negotiate as negotiate_core
from shared.settings import Settings
from shared.store import MemoryRoomStore
from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.negotiate import negotiate


class Clock:
    """The adapter's wall clock, set by the test: both hosts then stamp the same times."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(secret: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock(float(round(time.time())))  # now: connect checks tokens against it
    monkeypatch.setattr(function_app.adapter(), "clock", clock)
    yield clock


async def call(local: LocalAzure, method: str, path: str, key: str | None = None) -> tuple[int, Any, dict[str, str]]:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{local.base_url}/api/{path}", headers=headers) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


@contextlib.asynccontextmanager
async def writer_and_viewer(local: LocalAzure) -> AsyncIterator[tuple[Writer, Viewer]]:
    status, grant = await negotiate(local.base_url)
    assert status == 200, grant
    writer = Writer(grant)
    await writer.connect()
    await writer.join()
    _, viewing = await negotiate(local.base_url, room_id=grant["room_id"])
    viewer = Viewer(viewing)
    await viewer.connect()
    await viewer.join()
    try:
        yield writer, viewer
    finally:
        for client in (writer, viewer):
            if client.sio.connected:
                await client.close()


# What the writer sends: (seconds after the start, the message's data).
STREAM: list[tuple[float, dict[str, Any]]] = [
    (1.0, {"type": "delta", "version": 1, "changes": [monaco_event((0, 0, "print('hi')"))]}),
    (1.5, {"type": "language", "language": "python"}),
    (2.0, {"type": "delta", "version": 2, "changes": [monaco_event((11, 0, "\r\n# 😀"))]}),
    (9.0, {"type": "full", "version": 3, "content": "fresh\ntext", "language": "rust"}),
    (9.5, {"type": "delta", "version": 4, "changes": [monaco_event((5, 1, " "))]}),
    (10.0, {"type": "delta", "version": 5, "changes": [monaco_event((0, 0, ">"))]}),
]
READS = ["text", "text?version=0", "text?version=1", "text?version=2", "text?version=4", "text?version=5"]
READS += ["history", "history?limit=2", "history?after=2&limit=2", "history?after=5", "text?version=6", "text?x=1"]


def relayed(viewer: Viewer, data: dict[str, Any]) -> bool:
    """Whether the viewer has had this message of the writer's."""
    fields = ("type", "version", "language")
    return any(all(m["data"].get(f) == data.get(f) for f in fields) for m in viewer.of_type("editorMessage"))


@contextlib.asynccontextmanager
async def selfhost_store(kind: str, settings: Settings) -> AsyncIterator[MemoryRoomStore]:
    """The self-hosted server's stores: SQLite on disk (its default) and in memory."""
    if kind == "memory":
        yield MemoryRoomStore(settings)
        return
    with tempfile.TemporaryDirectory() as folder:
        store = await SqliteStore.open(Path(folder) / "db.sqlite3", settings)
        try:
            yield store
        finally:
            await store.close()


@pytest.mark.parametrize("selfhost", ["sqlite", "memory"])
async def test_the_api_answers_as_self_hosted_for_the_same_stream(
    local: LocalAzure, secret: str, clock: Clock, selfhost: str
) -> None:
    room = new_room_id()
    key = writer_key(secret_bytes(secret), room)
    start = clock.now
    status, grant = await negotiate(local.base_url, room_id=room, writer_key=key)  # makes the room
    assert status == 200, grant
    writer = Writer(grant)
    await writer.connect()
    await writer.join()
    _, viewing = await negotiate(local.base_url, room_id=room)
    viewer = Viewer(viewing)
    await viewer.connect()
    await viewer.join()
    for offset, data in STREAM:
        clock.now = start + offset
        await writer.emit("sendToRoom", {"room_id": room, "writer_key": key, "data": data})
        # Relayed once its signal is queued: settled, the entity has applied it before the next.
        await viewer.wait_for(lambda data=data: relayed(viewer, data))
        await local.durable.settle()
    azure = {read: (await call(local, "GET", f"rooms/{room}/{read}"))[:2] for read in READS}
    for client in (writer, viewer):
        await client.close()

    settings = Settings.from_env()
    async with selfhost_store(selfhost, settings) as store:
        handlers = Handlers(
            settings, secret_bytes(secret), store, Throttles.for_settings(settings, time.monotonic), clock
        )
        clock.now = start
        await negotiate_core({"room_id": room, "writer_key": key}, secret_bytes(secret), store, clock())
        await handlers.join_room(Caller("w"), {"room_id": room, "writer_key": key})
        for offset, data in STREAM:
            clock.now = start + offset
            await handlers.send_to_room(Caller("w"), {"room_id": room, "writer_key": key, "data": data})
        selfhosted = {}
        for read in READS:
            route, _, query = read.partition("?")
            if route == "text":
                answer = await rooms_api.text(store, room, query)
            else:
                answer = await rooms_api.history(store, room, query, settings)
            selfhosted[read] = (answer.status, answer.body)
    assert azure["text"][1]["content"] == ">fresh text"  # the stream reached the entity
    for read in READS:
        assert azure[read] == selfhosted[read], read


async def test_end_tells_viewers_and_the_writer_at_once(local: LocalAzure, secret: str) -> None:
    async with writer_and_viewer(local) as (writer, viewer):
        room, key = writer.room_id, writer.grant["writer_key"]
        await writer.edit(monaco_event((0, 0, "bye")))
        await viewer.wait_text("bye")
        wrong = ("x" if key[0] != "x" else "y") + key[1:]  # one character off, never the key itself
        status, body, headers = await call(local, "POST", f"rooms/{room}/end", wrong)
        assert (status, body["error"]["code"], headers.get("WWW-Authenticate")) == (401, "unauthorized", "Bearer")
        status, body, _ = await call(local, "POST", f"rooms/{room}/end", key)
        assert status == 200 and body == {"room_id": room, "ended_at": body["ended_at"]}
        for client in (viewer, writer):
            told = await client.wait_message("ended")
            assert told == {"type": "ended", "room_id": room, "at": body["ended_at"]}
        await local.durable.settle()
        again = await call(local, "POST", f"rooms/{room}/end", key)
        assert again[:2] == (200, body)  # the first end's time
        status, history, _ = await call(local, "GET", f"rooms/{room}/history")
        assert status == 200 and history["ended"] is True and history["ended_at"] == body["ended_at"]
        assert [e["message"]["type"] for e in history["entries"]] == ["delta"]
        await writer.edit(monaco_event((3, 0, "!")))  # relayed unread (docs/AZURE.md), but never kept
        await local.durable.settle()
        status, text, _ = await call(local, "GET", f"rooms/{room}/text")
        assert (status, text["content"], text["version"]) == (200, "bye", 1)


async def test_delete_tells_viewers_disconnects_them_and_leaves_nothing(local: LocalAzure, secret: str) -> None:
    async with writer_and_viewer(local) as (writer, viewer):
        room, key = writer.room_id, writer.grant["writer_key"]
        await writer.edit(monaco_event((0, 0, "secret")))
        await viewer.wait_text("secret")
        await local.durable.settle()
        assert function_app.storage().history.read_text(room) is not None
        assert (await call(local, "DELETE", f"rooms/{room}"))[0] == 401
        status, body, _ = await call(local, "DELETE", f"rooms/{room}", key)
        assert (status, body) == (200, {"room_id": room, "deleted": True})
        for client in (viewer, writer):
            assert (await client.wait_message("deleted")) == {"type": "deleted", "room_id": room}
            await client.wait_for(lambda c=client: not c.sio.connected)
        await local.durable.settle()
    assert function_app.storage().history.read_text(room) is None
    for method, path in [("GET", "text"), ("GET", "history"), ("POST", "end")]:
        status, body, _ = await call(local, method, f"rooms/{room}/{path}", key)
        assert (status, body["error"]["code"]) == (404, "room_not_found"), path
    assert (await call(local, "DELETE", f"rooms/{room}", key))[0] == 404
    assert (await negotiate(local.base_url, room_id=room, writer_key=key))[0] == 404
    assert (await negotiate(local.base_url, room_id=room))[0] == 404


async def test_the_timer_deletes_an_expired_room_and_its_history(local: LocalAzure, secret: str, clock: Clock) -> None:
    async with writer_and_viewer(local) as (writer, viewer):
        room = writer.room_id
        await writer.edit(monaco_event((0, 0, "short-lived")))
        await viewer.wait_text("short-lived")
        await local.durable.settle()
        expires_at = (await call(local, "GET", f"rooms/{room}/history"))[1]["expires_at"]
        await local.fire_timer("sweep")  # not yet expired: nothing happens
        await local.durable.settle()
        assert (await call(local, "GET", f"rooms/{room}/text"))[0] == 200
        clock.now = expires_at + 1
        await local.fire_timer("sweep")
        for client in (viewer, writer):
            assert (await client.wait_message("deleted")) == {"type": "deleted", "room_id": room}
            await client.wait_for(lambda c=client: not c.sio.connected)
        await local.durable.settle()
    assert function_app.storage().history.read_text(room) is None
    assert (await call(local, "GET", f"rooms/{room}/text"))[0] == 404
    index = function_app.storage().index
    assert local.durable.state("Room", room)["deleted_at"] == clock.now  # the tombstone: its key opens nothing
    drop_at = clock.now + Settings.from_env().max_lifetime_seconds
    assert [(d.room_id, d.at) for d in index.due(drop_at + 1) if d.room_id == room] == [(room, due_second(drop_at))]
    clock.now = drop_at - 1  # the tombstone's time has not come
    await local.fire_timer("sweep")
    await local.durable.settle()
    assert local.durable.state("Room", room) is not None
    clock.now = drop_at + 1
    await local.fire_timer("sweep")
    await local.durable.settle()
    assert local.durable.state("Room", room) is None  # dropped without a trace
    assert [d for d in index.due(drop_at + 10**6) if d.room_id == room] == []
