"""The named operations on a room: the only ways a stored room changes, on every host.

A handler decides which operation an event means; a store runs it with `apply`, the one
function every store uses (the in-memory store, Redis, and on Azure the `Room` entity,
which gets the operation as JSON through `encode` / `decode`). Each operation carries its
time (`at`, wall-clock seconds), so running it later, elsewhere, gives the same room.

On Azure a `Socket` entity per socket also remembers the room it joined, so that
`disconnected`, which carries only a socket id, can update presence (`socket_operation`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from .protocol import ProtocolError, Role, WriterMessage, parse_stream_message
from .room import Received, Room, new_room
from .room_codec import room_from_dict, room_to_dict
from .settings import Settings

log = logging.getLogger("codestream")

ROOM_ENTITY = "Room"
SOCKET_ENTITY = "Socket"

State = dict[str, Any] | None


class OperationError(ValueError):
    """An operation this code does not know, or an input of the wrong shape."""


# --- the operations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Create:
    """Make the room if it does not exist; `apply` answers whether it did.

    It lives `lifetime` seconds (None: the server's default).
    """

    at: float
    lifetime: float | None = None


@dataclass(frozen=True, slots=True)
class Join:
    """A socket enters as writer (the newest writer wins) or viewer (within the room's limit).

    A writer's join makes a room the store forgot; a viewer's does not.
    """

    socket_id: str
    role: Role
    at: float


@dataclass(frozen=True, slots=True)
class Leave:
    socket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Receive:
    """A writer's message, already checked (`Handlers.check_send`); makes a forgotten room."""

    message: WriterMessage
    at: float


@dataclass(frozen=True, slots=True)
class End:
    """The writer ends the stream: it takes no more writes and can be replayed."""

    at: float


@dataclass(frozen=True, slots=True)
class Delete:
    """The room, its text and its history go; a tombstone stays (its id and times), so that
    its writer key opens nothing, until `deleted_at + max_lifetime_seconds`."""

    at: float


Operation = Create | Join | Leave | Receive | End | Delete


# --- what they answer ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Joined:
    changed: bool  # the room's presence changed
    version: int | None
    full: dict[str, Any] | None  # the room's text, when the joiner should get it
    cursor: Any
    presence: dict[str, Any]
    ask_writer: bool  # the room cannot give a viewer its text: the writer must
    replaced: list[str]  # writer sockets the joiner took over from
    expires_at: float = 0.0
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The room refused the operation and is otherwise as it was (a refused delta resets
    what the room held back, so that the writer's next full starts clean)."""

    error: ProtocolError


@dataclass(frozen=True, slots=True)
class Ended:
    at: float  # when the stream ended (the first End's time, when ended twice)


@dataclass(frozen=True, slots=True)
class Deleted:
    sockets: list[str]  # every writer and viewer socket that was in the room


Result = bool | Joined | dict[str, Any] | Received | Refused | Ended | Deleted | None

GONE = ProtocolError("room_not_found", "this stream was deleted")


def apply(room: Room | None, room_id: str, operation: Operation, settings: Settings) -> tuple[Room | None, Result]:
    """Run `operation` on `room` (None: no such room); the room to keep and the answer.

    Answers: Create, whether it made the room; Join, `Joined` (None: no such room);
    Leave, the new presence (None: the socket was not in it); Receive, `Received`;
    End, `Ended`; Delete, `Deleted` (both None: no such room).
    Join and Receive answer `Refused` when the room will not take them. A tombstone acts as
    no room that nothing can make again.
    """
    if room is not None and room.deleted_at is not None:
        return room, _on_tombstone(operation)
    if isinstance(operation, Create):
        if room is not None:
            return room, False
        return new_room(room_id, settings, operation.at, operation.lifetime), True
    if isinstance(operation, End | Delete):
        return (room, None) if room is None else _end_or_delete(room, operation)
    if isinstance(operation, Join):
        if room is None and operation.role == "writer":
            room = new_room(room_id, settings, operation.at)
        return room, None if room is None else _join(room, operation, settings)
    if isinstance(operation, Leave):
        if room is None or not room.remove(operation.socket_id):
            return room, None
        room.last_active = operation.at
        return room, room.presence()
    if room is None:
        room = new_room(room_id, settings, operation.at)
    try:
        return room, room.receive(operation.message, operation.at)
    except ProtocolError as error:
        return room, Refused(error)


def sweep_verdict(room: Room, now: float, settings: Settings) -> Delete | bool | None:
    """What a sweep at `now` does to `room`: `Delete(now)` when its lifetime ran out; True when
    the store should drop it without a trace (a tombstone past its time, or an idle room
    nobody ever wrote to); None to keep it."""
    if room.deleted_at is not None:
        return now >= room.deleted_at + settings.max_lifetime_seconds or None
    if room.is_idle(now, settings.room_idle_seconds):
        return True
    return Delete(now) if room.has_expired(now) else None


def next_sweep_at(room: Room, settings: Settings) -> float:
    """The first time `sweep_verdict` may act on `room` (for stores that index rooms by it)."""
    if room.deleted_at is not None:
        return room.deleted_at + settings.max_lifetime_seconds
    blank_and_empty = room.is_idle(math.inf, settings.room_idle_seconds)  # forgotten once idle
    return min(room.expires_at, room.last_active + settings.room_idle_seconds) if blank_and_empty else room.expires_at


def _on_tombstone(operation: Operation) -> Result:
    if isinstance(operation, Create):
        return False
    return Refused(GONE) if isinstance(operation, Receive) else None


def _end_or_delete(room: Room, operation: End | Delete) -> tuple[Room, Result]:
    if isinstance(operation, End):
        if room.ended_at is None:
            room.ended_at = operation.at
        return room, Ended(room.ended_at)
    sockets = sorted(room.writers | room.viewers)
    tombstone = Room(room.room_id, room.max_units, room.max_held, room.gap_timeout)
    tombstone.created_at, tombstone.expires_at, tombstone.ended_at = room.created_at, room.expires_at, room.ended_at
    tombstone.last_active = tombstone.deleted_at = operation.at
    return tombstone, Deleted(sockets)


def _join(room: Room, join: Join, settings: Settings) -> Joined | Refused:
    sid, limit = join.socket_id, settings.max_viewers_per_room
    if join.role == "viewer" and sid not in room.viewers and len(room.viewers) >= limit:
        return Refused(ProtocolError("too_large", f"this room is full: {limit} viewers at most"))
    replaced = room.take_over(sid) if join.role == "writer" else []
    changed = room.add(sid, join.role) or bool(replaced)
    room.last_active = join.at
    answerable = room.can_answer_sync()
    give_text = answerable if join.role == "viewer" else room.tracker.has_base()
    return Joined(
        changed,
        room.tracker.version,
        room.as_full() if give_text else None,
        room.cursor if join.role == "viewer" else None,
        room.presence(),
        join.role == "viewer" and not answerable,
        replaced,
        room.expires_at,
        room.ended_at,
    )


# --- as JSON, for stores that keep rooms elsewhere (the Room entity) -------------------


def encode(operation: Operation) -> tuple[str, dict[str, Any]]:
    """The operation's name and JSON input."""
    if isinstance(operation, Create):
        lifetime = {} if operation.lifetime is None else {"lifetime": operation.lifetime}
        return "create", {"at": operation.at, **lifetime}
    if isinstance(operation, End):
        return "end", {"at": operation.at}
    if isinstance(operation, Delete):
        return "delete", {"at": operation.at}
    if isinstance(operation, Join):
        return "join", {"socket_id": operation.socket_id, "role": operation.role, "at": operation.at}
    if isinstance(operation, Leave):
        return "leave", {"socket_id": operation.socket_id, "at": operation.at}
    return "receive", {"data": dict(operation.message.raw), "at": operation.at}


def decode(name: str, value: Any, settings: Settings) -> Operation:
    """The operation `encode` gave `name` and `value`; OperationError for anything else."""
    if not isinstance(value, dict):
        raise OperationError("an operation's input must be a JSON object")
    at = value.get("at")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise OperationError(f"{name} needs its time, 'at'")
    if name == "create":
        lifetime = value.get("lifetime")
        if lifetime is not None and (
            not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0
        ):
            raise OperationError("create's lifetime must be a positive number of seconds")
        return Create(at, lifetime)
    if name == "end":
        return End(at)
    if name == "delete":
        return Delete(at)
    if name in ("join", "leave"):
        socket_id = value.get("socket_id")
        if not isinstance(socket_id, str):
            raise OperationError(f"{name} needs a socket_id")
        if name == "leave":
            return Leave(socket_id, at)
        role = value.get("role")
        if role not in ("writer", "viewer"):
            raise OperationError("join needs a role, writer or viewer")
        return Join(socket_id, role, at)
    if name == "receive":
        try:
            message = parse_stream_message(value.get("data"), settings)
        except ProtocolError as error:
            raise OperationError(f"receive needs a stream message: {error.message}") from None
        if not isinstance(message, WriterMessage):  # a sync request changes no room
            raise OperationError("receive needs a writer's message, not a sync request")
        return Receive(message, at)
    raise OperationError(f"unknown room operation {name!r}")


def room_operation(room_id: str, state: State, name: str, value: Any, settings: Settings) -> State:
    """The `Room` entity's step: the saved state after the operation (None: no room)."""
    operation = decode(name, value, settings)
    room = None if state is None else room_from_dict(state, settings)
    room, result = apply(room, room_id, operation, settings)
    if isinstance(result, Refused):
        log.info("room %s refused %s: %s", room_id, name, result.error.message)
    return None if room is None else room_to_dict(room)


def socket_operation(state: State, operation: str, value: Any) -> State:
    """`bind` remembers the socket's room; `unbind` forgets the socket."""
    if operation == "bind":
        room_id = value.get("room_id") if isinstance(value, dict) else None
        if not isinstance(room_id, str):
            raise OperationError("bind needs a room_id")
        return {"room_id": room_id}
    if operation == "unbind":
        return None
    raise OperationError(f"unknown socket operation {operation!r}")


def socket_room(state: Any) -> str | None:
    room_id = state.get("room_id") if isinstance(state, dict) else None
    return room_id if isinstance(room_id, str) else None
