"""MemoryRoomStore: create, read, update (atomic, effect kept on raise) and socket bindings."""

from __future__ import annotations

import pytest

from shared.protocol import ProtocolError
from shared.room import Room
from shared.room import new_room as make_room
from shared.settings import Settings
from shared.store import MemoryRoomStore, create_within_limit

ROOM = "AAAAAAAAAAAAAAAAAAAAAA"


def new_room(room_id: str = ROOM) -> Room:
    return make_room(room_id, Settings(max_document_units=100))


async def test_create_once() -> None:
    store = MemoryRoomStore()
    first = new_room()
    assert await store.create(first) is True
    assert await store.create(new_room()) is False
    assert store.rooms[ROOM] is first


async def test_read_unknown_is_none() -> None:
    store = MemoryRoomStore()
    assert await store.read(ROOM, lambda room: True) is None
    assert await store.update(ROOM, lambda room: True) is None


async def test_read_and_update() -> None:
    store = MemoryRoomStore()
    await store.create(new_room())
    assert await store.read(ROOM, lambda room: room.room_id) == ROOM
    assert await store.update(ROOM, lambda room: room.add("s1", "viewer")) is True
    assert await store.read(ROOM, lambda room: sorted(room.viewers)) == ["s1"]
    assert await store.read(ROOM, lambda room: False) is False  # a falsy view is not "no room"


async def test_update_keeps_its_effect_when_it_raises() -> None:
    store = MemoryRoomStore()
    await store.create(new_room())

    def change(room: Room) -> None:
        room.language = "go"
        raise RuntimeError("after the change")

    with pytest.raises(RuntimeError, match="after the change"):
        await store.update(ROOM, change)
    assert await store.read(ROOM, lambda room: room.language) == "go"


async def test_socket_bindings() -> None:
    store = MemoryRoomStore()
    assert await store.socket_room("s1") is None
    await store.bind_socket("s1", ROOM)
    await store.bind_socket("s2", "BBBBBBBBBBBBBBBBBBBBBA")
    assert await store.socket_room("s1") == ROOM
    assert await store.unbind_socket("s1") == ROOM
    assert await store.unbind_socket("s1") is None
    assert await store.socket_room("s1") is None
    assert await store.socket_room("s2") == "BBBBBBBBBBBBBBBBBBBBBA"


async def test_count_and_create_within_limit() -> None:
    store = MemoryRoomStore()
    assert await store.count() == 0
    assert await create_within_limit(store, new_room(), 2) is True
    assert await create_within_limit(store, new_room(), 2) is False  # exists
    assert await create_within_limit(store, new_room("BBBBBBBBBBBBBBBBBBBBBA"), 2) is True
    with pytest.raises(ProtocolError) as caught:
        await create_within_limit(store, new_room("CCCCCCCCCCCCCCCCCCCCCA"), 2)
    assert (caught.value.code, caught.value.message) == ("too_large", "this server holds 2 rooms at most; try later")
    assert await store.count() == 2
    assert await create_within_limit(store, new_room("CCCCCCCCCCCCCCCCCCCCCA"), None) is True


async def test_expire_idle_deletes_only_empty_quiet_rooms() -> None:
    store = MemoryRoomStore()
    quiet, busy, watched = new_room(), new_room("BBBBBBBBBBBBBBBBBBBBBA"), new_room("CCCCCCCCCCCCCCCCCCCCCA")
    quiet.last_active, busy.last_active, watched.last_active = 0.0, 50.0, 0.0
    watched.add("v", "viewer")
    for r in (quiet, busy, watched):
        await store.create(r)
    assert await store.expire_idle(100.0, 60.0) == 1
    assert sorted(store.rooms) == sorted([busy.room_id, watched.room_id])
    assert await store.expire_idle(100.0, 60.0) == 0
