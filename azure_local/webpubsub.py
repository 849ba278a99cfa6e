"""Web PubSub for Socket.IO in serverless mode, in front of the worker.

Real Socket.IO clients connect at `/clients/socketio/hubs/<hub>` with a negotiated token;
this python-socketio server plays the service and the Socket.IO Functions extension
(Azure/azure-sdk-for-net, sdk/webpubsub/Microsoft.Azure.WebJobs.Extensions.WebPubSubForSocketIO):

- the token is checked as the service checks it (HS256 with the access key of the connection
  string; `aud` ends in the hub's path) before anything reaches a function;
- `connect` goes to the worker with `{namespace, socketId, claims, query, headers,
  clientCertificates}` (each dictionary maps a name to an array of strings) and the socket is
  refused unless the function answers `statusCode` 200; a function that fails never answers,
  so the socket waits for the service's timeout and is refused (`connect_timeout`);
- `connected`, every client event and `disconnected` go to the function whose
  `socketiotrigger` names the event; events of one socket are handled one after another;
- the `socketio` output binding's actions are carried out as the extension turns them into
  Web PubSub calls, room filters included: for `sendToRooms` with several rooms it builds
  `'R1' in groups or 'R2' in groups and not ('S' in groups)` with no parentheses, and since
  `and` binds before `or`, `exceptRooms` then excludes only from the last room (`room_filter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
import socketio

from .newtonsoft import rewrite_dates
from .worker import Worker, WorkerError

log = logging.getLogger("azure_local.webpubsub")

TRIGGER = "socketiotrigger"
# engine.io's reasons, as the Socket.IO (JavaScript) server the service runs names them.
REASONS = {
    "client disconnect": "client namespace disconnect",
    "server disconnect": "server namespace disconnect",
    "ping timeout": "ping timeout",
    "transport close": "transport close",
    "transport error": "transport error",
}


@dataclass(frozen=True)
class ConnectionString:
    endpoint: str
    access_key: str

    @classmethod
    def parse(cls, text: str) -> ConnectionString:
        parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
        return cls(parts["Endpoint"].rstrip("/"), parts["AccessKey"])

    def text(self) -> str:
        return f"Endpoint={self.endpoint};AccessKey={self.access_key};Version=1.0;"


def hub_path(hub: str) -> str:
    return f"/clients/socketio/hubs/{hub}"


def negotiation(connection: ConnectionString, hub: str, now: float, ttl: float = 3600) -> dict[str, str]:
    """The `socketionegotiation` binding's value, minted as the extension does with a key."""
    audience = f"{connection.endpoint}/clients/socketio/hubs/{hub}"
    claims = {"nbf": int(now), "exp": int(now + ttl), "iat": int(now), "aud": audience}
    token = jwt.encode(claims, connection.access_key.encode("utf-8"), algorithm="HS256")
    return {"endpoint": connection.endpoint, "path": hub_path(hub), "token": token}


def check_token(token: str, connection: ConnectionString, hub: str) -> dict[str, Any]:
    """The claims of a client token the service would accept; jwt.PyJWTError otherwise.

    The service accepts the Socket.IO audience and, from tokens minted for the default
    protocol (the extension's managed-identity path), `/client/hubs/<hub>`.
    """
    claims: dict[str, Any] = jwt.decode(
        token, connection.access_key.encode("utf-8"), algorithms=["HS256"], options={"verify_aud": False}
    )
    audience = str(claims.get("aud", "")).rstrip("/")
    if not (audience.endswith(hub_path(hub)) or audience.endswith(f"/client/hubs/{hub}")):
        raise jwt.InvalidAudienceError(f"the token is for {audience!r}, not hub {hub!r}")
    return claims


def room_filter(rooms: list[str], except_rooms: list[str]) -> Callable[[set[str]], bool]:
    """The extension's filter for a multi-room send, evaluated with OData precedence.

    `R1 or R2 or ... or Rn and not S1 and not S2`: `and` binds first, so the exclusion
    applies to the last room only.
    """
    *head, last = rooms

    def selected(groups: set[str]) -> bool:
        return any(r in groups for r in head) or (last in groups and not any(s in groups for s in except_rooms))

    return selected


@dataclass
class Socket:
    sid: str
    rooms: set[str] = field(default_factory=set)


class SocketIOService:
    def __init__(
        self,
        worker: Worker,
        connection: ConnectionString,
        hub: str,
        inputs: Callable[[Any], dict[str, Any]],
        connect_timeout: float = 5.0,
    ) -> None:
        self.worker = worker
        self.connection = connection
        self.hub = hub
        self.inputs = inputs  # the other input bindings of a function (the durable client)
        self.connect_timeout = connect_timeout
        self.sockets: dict[str, Socket] = {}
        self.performed: list[dict[str, Any]] = []  # every action carried out, for tests
        self.sio = socketio.AsyncServer(async_mode="asgi", async_handlers=False, cors_allowed_origins="*")
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("*", self._event)

    def asgi(self, other: Any) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, other_asgi_app=other, socketio_path=hub_path(self.hub).lstrip("/"))

    # --- from clients ---

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        token = auth.get("token") if isinstance(auth, dict) else None
        token = token or (query.get("access_token") or [""])[0]
        try:
            claims = check_token(str(token), self.connection, self.hub)
        except jwt.PyJWTError as error:
            raise socketio.exceptions.ConnectionRefusedError(f"unauthorized: {error}") from None
        trigger = {
            "namespace": "/",
            "socketId": sid,
            "claims": {name: [str(value)] for name, value in claims.items()},
            "query": {name: values for name, values in query.items() if name != "access_token"},
            "headers": _headers(environ),
            "clientCertificates": [],
        }
        status = await self._connect_status(trigger)
        if status != 200:
            reason = "the connect handler timed out" if status is None else f"connect answered {status}"
            raise socketio.exceptions.ConnectionRefusedError(reason)
        self.sockets[sid] = Socket(sid, {sid})  # a socket is in the room named by its id
        asyncio.get_running_loop().create_task(self._call("connected", {"namespace": "/", "socketId": sid}))

    async def _connect_status(self, trigger: dict[str, Any]) -> int | None:
        function = self.worker.trigger_for(TRIGGER, eventName="connect")
        if function is None:
            return 200  # no connect handler: the service accepts
        try:
            result = await self.worker.invoke(function.name, self._inputs(function, trigger))
        except WorkerError:
            log.exception("connect failed; the service waits for its timeout")
            await asyncio.sleep(self.connect_timeout)
            return None
        answer = json.loads(result.return_value) if result.return_value else {}
        return int(answer.get("statusCode", 200)) if isinstance(answer, dict) else 200

    async def _event(self, event: str, sid: str, *args: Any) -> None:
        if sid not in self.sockets:
            return
        packet = "42" + json.dumps([event, *args], separators=(",", ":"))
        # `parameters` as the extension parsed them (dates rewritten); `payload` is the packet as sent.
        parameters = rewrite_dates(list(args))
        trigger = {"namespace": "/", "socketId": sid, "payload": packet, "eventName": event, "parameters": parameters}
        await self._call(event, trigger)

    async def _disconnect(self, sid: str, reason: str = "client disconnect") -> None:
        if self.sockets.pop(sid, None) is None:
            return
        trigger = {"namespace": "/", "socketId": sid, "reason": REASONS.get(reason, reason)}
        await self._call("disconnected", trigger)

    # --- to the worker ---

    def _inputs(self, function: Any, trigger: dict[str, Any]) -> dict[str, Any]:
        inputs = {function.trigger["name"]: self.worker.string(json.dumps(trigger))}
        inputs.update(self.inputs(function))
        return inputs

    async def _call(self, event: str, trigger: dict[str, Any]) -> None:
        function = self.worker.trigger_for(TRIGGER, eventName=event)
        if function is None:
            return  # no function listens: the service drops the event
        try:
            result = await self.worker.invoke(function.name, self._inputs(function, trigger))
        except WorkerError:
            log.exception("%s failed for socket %s", event, trigger["socketId"])
            return
        await self.perform_outputs(function, result)

    async def perform_outputs(self, function: Any, result: Any) -> None:
        """Carry out what a function wrote to its `socketio` output bindings (any trigger's function)."""
        for binding in function.binding("OUT", "socketio"):
            value = result.outputs.get(binding["name"])
            if value is not None:
                actions = json.loads(value)
                # The host reads an output written as a string with date parsing on, JSON without.
                string = result.output_kinds.get(binding["name"]) == "string"
                await self.perform(rewrite_dates(actions) if string else actions)

    # --- the output binding ---

    async def perform(self, actions: Any) -> None:
        for action in actions if isinstance(actions, list) else [actions]:
            self.performed.append(action)
            await self._perform(action)

    async def _perform(self, action: dict[str, Any]) -> None:
        name = action.get("actionName")
        namespace = action.get("namespace") or "/"
        if namespace != "/":
            return  # no socket of ours is in another namespace
        if name == "sendToSocket":
            await self._send([action["socketId"]], action)
        elif name == "sendToRooms":
            await self._send(self._targets(action["rooms"], action.get("exceptRooms") or []), action)
        elif name == "sendToNamespace":
            excluded = set(action.get("exceptRooms") or [])
            await self._send([s.sid for s in self.sockets.values() if not s.rooms & excluded], action)
        elif name == "addSocketToRoom":
            if action["socketId"] in self.sockets:
                self.sockets[action["socketId"]].rooms.add(action["room"])
        elif name == "removeSocketFromRoom":
            if action["socketId"] in self.sockets:
                self.sockets[action["socketId"]].rooms.discard(action["room"])
        elif name == "disconnectSockets":
            doomed = [s.sid for s in self.sockets.values() if s.rooms & set(action["rooms"])]
            for sid in doomed:
                await self.sio.disconnect(sid)
        else:
            raise ValueError(f"Not supported action {name!r}")  # the extension throws ArgumentException

    def _targets(self, rooms: list[str], except_rooms: list[str]) -> list[str]:
        if not rooms:
            raise ValueError("Rooms cannot be null or empty.")
        # One room: SendToGroup(room) filtered by `not (S1) and not (S2)`; several: SendToAll
        # with the unparenthesised filter. room_filter is both.
        selected = room_filter(rooms, except_rooms)
        return [s.sid for s in self.sockets.values() if selected(s.rooms)]

    async def _send(self, sids: list[str], action: dict[str, Any]) -> None:
        parameters = list(action.get("parameters") or [])
        data = tuple(parameters) if len(parameters) != 1 else parameters[0]
        for sid in sids:
            if sid in self.sockets:
                await self.sio.emit(action["eventName"], data if parameters else None, to=sid)


def _headers(environ: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = "-".join(part.capitalize() for part in key[5:].split("_"))
            headers.setdefault(name, []).append(str(value))
    return headers
