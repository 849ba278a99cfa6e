"""Where histories live: the interface every host's history store keeps, and its in-memory one.

A history store keeps, per room, the entries in the order appended and the checkpoints, each
after the entries appended before it (shared/history.py holds the rules). Appending is
write-behind where a store can make it so: `append` and `checkpoint` return before the data
is durable (the SQLite store makes it durable within a second), and reads see everything
appended before them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .history import EMPTY, Entry, Page, Snapshot, check_entries, check_snapshot, page, text_at


class HistoryStore(Protocol):
    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        """Add entries at the end of the room's history.

        HistoryError (and nothing kept) when one is malformed or its version is below the last.
        """
        ...

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        """Keep the room's whole text at `snapshot.version`, after the entries appended so far.

        HistoryError (and nothing kept) when it is malformed or its version is below the last.
        """
        ...

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        """The text at `version` (None: the latest); None when the room has no history."""
        ...

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        """Entries after version `after` (see `history.page`); None when the room has no history."""
        ...

    async def delete_history(self, room_id: str) -> None:
        """Forget the room's history (entries and checkpoints); nothing when there is none."""
        ...


@dataclass
class _History:
    entries: list[Entry] = field(default_factory=list)
    checkpoints: list[tuple[int, int, Snapshot]] = field(default_factory=list)  # (version, entries before, it)
    last_version: int | None = None  # of the last entry or checkpoint


class MemoryHistoryStore:
    """Histories in this process's memory: the tests' store."""

    def __init__(self) -> None:
        self.rooms: dict[str, _History] = {}

    async def append(self, room_id: str, entries: Sequence[Entry]) -> None:
        history = self.rooms.get(room_id)
        check_entries(entries, None if history is None else history.last_version)
        if entries:
            history = self.rooms.setdefault(room_id, _History())
            history.entries.extend(entries)
            history.last_version = entries[-1].version

    async def checkpoint(self, room_id: str, snapshot: Snapshot) -> None:
        history = self.rooms.get(room_id)
        check_snapshot(snapshot, None if history is None else history.last_version)
        history = self.rooms.setdefault(room_id, _History())
        history.checkpoints.append((snapshot.version, len(history.entries), snapshot))
        history.last_version = snapshot.version

    async def read_text(self, room_id: str, version: int | None = None) -> Snapshot | None:
        history = self.rooms.get(room_id)
        if history is None:
            return None
        base, position = EMPTY, 0
        if history.checkpoints:
            found = (
                len(history.checkpoints)
                if version is None
                else bisect.bisect_right(history.checkpoints, version, key=lambda c: c[0])
            )
            if found:
                _, position, base = history.checkpoints[found - 1]
        return text_at(base, history.entries[position:], version)

    async def read_page(self, room_id: str, after: int | None, limit: int) -> Page | None:
        history = self.rooms.get(room_id)
        return None if history is None else page(history.entries, after, limit)

    async def delete_history(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)
