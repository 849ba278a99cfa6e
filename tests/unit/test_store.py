"""MemoryRoomStore: operations applied atomically, reads, socket bindings, limits, expiry."""

from __future__ import annotations

import pytest

from shared.protocol import ProtocolError, parse_stream_message
from shared.room import Received
from shared.room_operations import Create, Join, Leave, Receive, Refused
from shared.settings import Settings
from shared.store import MemoryRoomStore, create_within_limit

ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
OTHER = "BBBBBBBBBBBBBBBBBBBBBA"
THIRD = "CCCCCCCCCCCCCCCCCCCCCA"
SETTINGS = Settings(max_document_units=100)


def store() -> MemoryRoomStore:
    return MemoryRoomStore(SETTINGS)


def full(text: str, version: int = 1) -> Receive:
    return Receive(parse_stream_message({"type": "full", "version": version, "content": text}, SETTINGS), 5.0)


async def test_create_once() -> None:
    s = store()
    assert await s.apply(ROOM, Create(1.0)) is True
    first = s.rooms[ROOM]
    assert await s.apply(ROOM, Create(2.0)) is False
    assert s.rooms[ROOM] is first and first.last_active == 1.0


async def test_read_unknown_is_none_and_a_viewer_makes_no_room() -> None:
    s = store()
    assert await s.read(ROOM, lambda room: True) is None
    assert await s.apply(ROOM, Join("v", "viewer", 1.0)) is None
    assert await s.apply(ROOM, Leave("v", 1.0)) is None
    assert s.rooms == {}


async def test_operations_change_the_stored_room() -> None:
    s = store()
    await s.apply(ROOM, Create(0.0))
    await s.apply(ROOM, Join("s1", "viewer", 1.0))
    assert await s.read(ROOM, lambda room: sorted(room.viewers)) == ["s1"]
    assert await s.read(ROOM, lambda room: False) is False  # a falsy view is not "no room"
    assert await s.apply(ROOM, Leave("s1", 2.0)) == {
        "type": "presence",
        "room_id": ROOM,
        "viewers": 0,
        "writer": "offline",
    }


async def test_a_write_makes_a_forgotten_room_and_a_refusal_keeps_the_room() -> None:
    s = store()
    received = await s.apply(ROOM, full("hello"))
    assert isinstance(received, Received) and await s.read(ROOM, lambda room: room.document.text()) == "hello"
    refused = await s.apply(ROOM, full("x" * 101, version=2))
    assert isinstance(refused, Refused) and refused.error.code == "too_large"
    assert await s.read(ROOM, lambda room: (room.document.text(), room.tracker.version)) == ("hello", 1)


async def test_socket_bindings() -> None:
    s = store()
    assert await s.socket_room("s1") is None
    await s.bind_socket("s1", ROOM)
    await s.bind_socket("s2", OTHER)
    assert await s.socket_room("s1") == ROOM
    assert await s.unbind_socket("s1") == ROOM
    assert await s.unbind_socket("s1") is None
    assert await s.socket_room("s1") is None
    assert await s.socket_room("s2") == OTHER


async def test_count_and_create_within_limit() -> None:
    s = store()
    assert await s.count() == 0
    assert await create_within_limit(s, ROOM, 0.0, 2) is True
    assert await create_within_limit(s, ROOM, 0.0, 2) is False  # exists
    assert await create_within_limit(s, OTHER, 0.0, 2) is True
    with pytest.raises(ProtocolError) as caught:
        await create_within_limit(s, THIRD, 0.0, 2)
    assert (caught.value.code, caught.value.message) == ("too_large", "this server holds 2 rooms at most; try later")
    assert await s.count() == 2
    assert await create_within_limit(s, THIRD, 0.0, None) is True


async def test_sweep_forgets_blank_idle_rooms_and_deletes_expired_streams() -> None:
    s = store()
    await s.apply(ROOM, Create(0.0))  # blank and quiet: forgotten
    await s.apply(OTHER, Create(50.0, lifetime=3600))  # blank but busy
    await s.apply(THIRD, Join("v", "writer", 0.0))  # watched
    assert await s.sweep(3600.0) == []  # the idle timeout
    assert sorted(s.rooms) == sorted([OTHER, THIRD])
    await s.apply(OTHER, Receive(parse_stream_message({"type": "full", "version": 1, "content": "x"}, SETTINGS), 60.0))
    assert await s.sweep(3649.0) == []
    assert await s.sweep(3650.0) == [(OTHER, [])]  # its lifetime ran out
    assert await s.read(OTHER, lambda room: room) is None and await s.read_text(OTHER) is None
    assert await s.count() == 1  # the tombstone does not count
    assert await s.apply(OTHER, Join("w", "writer", 3651.0)) is None  # nor can its writer bring it back
    assert await s.sweep(3650.0 + SETTINGS.max_lifetime_seconds) == [(THIRD, ["v"])]  # its default lifetime
    assert OTHER not in s.rooms  # the tombstone, past its time, is gone too
