"""The Redis room store on its own: atomic updates across clients, sockets, lost processes."""

from __future__ import annotations

import asyncio
import time

import pytest

from selfhost import redis_store
from selfhost.redis_store import RedisRoomStore
from shared.capabilities import new_room_id
from shared.room import Room
from shared.room import new_room as make_room
from shared.settings import Settings

SETTINGS = Settings()


def new_room() -> Room:
    return make_room(new_room_id(), SETTINGS)


@pytest.fixture
async def stores(redis_url: str):
    # Two stores, two connection pools: as two processes would see Redis.
    pair = [RedisRoomStore.from_url(redis_url, SETTINGS) for _ in range(2)]
    yield pair
    for store in pair:
        await store.close()


async def test_create_read_and_count(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room()
    before = await a.count()
    assert await a.create(room)
    assert not await b.create(new_room_with_id(room.room_id))  # taken, and left as it was
    assert await b.read(room.room_id, lambda r: r.room_id) == room.room_id
    assert await b.read("A" * 22, lambda r: r) is None
    assert await b.count() == before + 1


def new_room_with_id(room_id: str) -> Room:
    return make_room(room_id, SETTINGS)


async def test_concurrent_updates_from_two_processes_lose_nothing(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room()
    await a.create(room)

    async def join(store: RedisRoomStore, i: int) -> bool | None:
        return await store.update(room.room_id, lambda r: r.add(f"socket-{i}", "viewer"))

    # Without the lock, read-modify-write from two clients would drop most of these.
    results = await asyncio.gather(*(join(a if i % 2 else b, i) for i in range(60)))
    assert all(results)
    assert await a.read(room.room_id, lambda r: len(r.viewers)) == 60


async def test_update_keeps_its_effect_when_the_change_raises(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room()
    await a.create(room)

    def change(r: Room) -> None:
        r.language = "python"
        raise ValueError("refused after a change")

    with pytest.raises(ValueError):
        await a.update(room.room_id, change)
    assert await b.read(room.room_id, lambda r: r.language) == "python"
    assert await a.update("A" * 22, lambda r: r) is None  # no such room


async def test_sockets_are_bound_per_process_and_unbound_once(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    await a.bind_socket("sid-1", "room-x")
    assert await b.socket_room("sid-1") == "room-x"
    assert await b.unbind_socket("sid-1") == "room-x"
    assert await a.unbind_socket("sid-1") is None
    assert await a.socket_room("sid-1") is None


async def test_idle_rooms_expire_and_busy_ones_stay(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    idle, busy = new_room(), new_room()
    busy.add("sid", "viewer")
    for room in (idle, busy):
        room.last_active = time.time() - 3600
        await a.create(room)
    assert await b.expire_idle(time.time(), 60) >= 1
    assert await a.read(idle.room_id, lambda r: r) is None
    assert await a.read(busy.room_id, lambda r: r.viewers) == {"sid"}


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
