"""The Function App's tables (the history and the sweep's index), made on first use per instance.

The settings are read on first use too: functions that touch no table (connect, negotiate of a
viewer) work whatever the storage settings say.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .room_index import RoomIndex
from .table_history import TableConnection, TableHistory, TableHistoryStore


class Storage:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    @functools.cached_property
    def service(self) -> Any:
        return TableConnection.from_env(self.env).service()

    @functools.cached_property
    def history(self) -> TableHistory:
        return TableHistory(self.service)

    @functools.cached_property
    def history_store(self) -> TableHistoryStore:
        return TableHistoryStore(self.history)

    @functools.cached_property
    def index(self) -> RoomIndex:
        return RoomIndex(self.service)
