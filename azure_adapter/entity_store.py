"""A RoomStore over Durable Entities, for one invocation: read the entities, signal operations.

The `Room` entity applies each signalled operation later, one at a time, with the same
`room_operations.apply` as every other store, and records the history in Table storage
(azure_adapter/room_entity.py). An answer a handler needs now (a join's version and text, a
leave's presence, an end's time, a delete's sockets) is computed with that function on the
state this invocation read, which may lag signals still queued; the version rules make
viewers converge anyway. A writer's message is only signalled: the keystroke path reads no
entity. History reads go to the Table store; the sweep reads the rooms' index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from shared.history import Page, Snapshot
from shared.history_store import HistoryStore
from shared.room import Received, Room
from shared.room_codec import RoomCodecError, room_from_dict, room_to_dict
from shared.room_operations import (
    ROOM_ENTITY,
    SOCKET_ENTITY,
    Delete,
    Deleted,
    Operation,
    Receive,
    Refused,
    Result,
    apply,
    encode,
    next_sweep_at,
    socket_room,
    sweep_verdict,
)
from shared.settings import Settings
from shared.store import Swept, live

from .entities import EntityStore, socket_key
from .room_entity import DROP
from .room_index import RoomIndex, due_second

log = logging.getLogger("codestream")

T = TypeVar("T")
_UNREAD = object()


class EntityRoomStore:
    def __init__(
        self, entities: EntityStore, settings: Settings, history: HistoryStore, index: RoomIndex | None = None
    ) -> None:
        self.entities = entities
        self.settings = settings
        self.history = history
        self.index = index  # only the sweep reads it
        self._rooms: dict[str, Any] = {}  # room id -> state, as this invocation last read or left it
        self._bound: dict[str, str] = {}  # socket id -> room id, bound by this invocation

    async def read(self, room_id: str, view: Callable[[Room], T]) -> T | None:
        room = live(await self._room(room_id))
        return None if room is None else view(room)

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        if await self.read(room_id, lambda room: True) is None:
            return None  # a tombstone's history may still be there until its delete has run
        return await self.history.read_text(room_id, version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        if await self.read(room_id, lambda room: True) is None:
            return None
        return await self.history.read_page(room_id, after, limit)

    async def sweep(self, now: float) -> Swept:
        """`room_operations.sweep_verdict` for each room the index says is due by `now`.

        Through its entity (which deletes the history and moves the index row): a room whose
        lifetime ran out gets `Delete`, one to forget without a trace (a tombstone past its
        time, a blank idle room) `drop`. A row that is not its room's (the room is gone, or its
        time moved and the entity has not yet removed the old row) is removed here.
        """
        if self.index is None:
            raise RuntimeError("the sweep needs the rooms' index")
        index = self.index
        swept: Swept = []
        for due in await asyncio.to_thread(index.due, now):
            room = await self._room(due.room_id)  # tombstones too
            verdict = None if room is None else sweep_verdict(room, now, self.settings)
            if verdict is True:
                await self.entities.signal(ROOM_ENTITY, due.room_id, DROP, {"at": now})
            elif isinstance(verdict, Delete):
                deleted = await self.apply(due.room_id, verdict)
                if isinstance(deleted, Deleted):
                    swept.append((due.room_id, list(deleted.sockets)))
            elif room is None or due_second(next_sweep_at(room, self.settings)) != due.at:
                await asyncio.to_thread(index.remove, due.room_id, due.at)
        return swept

    async def record_due(self) -> None:
        """Nothing: Azure has no per-room timer here; a room's next entry takes its waiting cursor."""

    async def apply(self, room_id: str, operation: Operation) -> Result:
        if isinstance(operation, Receive):
            await self._signal(room_id, operation)
            return Received(None)  # applied by the entity later
        room, result = apply(await self._room(room_id), room_id, operation, self.settings)
        if result is None or result is False or isinstance(result, Refused):
            return result  # nothing changed: no room to join or leave, a room that exists, a refusal
        self._rooms[room_id] = None if room is None else room_to_dict(room)
        await self._signal(room_id, operation)
        return result

    async def count(self) -> int:
        """Not known on Azure (entities cannot be counted cheaply): room limits are not enforced there."""
        return 0

    async def bind_socket(self, socket_id: str, room_id: str) -> None:
        self._bound[socket_id] = room_id
        await self.entities.signal(SOCKET_ENTITY, socket_key(socket_id), "bind", {"room_id": room_id})

    async def socket_room(self, socket_id: str) -> str | None:
        if socket_id in self._bound:  # this invocation's own bind: its signal may not have run yet
            return self._bound[socket_id]
        return socket_room(await self.entities.read(SOCKET_ENTITY, socket_key(socket_id)))

    async def unbind_socket(self, socket_id: str) -> str | None:
        room_id = await self.socket_room(socket_id)
        self._bound.pop(socket_id, None)
        if room_id is not None:
            await self.entities.signal(SOCKET_ENTITY, socket_key(socket_id), "unbind", {"socket_id": socket_id})
        return room_id

    async def _room(self, room_id: str) -> Room | None:
        state = self._rooms.get(room_id, _UNREAD)
        if state is _UNREAD:
            state = self._rooms[room_id] = await self.entities.read(ROOM_ENTITY, room_id)
        if state is None:
            return None
        try:
            return room_from_dict(state, self.settings)
        except RoomCodecError as error:  # treat as missing: a writer's join makes it anew
            log.error("room %s: %s", room_id, error)
            return None

    async def _signal(self, room_id: str, operation: Operation) -> None:
        name, value = encode(operation)
        await self.entities.signal(ROOM_ENTITY, room_id, name, value)
