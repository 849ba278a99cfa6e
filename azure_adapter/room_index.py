"""Which rooms are due for the sweep, and when: a Table of (time, room), for the timer on Azure.

Durable Entities cannot be listed or queried cheaply, so the sweep reads this index instead
(table `streamrooms`, in the Function App's storage account beside the history). The Room
entity writes it, the one place every room is made or deleted (negotiate, a writer's join,
a forgotten room's next message):

- a room made: a row at its `expires_at` (`expire`);
- a room deleted or expired: that row goes, and one at `deleted_at + max_lifetime_seconds`
  comes (`drop`: the tombstone's end, when its entity is destructed).

One partition (`due`), RowKey `{whole seconds:012}.{room id}`: "everything due by now" is one
range read in time order, never a scan of the live rooms. Rooms are made at human rates, far
below what one partition takes (about 2,000 writes a second). Writes are upserts and deletes
of exact keys, so an entity batch that runs again rewrites the same rows.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Literal

from azure.core.exceptions import ResourceNotFoundError

from .table_names import ROOMS_TABLE

PARTITION = "due"
Kind = Literal["expire", "drop"]


@dataclass(frozen=True, slots=True)
class Due:
    room_id: str
    kind: Kind
    at: float  # when it became due (whole seconds, rounded up)


def _key(at: float, room_id: str) -> str:
    return f"{max(0, math.ceil(at)):012d}.{room_id}"


class RoomIndex:
    """Synchronous, as the Room entity runs (docs/AZURE.md); the timer calls it in a thread."""

    def __init__(self, service: Any, table: str = ROOMS_TABLE) -> None:
        self.service = service
        self.table_name = table
        self._table: Any = None

    @property
    def table(self) -> Any:
        if self._table is None:
            self.service.create_table_if_not_exists(self.table_name)
            self._table = self.service.get_table_client(self.table_name)
        return self._table

    def add(self, room_id: str, kind: Kind, at: float) -> None:
        row = {"PartitionKey": PARTITION, "RowKey": _key(at, room_id), "room": room_id, "kind": kind}
        self.table.upsert_entity(row)

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
            found.append(Due(row["room"], row["kind"], float(row["RowKey"].split(".", 1)[0])))
            if len(found) >= limit:
                break
        return found
