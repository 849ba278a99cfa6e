"""Where rooms live: the interface the handlers use, and its in-memory implementation.

A store also remembers which room each socket joined, so that `disconnected` (which
carries only a socket id) can update the room's presence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from .protocol import ProtocolError
from .room import Room

T = TypeVar("T")


class RoomStore(Protocol):
    async def create(self, room: Room) -> bool:
        """Store a new room; False (and nothing changed) if one with its id exists."""
        ...

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        """`view(room)` on the stored room, or None when there is no such room."""
        ...

    async def update(self, room_id: str, change: Callable[[Room], T]) -> T | None:
        """Run `change(room)` atomically and keep its effect (also when it raises).

        None when there is no such room. `change` must be quick and must not await.
        """
        ...

    async def count(self) -> int:
        """How many rooms are stored."""
        ...

    async def expire_idle(self, now: float, idle_seconds: float) -> int:
        """Delete the rooms that `Room.is_idle`; how many were deleted."""
        ...

    async def bind_socket(self, socket_id: str, room_id: str) -> None: ...

    async def socket_room(self, socket_id: str) -> str | None: ...

    async def unbind_socket(self, socket_id: str) -> str | None:
        """Forget the socket; the room it was in, if any."""
        ...


async def create_within_limit(store: RoomStore, room: Room, max_rooms: int | None) -> bool:
    """Create `room` unless the store holds `max_rooms` already (ProtocolError too_large)."""
    if max_rooms is not None and await store.count() >= max_rooms:
        raise ProtocolError("too_large", f"this server holds {max_rooms} rooms at most; try later")
    return await store.create(room)


class MemoryRoomStore:
    """Rooms in this process's memory: the self-hosted default and the tests' store."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.sockets: dict[str, str] = {}

    async def create(self, room: Room) -> bool:
        if room.room_id in self.rooms:
            return False
        self.rooms[room.room_id] = room
        return True

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        room = self.rooms.get(room_id)
        return None if room is None else view(room)

    async def update(self, room_id: str, change: Callable[[Room], T]) -> T | None:
        # One event loop and no await inside `change`: nothing else runs meanwhile.
        room = self.rooms.get(room_id)
        return None if room is None else change(room)

    async def count(self) -> int:
        return len(self.rooms)

    async def expire_idle(self, now: float, idle_seconds: float) -> int:
        idle = [room_id for room_id, room in self.rooms.items() if room.is_idle(now, idle_seconds)]
        for room_id in idle:
            del self.rooms[room_id]
        return len(idle)

    async def bind_socket(self, socket_id: str, room_id: str) -> None:
        self.sockets[socket_id] = room_id

    async def socket_room(self, socket_id: str) -> str | None:
        return self.sockets.get(socket_id)

    async def unbind_socket(self, socket_id: str) -> str | None:
        return self.sockets.pop(socket_id, None)
