"""What each Azure function does, without the Functions SDK: trigger data in, actions out.

`function_app.py` declares the functions and hands each call to one method here. Rules
live in `shared.handlers`; room state lives in Durable Entities (`shared.room_operations`).

- A writer's message is checked (shape, size, rate, writer_key) without storage and
  relayed without reading the room; the room entity is only signalled (enqueued).
- joinRoom, sync requests, disconnected and negotiate read the entities, run the core on
  that copy (see entity_copy.py) and signal what changed.
- Socket.IO user events carry no claims, so the writer proves itself with `writer_key` in
  each joinRoom and sendToRoom; a client that sends none is a viewer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.actions import Action
from shared.capabilities import is_room_id
from shared.handlers import Caller, Handlers
from shared.limits import RateLimiter
from shared.negotiate import HTTP_STATUS, error_body, negotiate, negotiate_body
from shared.protocol import ProtocolError, parse_join_room
from shared.room import new_room
from shared.room_operations import ROOM_ENTITY
from shared.settings import Settings
from shared.store import MemoryRoomStore, RoomStore

from .connect import connect_status
from .entities import EntityStore
from .entity_copy import EntityCopy
from .events import SocketEvent
from .http import service_grant

log = logging.getLogger("codestream")


class Adapter:
    def __init__(self, settings: Settings, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.secret = secret
        self.clock = clock
        # One limiter for the instance: a socket's events may reach any instance, so this
        # is a best effort, as on any multi-process host.
        self.limiter = RateLimiter(settings.messages_per_second, time.monotonic)
        self._relay = self._handlers(MemoryRoomStore())  # relay_write reads no store

    def _handlers(self, store: RoomStore) -> Handlers:
        handlers = Handlers(self.settings, self.secret, store)
        handlers.limiter = self.limiter
        return handlers

    # --- HTTP ---

    async def negotiate(
        self, query: Mapping[str, str], negotiation: Any, entities: EntityStore
    ) -> tuple[int, dict[str, Any]]:
        """PROTOCOL.md's negotiate: (HTTP status, JSON body)."""
        room_id = query.get("room_id")
        copy = await EntityCopy.load(entities, self.settings, room_id if room_id and is_room_id(room_id) else None)
        try:
            grant = await negotiate(
                query, self.secret, copy.store, lambda rid: new_room(rid, self.settings, self.clock())
            )
        except ProtocolError as error:
            return HTTP_STATUS[error.code], error_body(error)
        endpoint, path, token = service_grant(negotiation)
        await copy.save(entities)
        return 200, negotiate_body(grant, endpoint, path, token, self.settings)

    # --- Socket.IO events ---

    def connect(self, event: SocketEvent) -> int:
        return connect_status(event, self.settings.socketio_path, self.clock())

    async def connected(self, event: SocketEvent) -> list[Action]:
        return await self._relay.connected(Caller(event.socket_id))

    async def join_room(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        copy = await EntityCopy.load(entities, self.settings, _join_room_id(event.payload), event.socket_id)
        actions = await self._handlers(copy.store).join_room(Caller(event.socket_id), event.payload)
        await copy.save(entities)
        return actions

    async def send_to_room(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        caller = Caller(event.socket_id)
        relay = self._relay.relay_write(caller, event.payload)
        if relay.sync and relay.room_id is not None:
            copy = await EntityCopy.load(entities, self.settings, relay.room_id)
            return await self._handlers(copy.store).answer_sync(caller, relay.room_id)
        if relay.message is not None and relay.room_id is not None:
            # signal_entity only enqueues the operation (one local call to the host); the
            # entity applies it later. Awaiting the enqueue here, not in a task that outlives
            # the invocation, means a frozen or recycled instance cannot lose the write.
            await entities.signal(ROOM_ENTITY, relay.room_id, "receive", {"data": dict(relay.message.raw)})
        return relay.actions

    async def disconnected(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        copy = await EntityCopy.load(entities, self.settings, None, event.socket_id)
        actions = await self._handlers(copy.store).disconnected(Caller(event.socket_id))
        await copy.save(entities)
        return actions


def _join_room_id(payload: object) -> str | None:
    """The room a joinRoom names, to know which entity to read; the core checks the rest."""
    try:
        return parse_join_room(payload).room_id
    except ProtocolError:
        return None
