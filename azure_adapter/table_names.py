"""The Function App's own tables, in the host's storage account; infra/modules/storage.bicep makes them.

Not `codestreamHistory` or `codestreamInstances`: table names ignore case, and those are the
Durable task hub's (hub `codestream`, host.json).
"""

from typing import Any

HISTORY_TABLE = "streamhistory"  # entries and checkpoints, a partition per room (table_history.py)
ROOMS_TABLE = "streamrooms"  # when each room is due for the sweep (room_index.py)


def open_table(service: Any, name: str) -> Any:
    """The client of table `name`, made first if the account does not have it yet."""
    service.create_table_if_not_exists(name)
    return service.get_table_client(name)
