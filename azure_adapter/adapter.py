"""What each Azure function does, without the Functions SDK: trigger data in, actions out.

`function_app.py` declares the functions and hands each call to one method here. Rules
live in `shared.handlers`, run exactly as self-hosted over `EntityRoomStore`, which keeps
rooms in Durable Entities (`shared.room_operations`).

- A writer's message is checked (shape, size, rate, writer_key) without storage, relayed,
  and signalled to the room entity; the keystroke path reads no entity.
- Socket.IO user events carry no claims, so the writer proves itself with `writer_key` in
  each joinRoom and sendToRoom; a client that sends none is a viewer.
- One `Throttles` per instance: rate limits and presence throttling are a per-instance
  best effort, since a socket's events may reach any instance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from shared import rooms_api
from shared.actions import Action
from shared.handlers import Caller, Handlers, Throttles, on_connected
from shared.negotiate import HTTP_STATUS, error_body, negotiate, negotiate_body
from shared.protocol import ProtocolError
from shared.rooms_api import ApiAnswer, Query
from shared.settings import Settings

from .connect import connect_status
from .entities import EntityStore
from .entity_store import EntityRoomStore
from .events import SocketEvent
from .service_tokens import TokenMinter
from .storage import Storage


class Adapter:
    def __init__(
        self,
        settings: Settings,
        secret: bytes,
        tokens: TokenMinter,
        storage: Storage,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.tokens = tokens
        self.storage = storage
        self.clock = clock
        self.throttles = Throttles.for_settings(settings, time.monotonic)

    def _store(self, entities: EntityStore, with_index: bool = False) -> EntityRoomStore:
        index = self.storage.index if with_index else None
        return EntityRoomStore(entities, self.settings, self.storage.history_store, index)

    def _handlers(self, entities: EntityStore, with_index: bool = False) -> Handlers:
        return Handlers(self.settings, self.secret, self._store(entities, with_index), self.throttles, self.clock)

    # --- HTTP ---

    async def negotiate(self, query: Mapping[str, str], entities: EntityStore) -> tuple[int, dict[str, Any]]:
        """PROTOCOL.md's negotiate: (HTTP status, JSON body)."""
        store = self._store(entities)
        try:
            grant = await negotiate(query, self.secret, store, self.clock(), settings=self.settings)
        except ProtocolError as error:
            return HTTP_STATUS[error.code], error_body(error)
        endpoint, path, token = await self.tokens.mint(grant.user_id, self.settings.token_ttl_seconds)
        return 200, negotiate_body(grant, endpoint, path, token, self.settings)

    # The rooms API (docs/API.md): shared/rooms_api.py over the entities and the Table history.

    async def room_text(self, room_id: str, query: Query, entities: EntityStore) -> ApiAnswer:
        return await rooms_api.text(self._store(entities), room_id, query)

    async def room_history(self, room_id: str, query: Query, entities: EntityStore) -> ApiAnswer:
        return await rooms_api.history(self._store(entities), room_id, query, self.settings)

    async def end_room(self, room_id: str, authorization: str | None, query: Query, entities: EntityStore) -> ApiAnswer:
        store = self._store(entities)
        return await rooms_api.end(store, self.secret, room_id, authorization, self.clock(), query)

    async def delete_room(
        self, room_id: str, authorization: str | None, query: Query, entities: EntityStore
    ) -> ApiAnswer:
        store = self._store(entities)
        return await rooms_api.delete(store, self.secret, room_id, authorization, self.clock(), query)

    # --- the timer ---

    async def sweep(self, entities: EntityStore) -> list[Action]:
        """Expired rooms go as deleted ones do: their sockets hear `deleted` and are disconnected."""
        return await self._handlers(entities, with_index=True).sweep()

    # --- Socket.IO events ---

    def connect(self, event: SocketEvent) -> int:
        return connect_status(event, self.settings.hub, self.clock())

    async def connected(self, event: SocketEvent) -> list[Action]:
        return on_connected(Caller(event.socket_id))

    async def join_room(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        handlers = self._handlers(entities)
        return await handlers.flush_presence() + await handlers.join_room(Caller(event.socket_id), event.payload)

    async def send_to_room(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        handlers = self._handlers(entities)
        return await handlers.flush_presence() + await handlers.send_to_room(Caller(event.socket_id), event.payload)

    async def disconnected(self, event: SocketEvent, entities: EntityStore) -> list[Action]:
        handlers = self._handlers(entities)
        return await handlers.flush_presence() + await handlers.disconnected(Caller(event.socket_id))
