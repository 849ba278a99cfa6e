"""When each room is next due for the sweep: a Table of (time, room), for the timer on Azure.

Durable Entities cannot be listed or queried cheaply, so the sweep reads this index instead
(table `streamrooms`, in the Function App's storage account beside the history). Each room has
one row, at `room_operations.next_sweep_at(room)`: its expiry; for a blank room nobody wrote
to, the time it may be forgotten as idle; for a tombstone, the end of its time. The Room
entity keeps it (azure_adapter/room_entity.py): whenever an operation moves that time (a room
made, written to for the first time, deleted, dropped; a blank room's joins and leaves) the
row moves. A keystroke in a written room moves nothing, so it costs no index write.

One partition (`due`), RowKey `{whole seconds, rounded up:012}.{room id}`: "everything due by
now" is one range read in time order, never a scan of the live rooms. Rooms change there at
human rates, far below what one partition takes (about 2,000 writes a second). Writes are
upserts and deletes of exact keys, so an entity batch that runs again rewrites the same rows.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from .table_names import ROOMS_TABLE, open_table

PARTITION = "due"


@dataclass(frozen=True, slots=True)
class Due:
    room_id: str
    at: int  # when it became due, in whole seconds rounded up (as its key holds it)


def due_second(at: float) -> int:
    """The whole second a time is indexed under (rounded up: never before it is due)."""
    return max(0, math.ceil(at))


def _key(at: float, room_id: str) -> str:
    return f"{due_second(at):012d}.{room_id}"


class RoomIndex:
    """Synchronous, as the Room entity runs (docs/AZURE.md); the timer calls it in a thread."""

    def __init__(self, service: Any, table: str = ROOMS_TABLE) -> None:
        self.service = service
        self.table_name = table

    @functools.cached_property
    def table(self) -> Any:
        return open_table(self.service, self.table_name)  # on first use: most functions touch no table

    def add(self, room_id: str, at: float) -> None:
        self.table.upsert_entity({"PartitionKey": PARTITION, "RowKey": _key(at, room_id), "room": room_id})

    def move(self, room_id: str, before: float | None, after: float | None) -> None:
        """The room's row from time `before` to `after` (None: no row); the new one first, so
        that a failure between the two leaves a row too many (the sweep removes it), not none."""
        if before is not None and after is not None and due_second(before) == due_second(after):
            return
        if after is not None:
            self.add(room_id, after)
        if before is not None:
            self.remove(room_id, before)

    def remove(self, room_id: str, at: float) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # already gone: a batch that ran again
            self.table.delete_entity(PARTITION, _key(at, room_id))

    def due(self, now: float, limit: int = 1000) -> list[Due]:
        """What is due by `now`, the earliest first, at most `limit` (the next sweep takes the rest)."""
        rows = self.table.query_entities(
            "PartitionKey eq @p and RowKey lt @high",
            parameters={"p": PARTITION, "high": f"{math.floor(now) + 1:012d}"},
            results_per_page=min(limit, 1000),
        )
        found = []
        for row in rows:
            found.append(Due(row["room"], int(row["RowKey"].split(".", 1)[0])))
            if len(found) >= limit:
                break
        return found
