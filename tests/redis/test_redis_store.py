"""The Redis room store on its own: atomic updates across clients, the sweep, End and Delete,
sockets, lost processes."""

from __future__ import annotations

import asyncio

import pytest

from selfhost import redis_history, redis_store
from selfhost.redis_store import RedisRoomStore
from shared.capabilities import new_room_id
from shared.history import Recorder
from shared.protocol import parse_stream_message
from shared.room_operations import Create, Delete, Deleted, End, Ended, Join, Receive, Refused
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


def full(text: str, version: int, at: float) -> Receive:
    return Receive(parse_stream_message({"type": "full", "version": version, "content": text}, SETTINGS), at)


async def test_sweep_forgets_blank_idle_rooms_and_deletes_expired_streams(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    quiet, busy, watched = new_room_id(), new_room_id(), new_room_id()
    ours = {quiet, busy, watched}

    async def sweep(store: RedisRoomStore, now: float) -> list[tuple[str, list[str]]]:
        return [found for found in await store.sweep(now) if found[0] in ours]  # other tests' rooms share Redis

    await a.apply(quiet, Create(0.0))  # blank and quiet: forgotten
    await a.apply(busy, Create(50.0, lifetime=3600))  # blank but busy
    await a.apply(watched, Join("v", "writer", 0.0))
    assert await sweep(b, 3600.0) == []  # the idle timeout
    assert await a.redis.exists(f"codestream:room:{quiet}") == 0
    await a.apply(busy, full("x", 1, 60.0))
    assert await a.read_text(busy) is not None
    assert await sweep(b, 3649.0) == []
    assert await sweep(b, 3650.0) == [(busy, [])]  # its lifetime ran out
    assert await sweep(a, 3650.0) == []  # once
    assert await a.read(busy, lambda room: room) is None and await b.read_text(busy) is None
    assert not await a.redis.sismember("codestream:rooms", busy)  # the tombstone does not count
    assert await a.apply(busy, Join("w", "writer", 3651.0)) is None  # nor can its writer bring it back
    refused = await b.apply(busy, full("y", 2, 3652.0))
    assert isinstance(refused, Refused) and refused.error.code == "room_not_found"
    assert await b.read_text(busy) is None  # and a refused write records nothing
    assert await sweep(a, 3650.0 + SETTINGS.max_lifetime_seconds) == [(watched, ["v"])]  # its default lifetime
    assert await a.redis.exists(f"codestream:room:{busy}") == 0  # the tombstone, past its time, is gone too


async def test_two_processes_sweeping_at_once_delete_each_room_once(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    rooms = [new_room_id() for _ in range(30)]
    for i, room_id in enumerate(rooms):
        await a.apply(room_id, Join(f"w{i}", "writer", 0.0))
        await a.apply(room_id, full(f"text {i}", 1, 1.0))
    now = 2.0 + SETTINGS.default_lifetime
    found = await asyncio.gather(a.sweep(now), b.sweep(now), a.sweep(now), b.sweep(now))
    swept = sorted(item for one in found for item in one if item[0] in set(rooms))
    assert swept == sorted((room_id, [f"w{i}"]) for i, room_id in enumerate(rooms))
    for room_id in rooms:
        assert await b.read(room_id, lambda room: room) is None
        assert await b.read_text(room_id) is None


async def test_delete_leaves_a_tombstone_and_no_history_in_the_same_step(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room_id = new_room_id()
    await a.apply(room_id, Join("w", "writer", 0.0))
    await a.apply(room_id, Join("v", "viewer", 0.0))
    await a.apply(room_id, full("secret", 1, 1.0))
    deleted = await b.apply(room_id, Delete(2.0))
    assert deleted == Deleted(["v", "w"])
    assert await a.read(room_id, lambda room: room) is None
    assert await a.read_text(room_id) is None and await a.read_page(room_id, None, 10) is None
    assert not await a.redis.exists(*redis_history.keys(room_id))
    assert await a.redis.sismember("codestream:tombstones", room_id)
    assert await b.apply(room_id, Delete(3.0)) is None


async def test_end_keeps_what_the_recorder_held(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room_id = new_room_id()
    clock = iter([0.0, 0.0, 0.01, 0.01, 0.01])
    a.recorder = Recorder(clock=lambda: next(clock, 0.02))
    cursor = {"type": "cursor", "version": 1, "selections": [{"anchor": 1, "head": 1}]}
    await a.apply(room_id, full("x", 1, 1.0))
    await a.apply(room_id, Receive(parse_stream_message(cursor, SETTINGS), 1.0))  # kept
    await a.apply(room_id, Receive(parse_stream_message({**cursor, "selections": []}, SETTINGS), 1.0))  # waits
    assert await a.apply(room_id, End(5.0)) == Ended(5.0)
    page = await b.read_page(room_id, None, 10)
    assert page is not None and [e.message["type"] for e in page.entries] == ["full", "cursor", "cursor"]
    refused = await b.apply(room_id, full("y", 2, 6.0))
    assert isinstance(refused, Refused) and refused.error.code == "unauthorized"
    assert await b.apply(room_id, End(7.0)) == Ended(5.0)


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


async def test_a_damaged_room_is_left_as_it_is_and_the_sweep_goes_on(stores: list[RedisRoomStore]) -> None:
    a, _ = stores
    damaged, expired = new_room_id(), new_room_id()
    await a.redis.set(f"codestream:room:{damaged}", b"{not a room")
    await a.redis.zadd("codestream:sweep", {damaged: 0})
    await a.apply(expired, full("x", 1, 0.0))
    swept = await a.sweep(1.0 + SETTINGS.default_lifetime)
    assert (expired, []) in swept and damaged not in [room_id for room_id, _ in swept]
    assert await a.redis.get(f"codestream:room:{damaged}") == b"{not a room"
    assert not await a.redis.exists(f"codestream:lock:{damaged}")  # released: the next sweep tries again


async def test_rooms_missing_from_the_sweep_index_are_swept_after_a_restart(
    stores: list[RedisRoomStore], redis_url: str
) -> None:
    a, _ = stores
    room_id = new_room_id()
    await a.sweep(0.0)  # this process has indexed what it found
    await a.apply(room_id, full("x", 1, 0.0))
    await a.redis.zrem("codestream:sweep", room_id)  # as saved by a codestream before the index
    now = 1.0 + SETTINGS.default_lifetime
    assert room_id not in [r for r, _ in await a.sweep(now)]  # indexed once per process
    restarted = RedisRoomStore.from_url(redis_url, SETTINGS)
    try:
        assert (room_id, []) in await restarted.sweep(now)
        assert await restarted.redis.zscore("codestream:sweep", room_id) == SETTINGS.max_lifetime_seconds + now
    finally:
        await restarted.close()
