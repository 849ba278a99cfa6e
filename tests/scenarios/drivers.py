"""One scenario suite, two adapters: the small interface scenarios are written against.

A driver negotiates over HTTP and connects `tests.support.clients` Writers and Viewers;
scenarios then use the clients alone (join, edit, emit, wait for messages).

- `SelfhostDriver`: a real `python -m selfhost` and real python-socketio clients.
- `AzureDriver`: `function_app` behind the simulated Socket.IO service and Durable
  extension of `tests/support/azure_host.py`; each client's socket is swapped for one that
  goes through the service, so the same Writer/Viewer code runs unchanged.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.support.azure_host import SocketIOService
from tests.support.clients import Client
from tests.support.negotiate import negotiate

C = TypeVar("C", bound=Client)


class Driver(Protocol):
    name: str

    async def negotiate(self, **query: str) -> tuple[int, dict[str, Any]]: ...

    async def connect(self, client: C) -> C:
        """Connect the client and wait for `login`."""
        ...

    async def settle(self) -> None:
        """Let work in flight finish (the self-hosted server needs no help)."""
        ...

    async def close(self) -> None: ...


class SelfhostDriver:
    name = "selfhost"

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[Client] = []

    async def negotiate(self, **query: str) -> tuple[int, dict[str, Any]]:
        return await negotiate(self.url, **query)

    async def connect(self, client: C) -> C:
        self.clients.append(client)
        await client.connect()
        return client

    async def settle(self) -> None:
        await asyncio.sleep(0.05)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class AzureDriver:
    name = "azure"

    def __init__(self, service: SocketIOService) -> None:
        self.service = service

    async def negotiate(self, **query: str) -> tuple[int, dict[str, Any]]:
        response = await self.service.negotiate(**query)
        return response.status_code, _json(response.get_body())

    async def connect(self, client: C) -> C:
        client.sio = ServiceSocket(self.service, {"login": client._on_login, "message": client._on_message})
        await client.connect()
        return client

    async def settle(self) -> None:
        await self.service.settle()

    async def close(self) -> None:
        for sid in list(self.service.sockets):
            await self.service.disconnect(sid)


class ServiceSocket:
    """The few `socketio.AsyncClient` methods the test clients use, through the simulated service."""

    def __init__(self, service: SocketIOService, handlers: dict[str, Any]) -> None:
        self.service = service
        self.handlers = handlers
        self.sid: str | None = None
        self.eio = _NoQueue()  # what Client.close() checks before disconnecting

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    async def connect(self, url: str, socketio_path: str = "", auth: Any = None, **_: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        token = token or (parse_qs(urlsplit(url).query).get("access_token") or [""])[0]
        socket = await self.service.connect(token, self.handlers)
        self.sid = socket.sid

    async def emit(self, event: str, data: Any = None) -> None:
        assert self.sid is not None, "not connected"
        await self.service.emit(self.sid, event, *([] if data is None else [data]))

    async def disconnect(self) -> None:
        if self.sid is not None:
            await self.service.disconnect(self.sid)


class _NoQueue:
    queue = None  # emits go through the service at once: nothing waits to be sent


def _json(body: bytes) -> dict[str, Any]:
    return json.loads(body)
