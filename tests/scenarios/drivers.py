"""One scenario suite, three hosts: the small interface scenarios are written against.

A driver negotiates over HTTP and connects `tests.support.clients` Writers and Viewers (real
python-socketio clients) to a running host (tests/support/hosts.py): self-hosted, self-hosted
over Redis, or the Azure build in Microsoft's worker behind the local stand-ins.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import aiohttp

from tests.support.clients import Client
from tests.support.negotiate import negotiate

C = TypeVar("C", bound=Client)
SETTLE_PATH = "/_local/settle"  # azure_local.host.SETTLE_PATH: the stand-in's entities are idle


class Driver:
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.clients: list[Client] = []

    async def negotiate(self, **query: str) -> tuple[int, dict[str, Any]]:
        return await negotiate(self.url, **query)

    async def connect(self, client: C) -> C:
        """Connect the client and wait for `login`."""
        self.clients.append(client)
        await client.connect()
        return client

    async def settle(self) -> None:
        """Let work in flight finish: on Azure, entity operations run after the function returned."""
        await asyncio.sleep(0.05)
        if self.name == "azure":
            async with aiohttp.ClientSession() as session, session.get(self.url + SETTLE_PATH) as response:
                assert response.status == 204, response.status

    async def close(self) -> None:
        for client in self.clients:
            if client.sio.connected:
                await client.close()
