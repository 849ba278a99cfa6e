"""Where rooms live: the interface the handlers use, and its in-memory implementation.

Rooms change only through the named operations of `room_operations`.

A store also remembers which room each socket joined, so that `disconnected` (which
carries only a socket id) can update the room's presence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from .history import Entry, Page, Recorder, Snapshot
from .history_store import MemoryHistoryStore
from .protocol import ProtocolError
from .room import Room
from .room_operations import Create, Deleted, Operation, Result, apply, sweep_verdict
from .settings import Settings

T = TypeVar("T")


Swept = list[tuple[str, list[str]]]  # (room id, the sockets that were in it)


class RoomStore(Protocol):
    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        """`view(room)` on the stored room, or None when there is no such room (or a tombstone)."""
        ...

    async def apply(self, room_id: str, operation: Operation) -> Result:
        """Run the operation on the stored room, atomically, with `room_operations.apply`;
        its answer. A store that only queues operations (the Azure entities) answers a
        `Receive` with `Received(None)`: applied later, outcome unknown.

        The room's history is written in the same update: what `Recorder.after` gives, and
        after a `Delete` the history is deleted."""
        ...

    async def count(self) -> int:
        """How many rooms are stored (tombstones not counted)."""
        ...

    async def sweep(self, now: float) -> Swept:
        """Apply `room_operations.sweep_verdict` to every room: the rooms deleted, with their sockets."""
        ...

    async def record_due(self) -> None:
        """Append the sampled cursors whose turn came (`Recorder.due`); call it about every 0.25 s."""
        ...

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        """The room's text at `version` (None: the latest); None when it has no history."""
        ...

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        """The room's history after `after` (`history.page`); None when it has no history."""
        ...

    async def bind_socket(self, socket_id: str, room_id: str) -> None: ...

    async def socket_room(self, socket_id: str) -> str | None: ...

    async def unbind_socket(self, socket_id: str) -> str | None:
        """Forget the socket; the room it was in, if any."""
        ...


def live(room: Room | None) -> Room | None:
    """The room, unless it is none or a tombstone: what `read` shows."""
    return None if room is None or room.deleted_at is not None else room


async def create_within_limit(
    store: RoomStore, room_id: str, at: float, max_rooms: int | None, lifetime: float | None = None
) -> bool:
    """Create the room unless the store holds `max_rooms` already (ProtocolError too_large)."""
    if max_rooms is not None and await store.count() >= max_rooms:
        raise ProtocolError("too_large", f"this server holds {max_rooms} rooms at most; try later")
    return bool(await store.apply(room_id, Create(at, lifetime)))


class MemoryRoomStore:
    """Rooms and their histories in this process's memory: the tests' store, and the working
    copy of the SQLite store (selfhost/sqlite_store.py), which overrides the history methods
    to keep them on disk and `_drop` to forget a room there too."""

    def __init__(self, settings: Settings, recorder: Recorder | None = None) -> None:
        self.settings = settings
        self.rooms: dict[str, Room] = {}
        self.sockets: dict[str, str] = {}
        self.recorder = recorder or Recorder()
        self.history = MemoryHistoryStore()

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        room = live(self.rooms.get(room_id))
        return None if room is None else view(room)

    async def apply(self, room_id: str, operation: Operation) -> Result:
        # One event loop, and the room's change and its history's queueing never wait:
        # nothing else runs meanwhile.
        room, result = apply(self.rooms.get(room_id), room_id, operation, self.settings)
        if room is None:
            self.rooms.pop(room_id, None)
        else:
            self.rooms[room_id] = room
        if isinstance(result, Deleted):
            self.recorder.forget(room_id)
            await self.delete_history(room_id)
            return result
        recording = self.recorder.after(room, operation)
        if recording.entries:
            await self.append(room_id, recording.entries)
        if recording.checkpoint is not None:
            await self.checkpoint(room_id, recording.checkpoint)
        return result

    async def count(self) -> int:
        return sum(1 for room in self.rooms.values() if room.deleted_at is None)

    async def sweep(self, now: float) -> Swept:
        swept: Swept = []
        for room_id, room in list(self.rooms.items()):
            verdict = sweep_verdict(room, now, self.settings)
            if verdict is True:
                self.recorder.forget(room_id)
                self._drop(room_id)
            elif verdict is not None:
                deleted = await self.apply(room_id, verdict)
                assert isinstance(deleted, Deleted)
                swept.append((room_id, deleted.sockets))
        return swept

    async def record_due(self) -> None:
        for room_id in self.recorder.rooms():
            entries = self.recorder.due(room_id)
            if entries and room_id in self.rooms:
                await self.append(room_id, entries)

    def _drop(self, room_id: str) -> None:
        """Forget a room (and its history) without a trace."""
        self.rooms.pop(room_id, None)
        self.history.rooms.pop(room_id, None)

    # --- the history (HistoryStore) ---

    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        await self.history.append(room_id, entries)

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        await self.history.checkpoint(room_id, snapshot)

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        return await self.history.read_text(room_id, version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        return await self.history.read_page(room_id, after, limit)

    async def delete_history(self, room_id: str) -> None:
        await self.history.delete_history(room_id)

    async def bind_socket(self, socket_id: str, room_id: str) -> None:
        self.sockets[socket_id] = room_id

    async def socket_room(self, socket_id: str) -> str | None:
        return self.sockets.get(socket_id)

    async def unbind_socket(self, socket_id: str) -> str | None:
        return self.sockets.pop(socket_id, None)
