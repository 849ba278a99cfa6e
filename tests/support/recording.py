"""`record`: a writer's message into a room and its history, as the server records it.

For the tests and figures that need a history written without a socket: the store applies a
`Receive`, and its `Recorder` takes what the room accepted into the room's history.
"""

from __future__ import annotations

from typing import Any

from shared.protocol import SyncRequest, parse_stream_message
from shared.room_operations import Receive, Refused, Result
from shared.settings import Settings
from shared.store import RoomStore


async def record(store: RoomStore, room_id: str, data: dict[str, Any], at: float, settings: Settings) -> Result:
    """Apply `data` (a stream message) to an existing room, which records it in its history as
    the server does (inside the store's update); ProtocolError if refused."""
    message = parse_stream_message(data, settings)
    if isinstance(message, SyncRequest):
        raise ValueError("a sync request is answered, never recorded")
    if await store.read(room_id, lambda room: True) is None:
        raise LookupError(f"no room {room_id}")
    result = await store.apply(room_id, Receive(message, at))
    if isinstance(result, Refused):
        raise result.error
    return result
