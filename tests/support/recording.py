"""`record`: a writer's message into a room and its history, as the handlers will once they record.

For the tests and figures that need a history written the way the server writes it, before
shared/handlers.py records: the room's store update runs `Room.receive`, the `Recorder` takes
what the room accepted (also when it refused part), and the history store gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from shared.history import Recorder, Recording
from shared.history_store import HistoryStore
from shared.protocol import SyncRequest, parse_stream_message
from shared.room import Room
from shared.settings import Settings

T = TypeVar("T")


class Rooms(Protocol):
    """What `record` needs of a room store: the SQLite store's (and the old RoomStore's) update."""

    async def update(self, room_id: str, change: Callable[[Room], T]) -> T | None: ...


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
    recordings: list[Recording] = []

    def change(room: Room) -> None:
        try:
            room.receive(message, at)
        finally:
            recordings.append(recorder.take(room, at))

    try:
        await rooms.update(room_id, change)
    finally:
        for recording in recordings:
            await history.append(room_id, recording.entries)
            if recording.checkpoint is not None:
                await history.checkpoint(room_id, recording.checkpoint)
    if not recordings:
        raise LookupError(f"no room {room_id}")
    return recordings[0]
