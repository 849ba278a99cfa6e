"""The older simulated host, kept only for tests/fuzz/test_fuzz_azure.py (calls the functions directly).

Everything else runs function_app in Microsoft's worker behind azure_local's stand-ins
(tests/azure/conftest.py). This module calls `app.get_functions()`, which may run once per
app object, so it must not share a process with the worker: `make test` runs it apart.

- `SocketIOService` plays Web PubSub for Socket.IO in serverless mode: it mints the
  negotiation result (as the `socketionegotiation` binding does), calls the function for
  each event with trigger JSON shaped as docs/AZURE.md describes, and performs the actions the
  function wrote to its `socketio` output (rooms, sendToRooms with exceptRooms, ...).
- `DurableExtension` answers the Durable client's HTTP calls (signal, read state) and runs
  queued operations through each entity's generated handler with the extension's batch
  JSON (an operation's input JSON-encoded twice, the state once).

Every function is called through what `app.get_functions()` returned, as the worker would.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import jwt

import function_app

ENDPOINT = "https://codestream-test.webpubsub.azure.com"
ACCESS_KEY = "test-access-key-for-the-simulated-service-0123456789"
CONNECTION_STRING = f"Endpoint={ENDPOINT};AccessKey={ACCESS_KEY};Version=1.0;"  # what negotiate mints with
RPC_BASE_URL = "http://127.0.0.1:7071/runtime/webhooks/durabletask/"
# The module (its package re-exports the class under the same name): the client looks up
# its HTTP helpers here when it is built.
client_module = importlib.import_module("azure.durable_functions.models.DurableOrchestrationClient")


@functools.cache
def functions() -> dict[str, Any]:
    """The app's functions by name. `get_functions()` may run once per app object."""
    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def bindings(name: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in functions()[name].get_raw_bindings()]


def trigger_function(event_name: str) -> str | None:
    """The function whose socketiotrigger listens for `event_name`, as the extension routes it."""
    for name in functions():
        for binding in bindings(name):
            if binding["type"] == "socketiotrigger" and binding["eventName"] == event_name:
                return name
    return None


class FakeOut:
    """`func.Out[str]` for tests: the value a function set, or None."""

    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, val: str) -> None:
        self.value = val

    def get(self) -> str | None:
        return self.value


# --- Durable extension ----------------------------------------------------------------


@dataclass
class DurableExtension:
    states: dict[tuple[str, str], str] = field(default_factory=dict)  # (entity, key) -> state JSON
    queue: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # every batch JSON sent, for tests

    def client_binding(self) -> str:
        """The JSON the `durableClient` input binding gives a function."""
        return json.dumps(
            {
                "taskHubName": "TestHubName",
                "creationUrls": {},
                "managementUrls": {},
                "baseUrl": RPC_BASE_URL,
                "requiredQueryStringParameters": "",
                "rpcBaseUrl": RPC_BASE_URL,
            }
        )

    def install(self, monkeypatch: Any) -> None:
        monkeypatch.setattr(client_module, "post_async_request", self._post)
        monkeypatch.setattr(client_module, "get_async_request", self._get)

    async def _post(self, url: str, data: Any = None, *_: Any) -> list[Any]:
        name, key, query = _entity_url(url)
        self.queue.append((name, key, query["op"][0], data))
        return [202, ""]

    async def _get(self, url: str, *_: Any) -> list[Any]:
        name, key, _query = _entity_url(url)
        state = self.states.get((name.lower(), key))
        return [404, ""] if state is None else [200, json.loads(state)]

    def state(self, name: str, key: str) -> Any:
        raw = self.states.get((name.lower(), key))
        return None if raw is None else json.loads(raw)

    async def run_pending(self) -> None:
        """Run queued operations, one batch per entity, in the order they were signalled."""
        while self.queue:
            name, key = self.queue[0][:2]
            batch = [item for item in self.queue if item[:2] == (name, key)]
            self.queue = [item for item in self.queue if item[:2] != (name, key)]
            self.run_batch(name, key, [(op, data) for _, _, op, data in batch])

    def run_batch(self, name: str, key: str, operations: list[tuple[str, str | None]]) -> dict[str, Any]:
        state = self.states.get((name.lower(), key))
        request = {
            "self": {"name": name, "key": key},
            "exists": state is not None,
            "state": state,
            # The client sent json.dumps(input); the extension stores that text and sends
            # it as a JSON string again: encoded twice.
            "batch": [{"name": op, "input": None if data is None else json.dumps(data)} for op, data in operations],
        }
        self.batches.append(request)
        handler = functions()[name].get_user_function()
        result = json.loads(handler(json.dumps(request)))
        if result["entityExists"]:
            self.states[(name.lower(), key)] = result["entityState"]
        else:
            self.states.pop((name.lower(), key), None)
        return result


def _entity_url(url: str) -> tuple[str, str, dict[str, list[str]]]:
    parts = urlsplit(url)
    assert url.startswith(RPC_BASE_URL + "entities/"), url
    name, key = parts.path.rsplit("/", 2)[-2:]
    return name, key, parse_qs(parts.query)


# --- Socket.IO service ----------------------------------------------------------------

Handler = Callable[..., Awaitable[Any]]


class ConnectionRefused(Exception):
    pass


@dataclass
class Socket:
    sid: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    received: list[tuple[str, list[Any]]] = field(default_factory=list)

    async def deliver(self, event: str, parameters: list[Any]) -> None:
        self.received.append((event, parameters))
        handler = self.handlers.get(event)
        if handler is not None:
            await handler(*parameters)


class SocketIOService:
    def __init__(self, durable: DurableExtension, hub: str) -> None:
        self.durable = durable
        self.path = "/clients/socketio/hubs/" + hub
        self.sockets: dict[str, Socket] = {}
        self.rooms: dict[str, set[str]] = {}
        self.performed: list[dict[str, Any]] = []
        self._next = 0

    # --- calling functions ---

    async def call(self, name: str, trigger: dict[str, Any]) -> str | None:
        """Run one function with trigger JSON; perform what it wrote to `socketio`; the return value."""
        fn = functions()[name].get_user_function()
        kwargs: dict[str, Any] = {"request": json.dumps(trigger)}
        names = {b["name"]: b["type"] for b in bindings(name)}
        out = FakeOut()
        if "out" in names:
            kwargs["out"] = out
        if "client" in names:
            kwargs["client"] = self.durable.client_binding()
        result = fn(**kwargs)
        if hasattr(result, "__await__"):
            result = await result
        await self.settle()
        written = out.get()
        if written is not None:  # function_app writes the list itself (JSON, no date parsing by the host)
            await self.perform(json.loads(written) if isinstance(written, str) else written)
        return result

    async def settle(self) -> None:
        await self.durable.run_pending()

    async def negotiate(self, route: str = "negotiate", origin: str | None = None, **query: str) -> func.HttpResponse:
        headers = {"Origin": origin} if origin else {}
        url = f"http://localhost:7071/api/{route}"
        request = func.HttpRequest("GET", url, headers=headers, params=query, body=b"")
        fn = functions()[route].get_user_function()
        response = await fn(req=request, client=self.durable.client_binding())
        await self.settle()
        return response

    # --- sockets ---

    async def connect(self, token: str, handlers: dict[str, Handler]) -> Socket:
        try:  # the service checks the token before anything reaches a function
            claims = jwt.decode(token, ACCESS_KEY.encode(), algorithms=["HS256"], options={"verify_aud": False})
        except jwt.PyJWTError as error:
            raise ConnectionRefused(str(error)) from None
        self._next += 1
        sid = f"sock{self._next}-Ab_c"
        trigger = {
            "namespace": "/",
            "socketId": sid,
            "claims": {k: [str(v)] for k, v in claims.items()},
            "query": {"EIO": ["4"], "transport": ["websocket"]},
            "headers": {"Host": ["codestream-test.webpubsub.azure.com"], "User-Agent": ["test"]},
            "clientCertificates": [],
        }
        status = json.loads(await self.call("connect", trigger) or "{}").get("statusCode")
        if status != 200:
            raise ConnectionRefused(f"connect answered {status}")
        socket = Socket(sid, handlers)
        self.sockets[sid] = socket
        self.rooms.setdefault(sid, set()).add(sid)
        await self.call("connected", {"namespace": "/", "socketId": sid})
        return socket

    async def emit(self, sid: str, event: str, *args: Any) -> None:
        name = trigger_function(event)
        if name is None or sid not in self.sockets:
            return  # no function listens: the service answers 404 and nothing happens
        packet = "42" + json.dumps([event, *args])
        trigger = {"namespace": "/", "socketId": sid, "payload": packet, "eventName": event, "parameters": list(args)}
        await self.call(name, trigger)

    async def disconnect(self, sid: str, reason: str = "client namespace disconnect") -> None:
        if self.sockets.pop(sid, None) is None:
            return
        for members in self.rooms.values():
            members.discard(sid)
        await self.call("disconnected", {"namespace": "/", "socketId": sid, "reason": reason})

    # --- actions ---

    async def perform(self, actions: Any) -> None:
        for action in actions if isinstance(actions, list) else [actions]:
            self.performed.append(action)
            await self._perform(action)

    async def _perform(self, action: dict[str, Any]) -> None:
        name = action["actionName"]
        assert action.get("namespace", "/") == "/", action
        if name == "sendToSocket":
            assert set(action) == {"actionName", "namespace", "socketId", "eventName", "parameters"}, action
            targets = {action["socketId"]}
        elif name == "sendToRooms":
            assert set(action) == {"actionName", "namespace", "rooms", "eventName", "parameters", "exceptRooms"}
            assert action["rooms"], "sendToRooms needs at least one room"
            excluded = set().union(*(self.rooms.get(r, set()) for r in action["exceptRooms"]))
            targets = set().union(*(self.rooms.get(r, set()) for r in action["rooms"])) - excluded
        elif name == "addSocketToRoom":
            assert set(action) == {"actionName", "namespace", "socketId", "room"}, action
            if action["socketId"] in self.sockets:
                self.rooms.setdefault(action["room"], set()).add(action["socketId"])
            return
        elif name == "removeSocketFromRoom":
            assert set(action) == {"actionName", "namespace", "socketId", "room"}, action
            self.rooms.get(action["room"], set()).discard(action["socketId"])
            return
        elif name == "disconnectSockets":
            assert set(action) == {"actionName", "namespace", "rooms", "closeUnderlyingConnection"}, action
            doomed = set().union(*(self.rooms.get(r, set()) for r in action["rooms"]))
            for sid in sorted(doomed):
                await self.disconnect(sid, reason="server namespace disconnect")
            return
        else:
            raise AssertionError(f"the harness does not know action {name!r}")
        for sid in sorted(targets):
            socket = self.sockets.get(sid)
            if socket is not None:
                await socket.deliver(action["eventName"], list(action["parameters"]))
