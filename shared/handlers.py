"""The app's behaviour: one client event in, the actions that answer it out.

Both adapters call these and perform the returned actions in order; neither holds a
business rule of its own. Every refusal becomes an `error` message to the sender, and a
refused message changes no room.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import protocol
from .actions import (
    Action,
    add_socket_to_room,
    disconnect_sockets,
    remove_socket_from_room,
    send_to_rooms,
    send_to_socket,
)
from .capabilities import Claims, is_writer_key
from .limits import RateLimiter
from .room import Received, Room, new_room
from .settings import Settings
from .store import RoomStore, create_within_limit
from .versions import Outcome


@dataclass(frozen=True, slots=True)
class Caller:
    """The socket an event came from, and what its token said (self-hosted only)."""

    socket_id: str
    claims: Claims | None = None


class Handlers:
    def __init__(
        self, settings: Settings, secret: bytes, store: RoomStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.store = store
        self.clock = clock
        self.limiter = RateLimiter(settings.messages_per_second, clock)
        # Presence throttling, per process: when each room's viewers last heard, and which
        # rooms have a change they have not heard of yet.
        self._presence_sent: dict[str, float] = {}
        self._presence_due: dict[str, float] = {}

    def new_room(self, room_id: str) -> Room:
        return new_room(room_id, self.settings, self.clock())

    # --- events ---

    async def connected(self, caller: Caller) -> list[Action]:
        return [send_to_socket(caller.socket_id, protocol.LOGIN_EVENT)]

    async def join_room(self, caller: Caller, payload: object) -> list[Action]:
        try:
            self._admit(caller, payload)
            join = protocol.parse_join_room(payload)
            role = self._role(caller, join.room_id, join.writer_key)
            return await self._join(caller, join.room_id, role)
        except protocol.ProtocolError as error:
            return [
                send_to_socket(caller.socket_id, protocol.MESSAGE_EVENT, protocol.ack_join_failed(error)),
                _refuse(caller, error, protocol.JOIN_ROOM_EVENT),
            ]

    async def send_to_room(self, caller: Caller, payload: object) -> list[Action]:
        try:
            self._admit(caller, payload)
            send = protocol.parse_send_to_room(payload, self.settings)
            if isinstance(send.data, protocol.SyncRequest):
                return await self._sync(caller, send.room_id)
            if not await self._may_write(caller, send):
                raise protocol.ProtocolError("unauthorized", "only the room's writer may change it")
            return await self._write(caller, send.room_id, send.data)
        except protocol.ProtocolError as error:
            return [_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT)]

    def relay_write(self, caller: Caller, payload: object) -> CheckedSend:
        """sendToRoom for hosts whose room store is too slow for the relay path (Azure).

        Checks the message and the writer's key without storage and relays it at once; the
        caller applies `CheckedSend.message` to its store of record afterwards. Viewers order and
        deduplicate what they get by version, so relaying before the store has seen the
        message is safe. A sync request needs the room: the caller answers it with
        `answer_sync` once it has read the room.
        """
        try:
            self._admit(caller, payload)
            send = protocol.parse_send_to_room(payload, self.settings)
            if isinstance(send.data, protocol.SyncRequest):
                return CheckedSend([], send.room_id, sync=True)
            if self._role(caller, send.room_id, send.writer_key) != "writer":
                raise protocol.ProtocolError(
                    "unauthorized", "only the room's writer may change it (send its writer_key)"
                )
            return CheckedSend([_relay(caller, send.room_id, send.data)], send.room_id, message=send.data)
        except protocol.ProtocolError as error:
            return CheckedSend([_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT)])

    async def answer_sync(self, caller: Caller, room_id: str) -> list[Action]:
        """A sync request already admitted by `relay_write`, answered from the store."""
        try:
            return await self._sync(caller, room_id)
        except protocol.ProtocolError as error:
            return [_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT)]

    async def disconnected(self, caller: Caller) -> list[Action]:
        self.limiter.forget(caller.socket_id)
        room_id = await self.store.unbind_socket(caller.socket_id)
        if room_id is None:
            return []
        now = self.clock()

        def leave(room: Room) -> dict[str, Any] | None:
            if not room.remove(caller.socket_id):
                return None
            room.last_active = now
            return room.presence()

        presence = await self.store.update(room_id, leave)
        return [] if presence is None else self._announce(room_id, presence)

    async def create_room(self, room_id: str) -> bool:
        """Store a new empty room unless the server is at its room limit; False if it existed."""
        return await create_within_limit(self.store, self.new_room(room_id), self.settings.max_rooms)

    async def expire_idle_rooms(self) -> int:
        """Forget rooms nobody is in and nobody wrote to for `room_idle_seconds`; how many."""
        return await self.store.expire_idle(self.clock(), self.settings.room_idle_seconds)

    async def flush_presence(self) -> list[Action]:
        """Presence for the rooms whose viewers were not told of a change yet; call it about
        once per `presence_interval_seconds` (the self-hosted server does)."""
        now, actions = self.clock(), []
        for room_id in list(self._presence_due):
            if now - self._presence_sent.get(room_id, -math.inf) < self.settings.presence_interval_seconds:
                continue
            del self._presence_due[room_id]
            presence = await self.store.read(room_id, lambda room: room.presence())
            if presence is not None:
                self._presence_sent[room_id] = now
                actions.append(_to_room(room_id, presence))
        for room_id, sent in list(self._presence_sent.items()):  # forget rooms long quiet
            if now - sent > 2 * self.settings.presence_interval_seconds and room_id not in self._presence_due:
                del self._presence_sent[room_id]
        return actions

    # --- steps ---

    def _announce(self, room_id: str, presence: dict[str, Any], except_socket: str | None = None) -> list[Action]:
        """Presence after a join or leave: to the writer at once, to viewers throttled."""
        now = self.clock()
        interval = self.settings.presence_interval_seconds
        if interval == 0 or now - self._presence_sent.get(room_id, -math.inf) >= interval:
            self._presence_sent[room_id] = now
            self._presence_due.pop(room_id, None)
            return [_to_room(room_id, presence, except_socket)]
        self._presence_due[room_id] = now
        except_rooms = [except_socket] if except_socket else []
        return [
            send_to_rooms([protocol.control_room(room_id)], protocol.MESSAGE_EVENT, presence, except_rooms=except_rooms)
        ]

    def _admit(self, caller: Caller, payload: object) -> None:
        if not self.limiter.allow(caller.socket_id):
            raise protocol.ProtocolError(
                "rate_limited", f"at most {self.settings.messages_per_second} messages a second"
            )
        protocol.check_size(payload, self.settings)

    def _role(self, caller: Caller, room_id: str, key: str | None) -> protocol.Role:
        if key is not None:
            if not is_writer_key(self.secret, room_id, key):
                raise protocol.ProtocolError("unauthorized", "writer_key does not belong to this room")
            return "writer"
        claims = caller.claims
        return "writer" if claims is not None and claims.role == "writer" and claims.room == room_id else "viewer"

    async def _may_write(self, caller: Caller, send: protocol.SendToRoom) -> bool:
        if self._role(caller, send.room_id, send.writer_key) == "writer":
            return True
        joined_as_writer = await self.store.read(send.room_id, lambda room: caller.socket_id in room.writers)
        return bool(joined_as_writer)

    async def _join(self, caller: Caller, room_id: str, role: protocol.Role) -> list[Action]:
        sid = caller.socket_id
        bound = await self.store.socket_room(sid)
        if bound is not None and bound != room_id:
            raise protocol.ProtocolError("bad_request", "this connection has joined another room; open a new one")

        now, limit = self.clock(), self.settings.max_viewers_per_room

        def enter(room: Room) -> _Joined:
            if role == "viewer" and sid not in room.viewers and len(room.viewers) >= limit:
                raise protocol.ProtocolError("too_large", f"this room is full: {limit} viewers at most")
            replaced = room.take_over(sid) if role == "writer" else []
            changed = room.add(sid, role) or bool(replaced)
            room.last_active = now
            answerable = room.can_answer_sync()
            give_text = answerable if role == "viewer" else room.tracker.has_base()
            return _Joined(
                changed,
                room.tracker.version,
                room.as_full() if give_text else None,
                room.cursor if role == "viewer" else None,
                room.presence(),
                not answerable,
                replaced,
            )

        joined = await self.store.update(room_id, enter)
        if joined is None and role == "writer":  # a writer resumes a room this server forgot
            await self.create_room(room_id)
            joined = await self.store.update(room_id, enter)
        if joined is None:
            raise protocol.ProtocolError("room_not_found", "no such room: check the link, or wait for its writer")
        await self.store.bind_socket(sid, room_id)

        home = protocol.control_room(room_id) if role == "writer" else room_id
        actions = _replace_writers(room_id, joined.replaced)
        actions += [
            add_socket_to_room(sid, home),
            send_to_socket(sid, protocol.MESSAGE_EVENT, protocol.ack_join(room_id, role, joined.version)),
        ]
        for data in (joined.full, joined.cursor):
            if data is not None:
                actions.append(send_to_socket(sid, protocol.MESSAGE_EVENT, protocol.editor_message(data)))
        actions.append(send_to_socket(sid, protocol.MESSAGE_EVENT, joined.presence))
        if joined.changed:
            actions += self._announce(room_id, joined.presence, except_socket=sid)
        if role == "viewer" and joined.ask_writer:
            actions.append(_ask_writer(room_id))
        return actions

    async def _sync(self, caller: Caller, room_id: str) -> list[Action]:
        full = await self.store.read(room_id, lambda room: room.as_full() if room.can_answer_sync() else False)
        if full is None:
            raise protocol.ProtocolError("room_not_found", "no such room")
        if full is False:  # the room is behind its writer: the tutorial's way, ask the writer
            return [_ask_writer(room_id)]
        return [send_to_socket(caller.socket_id, protocol.MESSAGE_EVENT, protocol.editor_message(full))]

    async def _write(self, caller: Caller, room_id: str, data: protocol.WriterMessage) -> list[Action]:
        now = self.clock()
        try:
            received: Received | None = await self.store.update(room_id, lambda room: room.receive(data, now))
        except protocol.ProtocolError as error:
            # Our text and the writer's differ: refuse, and ask the writer for its whole text.
            sync = send_to_socket(
                caller.socket_id, protocol.MESSAGE_EVENT, protocol.editor_message(protocol.sync_request())
            )
            return [_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT), sync]
        if received is None:
            raise protocol.ProtocolError("room_not_found", "no such room")
        actions: list[Action] = []
        if received.outcome not in (Outcome.DUPLICATE, Outcome.STALE):
            actions.append(_relay(caller, room_id, data))
        if received.ask_writer_for_sync:
            actions.append(_ask_writer(room_id))
        return actions


@dataclass(frozen=True, slots=True)
class CheckedSend:
    """What `relay_write` decided: actions to perform now, and what the store must apply."""

    actions: list[Action]
    room_id: str | None = None
    message: protocol.WriterMessage | None = None
    sync: bool = False


@dataclass(frozen=True, slots=True)
class _Joined:
    changed: bool
    version: int | None
    full: dict[str, Any] | None  # the room's text, when the joiner should get it
    cursor: Any
    presence: dict[str, Any]
    ask_writer: bool
    replaced: list[str]


def _replace_writers(room_id: str, sockets: list[str]) -> list[Action]:
    """Tell each replaced writer socket why, then close it (so it stops writing)."""
    actions: list[Action] = []
    for socket_id in sockets:
        actions.append(send_to_socket(socket_id, protocol.MESSAGE_EVENT, protocol.superseded(room_id)))
        actions.append(remove_socket_from_room(socket_id, protocol.control_room(room_id)))
        actions.append(disconnect_sockets([socket_id]))
    return actions


def _relay(caller: Caller, room_id: str, data: protocol.WriterMessage) -> Action:
    """A writer's message, as it sent it, to the room's viewers."""
    return send_to_rooms(
        [room_id], protocol.MESSAGE_EVENT, protocol.editor_message(data.raw), except_rooms=[caller.socket_id]
    )


def internal_error(socket_id: str, event: str) -> list[Action]:
    """What a socket hears when the host failed on its `event` (never a stack trace).

    `event` is the protocol's name (`sendToRoom`, ...): the writer resyncs on a failed sendToRoom.
    """
    error = protocol.ProtocolError("internal", "the server failed on this message")
    return [send_to_socket(socket_id, protocol.MESSAGE_EVENT, protocol.error_message(error, event))]


def _refuse(caller: Caller, error: protocol.ProtocolError, event: str) -> Action:
    return send_to_socket(caller.socket_id, protocol.MESSAGE_EVENT, protocol.error_message(error, event))


def _to_room(room_id: str, message: dict[str, Any], except_socket: str | None = None) -> Action:
    """To everyone in the room: viewers in `R`, writers in `R-control`."""
    rooms = [room_id, protocol.control_room(room_id)]
    return send_to_rooms(rooms, protocol.MESSAGE_EVENT, message, except_rooms=[except_socket] if except_socket else [])


def _ask_writer(room_id: str) -> Action:
    return send_to_rooms(
        [protocol.control_room(room_id)], protocol.MESSAGE_EVENT, protocol.editor_message(protocol.sync_request())
    )
