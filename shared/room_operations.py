"""The operations a room's store of record runs on its saved state, one at a time.

On Azure a Durable Entity per room runs these (`Room`), and one per socket remembers the
room it joined (`Socket`), so that `disconnected`, which carries only a socket id, can
update presence. Each operation takes the saved state (JSON data, None before the first
operation) and returns the new state (None: the entity is deleted). The rules are
`Room`'s own; this module only (de)serialises around them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .protocol import ProtocolError, SyncRequest, parse_stream_message
from .room import Room, new_room
from .room_codec import room_from_dict, room_to_dict
from .settings import Settings

log = logging.getLogger("codestream")

ROOM_ENTITY = "Room"
SOCKET_ENTITY = "Socket"

State = dict[str, Any] | None


class OperationError(ValueError):
    """An operation this store does not know, or an input of the wrong shape."""


def room_operation(room_id: str, state: State, operation: str, value: Any, settings: Settings, now: float) -> State:
    """Run `operation` on the room saved as `state`; the state to save."""
    handler = _ROOM_OPERATIONS.get(operation)
    if handler is None:
        raise OperationError(f"unknown room operation {operation!r}")
    room = None if state is None else room_from_dict(state, settings)
    room = handler(room, room_id, _object(value), settings, now)
    return None if room is None else room_to_dict(room)


def socket_operation(state: State, operation: str, value: Any) -> State:
    """`bind` remembers the socket's room; `unbind` forgets the socket."""
    if operation == "bind":
        room_id = _object(value).get("room_id")
        if not isinstance(room_id, str):
            raise OperationError("bind needs a room_id")
        return {"room_id": room_id}
    if operation == "unbind":
        return None
    raise OperationError(f"unknown socket operation {operation!r}")


def socket_room(state: Any) -> str | None:
    room_id = state.get("room_id") if isinstance(state, dict) else None
    return room_id if isinstance(room_id, str) else None


# --- room operations -----------------------------------------------------------------

RoomOperation = Callable[[Room | None, str, Mapping[str, Any], Settings, float], Room | None]


def _create(room: Room | None, room_id: str, value: Mapping[str, Any], settings: Settings, now: float) -> Room:
    if room is None:
        room = new_room(room_id, settings, now)
    return room


def _join(room: Room | None, room_id: str, value: Mapping[str, Any], settings: Settings, now: float) -> Room | None:
    socket_id, role = value.get("socket_id"), value.get("role")
    if not isinstance(socket_id, str) or role not in ("writer", "viewer"):
        raise OperationError("join needs a socket_id and a role")
    if room is None and role == "writer":  # a writer resumes a room the store forgot
        room = new_room(room_id, settings, now)
    if room is not None:
        if role == "writer":
            room.take_over(socket_id)  # the newest writer wins, as in the core's joinRoom
        room.add(socket_id, role)
        room.last_active = now
    return room


def _leave(room: Room | None, room_id: str, value: Mapping[str, Any], settings: Settings, now: float) -> Room | None:
    socket_id = value.get("socket_id")
    if not isinstance(socket_id, str):
        raise OperationError("leave needs a socket_id")
    if room is not None and room.remove(socket_id):
        room.last_active = now
    return room


def _receive(room: Room | None, room_id: str, value: Mapping[str, Any], settings: Settings, now: float) -> Room | None:
    """A writer's message, already checked and relayed by the function that signalled it."""
    if room is None:
        room = new_room(room_id, settings, now)
    try:
        message = parse_stream_message(value.get("data"), settings)
        if not isinstance(message, SyncRequest):  # sync requests are answered, never stored
            room.receive(message, now)
    except ProtocolError as error:
        # The room refused it (its text and the writer's differ): the room keeps what it
        # had and stops trusting held deltas; the next sync or late join asks the writer.
        log.info("room %s refused a message: %s", room_id, error.message)
    return room


_ROOM_OPERATIONS: dict[str, RoomOperation] = {
    "create": _create,
    "join": _join,
    "leave": _leave,
    "receive": _receive,
}


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise OperationError("an operation's input must be a JSON object")
    return value
