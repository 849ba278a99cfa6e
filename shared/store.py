"""Where rooms live: the interface the handlers use, and its in-memory implementation.

Rooms change only through the named operations of `room_operations`.

A store also remembers which room each socket joined, so that `disconnected` (which
carries only a socket id) can update the room's presence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from .protocol import ProtocolError
from .room import Room
from .room_operations import Create, Operation, Result, apply
from .settings import Settings

T = TypeVar("T")


class RoomStore(Protocol):
    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        """`view(room)` on the stored room, or None when there is no such room."""
        ...

    async def apply(self, room_id: str, operation: Operation) -> Result:
        """Run the operation on the stored room, atomically, with `room_operations.apply`;
        its answer. A store that only queues operations (the Azure entities) answers a
        `Receive` with `Received(None)`: applied later, outcome unknown."""
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


async def create_within_limit(store: RoomStore, room_id: str, at: float, max_rooms: int | None) -> bool:
    """Create the room unless the store holds `max_rooms` already (ProtocolError too_large)."""
    if max_rooms is not None and await store.count() >= max_rooms:
        raise ProtocolError("too_large", f"this server holds {max_rooms} rooms at most; try later")
    return bool(await store.apply(room_id, Create(at)))


class MemoryRoomStore:
    """Rooms in this process's memory: the self-hosted default and the tests' store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rooms: dict[str, Room] = {}
        self.sockets: dict[str, str] = {}

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        room = self.rooms.get(room_id)
        return None if room is None else view(room)

    async def apply(self, room_id: str, operation: Operation) -> Result:
        # One event loop and no await in `apply`: nothing else runs meanwhile.
        room, result = apply(self.rooms.get(room_id), room_id, operation, self.settings)
        if room is None:
            self.rooms.pop(room_id, None)
        else:
            self.rooms[room_id] = room
        return result

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
