"""`record`: a writer's message into a room and its history, as the handlers will once they record.

For the tests and figures that need a history written the way the server writes it, before
shared/handlers.py records: the store applies a `Receive`, the `Recorder` takes what the room
accepted (also when it refused part), and the history store gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from shared.history import Recorder, Recording
from shared.history_store import HistoryStore
from shared.protocol import SyncRequest, parse_stream_message
from shared.room import Room
from shared.room_operations import Operation, Receive, Refused, Result
from shared.settings import Settings

T = TypeVar("T")


class Rooms(Protocol):
    """A room store that keeps the room object itself (memory, SQLite), so that what a `Receive`
    accepted (`Room.accepted`, not stored) can be read right after it."""

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None: ...

    async def apply(self, room_id: str, operation: Operation) -> Result: ...


async def record(
    rooms: Rooms,
    history: HistoryStore,
    recorder: Recorder,
    room_id: str,
    data: dict[str, Any],
    at: float,
    settings: Settings,
) -> Recording:
    """Apply `data` (a stream message) to the room and append what it accepted; ProtocolError if refused."""
    message = parse_stream_message(data, settings)
    if isinstance(message, SyncRequest):
        raise ValueError("a sync request is answered, never recorded")
    if await rooms.read(room_id, lambda room: True) is None:
        raise LookupError(f"no room {room_id}")
    result = await rooms.apply(room_id, Receive(message, at))
    # What the room accepted is still on it: memory and SQLite keep the room object itself.
    recording = await rooms.read(room_id, lambda room: recorder.take(room, at))
    assert recording is not None
    await history.append(room_id, recording.entries)
    if recording.checkpoint is not None:
        await history.checkpoint(room_id, recording.checkpoint)
    if isinstance(result, Refused):
        raise result.error
    return recording
