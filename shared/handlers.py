"""The app's behaviour: one client event in, the actions that answer it out.

Both adapters call these and perform the returned actions in order; neither holds a
business rule of its own. Handlers keep no state: rooms live in the store and change only
through its named operations (`room_operations`), and what a host keeps between events
(rate limits, presence throttling) is the host's `Throttles`. Every refusal becomes an
`error` message to the sender, and a refused message changes no room.
"""

from __future__ import annotations

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
from .presence import PresenceThrottle
from .room import Received
from .room_operations import Join, Joined, Leave, Receive, Refused
from .settings import Settings
from .store import RoomStore, create_within_limit
from .versions import Outcome


@dataclass(frozen=True, slots=True)
class Caller:
    """The socket an event came from, and what its token said (self-hosted only)."""

    socket_id: str
    claims: Claims | None = None


@dataclass(frozen=True, slots=True)
class Throttles:
    """What a host keeps between events: one per process self-hosted, one per instance on Azure."""

    limiter: RateLimiter
    presence: PresenceThrottle

    @classmethod
    def for_settings(cls, settings: Settings, clock: Callable[[], float]) -> Throttles:
        return cls(
            RateLimiter(settings.messages_per_second, clock), PresenceThrottle(settings.presence_interval_seconds)
        )


@dataclass(frozen=True, slots=True)
class CheckedSend:
    """What an incoming sendToRoom is, decided without reading any room: refused (`refusal`
    holds the answer), a sync request, or a writer's message to apply."""

    refusal: list[Action]
    room_id: str | None = None
    message: protocol.WriterMessage | None = None
    sync: bool = False


class Handlers:
    def __init__(
        self,
        settings: Settings,
        secret: bytes,
        store: RoomStore,
        throttles: Throttles,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.store = store
        self.throttles = throttles
        self.clock = clock

    # --- events ---

    async def connected(self, caller: Caller) -> list[Action]:
        return on_connected(caller)

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

    def check_send(self, caller: Caller, payload: object) -> CheckedSend:
        """The one check of an incoming sendToRoom: rate, size, shape, and the writer's right.

        A writer proves itself with the room's writer_key, or (self-hosted) with its token's
        claims; neither needs storage, so a host may relay a write before it is stored.
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
            return CheckedSend([], send.room_id, message=send.data)
        except protocol.ProtocolError as error:
            return CheckedSend([_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT)])

    async def send_to_room(self, caller: Caller, payload: object) -> list[Action]:
        checked = self.check_send(caller, payload)
        if checked.refusal or checked.room_id is None:
            return checked.refusal
        try:
            if checked.sync:
                return await self._sync(caller, checked.room_id)
            assert checked.message is not None
            return await self._write(caller, checked.room_id, checked.message)
        except protocol.ProtocolError as error:
            return [_refuse(caller, error, protocol.SEND_TO_ROOM_EVENT)]

    async def disconnected(self, caller: Caller) -> list[Action]:
        self.throttles.limiter.forget(caller.socket_id)
        room_id = await self.store.unbind_socket(caller.socket_id)
        if room_id is None:
            return []
        presence = await self.store.apply(room_id, Leave(caller.socket_id, self.clock()))
        return self._announce(room_id, presence) if isinstance(presence, dict) else []

    async def create_room(self, room_id: str) -> bool:
        """Store a new empty room unless the server is at its room limit; False if it existed."""
        return await create_within_limit(self.store, room_id, self.clock(), self.settings.max_rooms)

    async def sweep(self) -> list[Action]:
        """Delete the rooms whose lifetime ran out (and forget blank idle rooms): their
        sockets hear `deleted` and are disconnected. Call it about once a minute."""
        actions: list[Action] = []
        for room_id, sockets in await self.store.sweep(self.clock()):
            actions += deleted_room(room_id, sockets)
        return actions

    async def flush_presence(self) -> list[Action]:
        """Presence for the rooms whose viewers were not told of a change yet; call it about
        once per `presence_interval_seconds` (the self-hosted server does)."""
        actions: list[Action] = []
        for room_id in self.throttles.presence.due(self.clock()):
            presence = await self.store.read(room_id, lambda room: room.presence())
            if presence is not None:
                actions += _to_room(room_id, presence)
        return actions

    # --- steps ---

    def _announce(self, room_id: str, presence: dict[str, Any], except_socket: str | None = None) -> list[Action]:
        """Presence after a join or leave: to the writer at once, to viewers throttled."""
        if self.throttles.presence.may_tell_viewers(room_id, self.clock()):
            return _to_room(room_id, presence, except_socket)
        except_rooms = [except_socket] if except_socket else []
        return [
            send_to_rooms([protocol.control_room(room_id)], protocol.MESSAGE_EVENT, presence, except_rooms=except_rooms)
        ]

    def _admit(self, caller: Caller, payload: object) -> None:
        if not self.throttles.limiter.allow(caller.socket_id):
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

    async def _join(self, caller: Caller, room_id: str, role: protocol.Role) -> list[Action]:
        sid = caller.socket_id
        bound = await self.store.socket_room(sid)
        if bound is not None and bound != room_id:
            raise protocol.ProtocolError("bad_request", "this connection has joined another room; open a new one")
        if role == "writer" and await self.store.read(room_id, lambda room: True) is None:
            await self.create_room(room_id)  # a writer resumes a room this server forgot, within the limit
        # Bound first, so that nothing awaits between the room's answer (its text at that moment)
        # and the adapter putting the socket in the room: a delta relayed in that gap would
        # never reach this viewer.
        await self.store.bind_socket(sid, room_id)
        joined = await self.store.apply(room_id, Join(sid, role, self.clock()))
        if not isinstance(joined, Joined):
            if bound is None:
                await self.store.unbind_socket(sid)
            if isinstance(joined, Refused):
                raise joined.error
            raise protocol.ProtocolError("room_not_found", "no such room: check the link, or wait for its writer")

        home = protocol.control_room(room_id) if role == "writer" else room_id
        actions = [add_socket_to_room(sid, home), *_replace_writers(room_id, joined.replaced)]
        actions += [
            send_to_socket(
                sid,
                protocol.MESSAGE_EVENT,
                protocol.ack_join(room_id, role, joined.version, joined.expires_at, joined.ended_at),
            ),
        ]
        for data in (joined.full, joined.cursor):
            if data is not None:
                actions.append(send_to_socket(sid, protocol.MESSAGE_EVENT, protocol.editor_message(data)))
        actions.append(send_to_socket(sid, protocol.MESSAGE_EVENT, joined.presence))
        if joined.changed:
            actions += self._announce(room_id, joined.presence, except_socket=sid)
        if joined.ask_writer:
            actions.append(_ask_writer(room_id))
        return actions

    async def _sync(self, caller: Caller, room_id: str) -> list[Action]:
        full = await self.store.read(room_id, lambda room: room.as_full() if room.can_answer_sync() else False)
        if full is None:
            raise protocol.ProtocolError("room_not_found", "no such room")
        if full is False:  # the room is behind its writer: the tutorial's way, ask the writer
            return [_ask_writer(room_id)]
        return [send_to_socket(caller.socket_id, protocol.MESSAGE_EVENT, protocol.editor_message(full))]

    async def _write(self, caller: Caller, room_id: str, message: protocol.WriterMessage) -> list[Action]:
        received = await self.store.apply(room_id, Receive(message, self.clock()))
        if isinstance(received, Refused):
            # Our text and the writer's differ: refuse, and ask the writer for its whole text.
            sync = send_to_socket(
                caller.socket_id, protocol.MESSAGE_EVENT, protocol.editor_message(protocol.sync_request())
            )
            return [_refuse(caller, received.error, protocol.SEND_TO_ROOM_EVENT), sync]
        assert isinstance(received, Received)
        actions: list[Action] = []
        if received.outcome not in (Outcome.DUPLICATE, Outcome.STALE):  # None (queued) is relayed too
            actions.append(_relay(caller, room_id, message))
        if received.ask_writer_for_sync:
            actions.append(_ask_writer(room_id))
        return actions


def on_connected(caller: Caller) -> list[Action]:
    """A socket is connected: tell it to join (the tutorial's `login`). Needs no room."""
    return [send_to_socket(caller.socket_id, protocol.LOGIN_EVENT)]


def internal_error(socket_id: str, event: str) -> list[Action]:
    """What a socket hears when the host failed on its `event` (never a stack trace).

    `event` is the protocol's name (`sendToRoom`, ...): the writer resyncs on a failed sendToRoom.
    """
    error = protocol.ProtocolError("internal", "the server failed on this message")
    return [send_to_socket(socket_id, protocol.MESSAGE_EVENT, protocol.error_message(error, event))]


def ended_room(room_id: str, at: float) -> list[Action]:
    """Everyone in the room hears that its stream ended."""
    return _to_room(room_id, protocol.ended(room_id, at))


def deleted_room(room_id: str, sockets: list[str]) -> list[Action]:
    """Everyone in the room hears that it is gone, then is disconnected."""
    actions = _to_room(room_id, protocol.deleted(room_id))
    return [*actions, disconnect_sockets(sockets)] if sockets else actions


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
    message = protocol.editor_message(data.raw)
    return send_to_rooms([room_id], protocol.MESSAGE_EVENT, message, except_rooms=[caller.socket_id])


def _refuse(caller: Caller, error: protocol.ProtocolError, event: str) -> Action:
    return send_to_socket(caller.socket_id, protocol.MESSAGE_EVENT, protocol.error_message(error, event))


def _to_room(room_id: str, message: dict[str, Any], except_socket: str | None = None) -> list[Action]:
    """To everyone in the room: viewers in `R`, writers in `R-control`, one room per action.

    Web PubSub's extension reads `rooms` and `exceptRooms` as `R or R-control and not S`,
    without parentheses, so with an exception each room needs an action of its own.
    """
    except_rooms = [except_socket] if except_socket else []
    rooms = [room_id, protocol.control_room(room_id)]
    if not except_rooms:
        return [send_to_rooms(rooms, protocol.MESSAGE_EVENT, message)]
    return [send_to_rooms([room], protocol.MESSAGE_EVENT, message, except_rooms=except_rooms) for room in rooms]


def _ask_writer(room_id: str) -> Action:
    request = protocol.editor_message(protocol.sync_request())
    return send_to_rooms([protocol.control_room(room_id)], protocol.MESSAGE_EVENT, request)
