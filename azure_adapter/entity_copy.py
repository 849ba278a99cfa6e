"""Run the core's stateful handlers against a copy of the entities' state.

`joinRoom`, a sync request, `disconnected` and negotiate need the room. The adapter reads
the room (and the socket's room binding) into an in-memory store, lets the core decide
exactly as it does self-hosted, then turns what changed in that store into entity
operations: a room created, sockets that joined or left, a socket bound or forgotten.
The copy may lag signals not yet applied; the version rules make viewers converge anyway.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from shared.room import Room
from shared.room_codec import RoomCodecError, room_from_dict
from shared.room_operations import ROOM_ENTITY, SOCKET_ENTITY, socket_room
from shared.settings import Settings
from shared.store import MemoryRoomStore

from .entities import EntityStore, Signal, socket_key, socket_signal

log = logging.getLogger("codestream")

Members = tuple[frozenset[str], frozenset[str]]  # writers, viewers


@dataclass
class EntityCopy:
    store: MemoryRoomStore
    members_before: dict[str, Members]
    sockets_before: dict[str, str]

    @classmethod
    async def load(
        cls, entities: EntityStore, settings: Settings, room_id: str | None, socket_id: str | None = None
    ) -> EntityCopy:
        """Read the room `room_id` (else the one `socket_id` is bound to) and the binding."""
        socket_state, room_state = await asyncio.gather(
            entities.read(SOCKET_ENTITY, socket_key(socket_id)) if socket_id else _nothing(),
            entities.read(ROOM_ENTITY, room_id) if room_id else _nothing(),
        )
        store = MemoryRoomStore()
        bound = socket_room(socket_state)
        if bound is not None and socket_id is not None:
            store.sockets[socket_id] = bound
            if room_id is None:  # disconnected: the binding says which room to read
                room_id, room_state = bound, await entities.read(ROOM_ENTITY, bound)
        room = _room(room_id, room_state, settings) if room_id else None
        if room is not None:
            store.rooms[room.room_id] = room
        members = {key: (frozenset(r.writers), frozenset(r.viewers)) for key, r in store.rooms.items()}
        return cls(store, members, dict(store.sockets))

    def changes(self) -> list[Signal]:
        """The entity operations that make the entities what the core left in the store."""
        signals: list[Signal] = []
        for room_id, room in self.store.rooms.items():
            before = self.members_before.get(room_id)
            if before is None:
                signals.append(Signal(ROOM_ENTITY, room_id, "create", {"room_id": room_id}))
            writers, viewers = before or (frozenset(), frozenset())
            for role, now, was in (("writer", room.writers, writers), ("viewer", room.viewers, viewers)):
                for sid in sorted(now - was):
                    signals.append(Signal(ROOM_ENTITY, room_id, "join", {"socket_id": sid, "role": role}))
            for sid in sorted((writers | viewers) - room.writers - room.viewers):
                signals.append(Signal(ROOM_ENTITY, room_id, "leave", {"socket_id": sid}))
        for sid, room_id in self.store.sockets.items():
            if self.sockets_before.get(sid) != room_id:
                signals.append(socket_signal(sid, "bind", {"room_id": room_id}))
        for sid in sorted(self.sockets_before.keys() - self.store.sockets.keys()):
            signals.append(socket_signal(sid, "unbind", {"socket_id": sid}))
        return signals

    async def save(self, entities: EntityStore) -> None:
        for s in self.changes():  # in order: a room is created before sockets join it
            await entities.signal(s.name, s.key, s.operation, s.value)


async def _nothing() -> None:
    return None


def _room(room_id: str, state: Any, settings: Settings) -> Room | None:
    if state is None:
        return None
    try:
        return room_from_dict(state, settings)
    except RoomCodecError as error:  # treat as missing: a writer's join makes it anew
        log.error("room %s: %s", room_id, error)
        return None
