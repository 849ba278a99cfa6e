"""The Function App's tables (the history and the sweep's index), made on first use per instance."""

from __future__ import annotations

import functools
from typing import Any

from .room_index import RoomIndex
from .table_history import TableConnection, TableHistory, TableHistoryStore


class Storage:
    def __init__(self, connection: TableConnection) -> None:
        self.connection = connection

    @functools.cached_property
    def service(self) -> Any:
        return self.connection.service()

    @functools.cached_property
    def history(self) -> TableHistory:
        return TableHistory(self.service)

    @functools.cached_property
    def history_store(self) -> TableHistoryStore:
        return TableHistoryStore(self.history)

    @functools.cached_property
    def index(self) -> RoomIndex:
        return RoomIndex(self.service)
