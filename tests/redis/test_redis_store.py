"""The Redis room store on its own: atomic updates across clients, sockets, lost processes."""

from __future__ import annotations

import asyncio
import time

import pytest

from selfhost import redis_store
from selfhost.redis_store import RedisRoomStore
from shared.capabilities import new_room_id
from shared.protocol import parse_stream_message
from shared.room_operations import Create, Join, Receive, Refused
from shared.settings import Settings

SETTINGS = Settings(max_document_units=100)


@pytest.fixture
async def stores(redis_url: str):
    # Two stores, two connection pools: as two processes would see Redis.
    pair = [RedisRoomStore.from_url(redis_url, SETTINGS) for _ in range(2)]
    yield pair
    for store in pair:
        await store.close()


async def test_create_read_and_count(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room_id = new_room_id()
    before = await a.count()
    assert await a.apply(room_id, Create(1.0)) is True
    assert await b.apply(room_id, Create(2.0)) is False  # taken, and left as it was
    assert await b.read(room_id, lambda r: (r.room_id, r.last_active)) == (room_id, 1.0)
    assert await b.read("A" * 22, lambda r: r) is None
    assert await b.count() == before + 1


async def test_concurrent_operations_from_two_processes_lose_nothing(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room_id = new_room_id()
    await a.apply(room_id, Create(0.0))

    async def join(store: RedisRoomStore, i: int) -> object:
        return await store.apply(room_id, Join(f"socket-{i}", "viewer", 1.0))

    # Without the lock, read-modify-write from two clients would drop most of these.
    results = await asyncio.gather(*(join(a if i % 2 else b, i) for i in range(60)))
    assert all(results)
    assert await a.read(room_id, lambda r: len(r.viewers)) == 60


async def test_a_refused_operation_keeps_the_room_and_a_write_makes_a_forgotten_one(
    stores: list[RedisRoomStore],
) -> None:
    a, b = stores
    room_id = new_room_id()

    def full(text: str, version: int) -> Receive:
        return Receive(parse_stream_message({"type": "full", "version": version, "content": text}, SETTINGS), 1.0)

    await a.apply(room_id, full("kept", 1))  # no room yet: the writer's message makes it
    refused = await b.apply(room_id, full("x" * 101, 2))
    assert isinstance(refused, Refused) and refused.error.code == "too_large"
    assert await a.read(room_id, lambda r: (r.document.text(), r.tracker.version)) == ("kept", 1)
    assert await a.apply("A" * 22, Join("v", "viewer", 1.0)) is None  # a viewer makes no room
    assert await a.read("A" * 22, lambda r: r) is None


async def test_sockets_are_bound_per_process_and_unbound_once(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    await a.bind_socket("sid-1", "room-x")
    assert await b.socket_room("sid-1") == "room-x"
    assert await b.unbind_socket("sid-1") == "room-x"
    assert await a.unbind_socket("sid-1") is None
    assert await a.socket_room("sid-1") is None


async def test_idle_rooms_expire_and_busy_ones_stay(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    idle, busy = new_room_id(), new_room_id()
    long_ago = time.time() - 3600
    await a.apply(idle, Create(long_ago))
    await a.apply(busy, Join("sid", "writer", long_ago))
    assert await b.expire_idle(time.time(), 60) >= 1
    assert await a.read(idle, lambda r: r) is None
    assert await a.read(busy, lambda r: r.writers) == {"sid"}


async def test_sockets_of_a_dead_process_are_handed_over(
    stores: list[RedisRoomStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "NODE_TTL_MS", 300)
    monkeypatch.setattr(redis_store, "HEARTBEAT_SECONDS", 0.05)
    dying, survivor = stores
    beats = dying.lost_sockets()
    heartbeat = asyncio.create_task(anext(beats))  # marks `dying` alive, then waits for dead peers
    await asyncio.sleep(0.1)
    await dying.bind_socket("sid-dead", "room-y")
    heartbeat.cancel()  # the process stops beating: it "died"
    lost = survivor.lost_sockets()
    found = await asyncio.wait_for(anext(lost), 5)
    assert found == "sid-dead"
    assert await survivor.unbind_socket(found) == "room-y"  # what `disconnected` does
    await lost.aclose()
    await beats.aclose()
