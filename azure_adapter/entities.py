"""Durable Entities as the adapter sees them: read a state, signal an operation.

`EntityStore` is what the adapter needs; `DurableEntities` is it over the Durable Functions
client binding. Tests put a simulated extension behind the same client.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Protocol

import azure.durable_functions as df

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")


class EntityStore(Protocol):
    async def read(self, name: str, key: str) -> Any:
        """The entity's state, or None when it does not exist. May lag recent signals."""
        ...

    async def signal(self, name: str, key: str, operation: str, value: dict[str, Any]) -> None:
        """Queue `operation` for the entity; it runs later, one operation at a time."""
        ...


class DurableEntities:
    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self.client = client

    async def read(self, name: str, key: str) -> Any:
        response = await self.client.read_entity_state(df.EntityId(name, key))
        if not response.entity_exists:
            return None
        state = response.entity_state
        # The state is saved as a JSON object; should it come back as its text, decode it.
        return json.loads(state) if isinstance(state, str) else state

    async def signal(self, name: str, key: str, operation: str, value: dict[str, Any]) -> None:
        # signal_entity sends no input for a falsy value, so operations always get an object.
        await self.client.signal_entity(df.EntityId(name, key), operation, value)


def socket_key(socket_id: str) -> str:
    """An entity key for a socket id: as is when URL-safe, else base64url with a prefix.

    The client puts the key into a URL path unescaped, so it must not hold `/`, `?` or `#`.
    """
    if _SAFE_KEY.fullmatch(socket_id):
        return socket_id
    return "b64." + base64.urlsafe_b64encode(socket_id.encode("utf-8")).rstrip(b"=").decode("ascii")
