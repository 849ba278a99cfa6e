"""The self-hosted ASGI app: negotiate, health, the rooms API, the static site, and Socket.IO.

It only translates: HTTP requests and Socket.IO events go to the core, and the actions
the core returns are performed with python-socketio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import engineio
import socketio
from socketio import packet
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from shared import protocol, rooms_api
from shared.capabilities import CapabilityError, Claims, issue_token, verify_token
from shared.handlers import Caller, Handlers, Throttles, internal_error
from shared.negotiate import HTTP_STATUS, error_body, negotiate, negotiate_body
from shared.protocol import ProtocolError, error_message
from shared.rooms_api import ApiAnswer
from shared.settings import Settings
from shared.store import RoomStore

from .fanout import FanoutManager
from .headers import SecurityHeaders
from .perform import perform

log = logging.getLogger("codestream")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static_site" / "dist"
NEGOTIATE_ROUTES = ("/api/negotiate", "/negotiate", "/register")
ROOMS_PREFIX = "/api/rooms/"

PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>codestream</title></head>
<body><h1>codestream server is running</h1>
<p>The web client has not been built: run <code>make run</code>, which builds
<code>static_site/dist</code> when the client sources are present.</p>
<p>The API is live: <a href="/api/negotiate">/api/negotiate</a>, <a href="/healthz">/healthz</a>.</p>
</body></html>
"""


@dataclass
class Server:
    """What one self-hosted process holds; `asgi` is what uvicorn serves."""

    settings: Settings
    secret: bytes
    store: RoomStore
    static_dir: Path = STATIC_DIR
    client_manager: Any = None  # socketio.AsyncRedisManager when several processes share rooms

    def __post_init__(self) -> None:
        self.handlers = Handlers(
            self.settings, self.secret, self.store, Throttles.for_settings(self.settings, time.time)
        )
        self.sio = CheckedSocketServer(
            async_mode="asgi",
            client_manager=self.client_manager or FanoutManager(),
            # None means same origin only; an empty list would switch the Origin check off.
            cors_allowed_origins=list(self.settings.allowed_origins) or None,
            # One socket's events are handled one after another, in the order sent: the
            # version rules cope with disorder, but a writer's stream should not need them.
            async_handlers=False,
            # Up to twice the protocol's limit reaches the core, which refuses it with an
            # `error`; past that the transport closes the connection.
            max_http_buffer_size=2 * self.settings.max_message_bytes + 64 * 1024,
        )
        self._register_events()
        # Cross-origin pages may call the API only from the allowlist, with its methods and header.
        cors = Middleware(
            CORSMiddleware,
            allow_origins=self.settings.allowed_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
        )
        http = Starlette(routes=self._routes(), middleware=[cors])
        self.asgi = SecurityHeaders(
            socketio.ASGIApp(self.sio, other_asgi_app=http, socketio_path=self.settings.socketio_path.lstrip("/"))
        )

    # --- HTTP ---

    def _routes(self) -> list[Route | Mount]:
        routes: list[Route | Mount] = [ApiRoute("GET", path, self.negotiate) for path in NEGOTIATE_ROUTES]
        routes += [
            ApiRoute("GET", "/healthz", self.health),
            ApiRoute("GET", ROOMS_PREFIX + "{room_id}/text", self.room_text),
            ApiRoute("GET", ROOMS_PREFIX + "{room_id}/history", self.room_history),
            ApiRoute("POST", ROOMS_PREFIX + "{room_id}/end", self.room_end),
            ApiRoute("DELETE", ROOMS_PREFIX + "{room_id}", self.room_delete),
            # Anything else under the rooms API gets a JSON 404, not the site's.
            _any_method(Route(ROOMS_PREFIX + "{rest:path}", _no_such_endpoint, include_in_schema=False)),
        ]
        if (self.static_dir / "index.html").is_file():
            routes.append(Mount("/", StaticFiles(directory=self.static_dir, html=True)))
        else:
            routes.append(Route("/", lambda request: HTMLResponse(PLACEHOLDER_PAGE), include_in_schema=False))
        return routes

    async def negotiate(self, request: Request) -> Response:
        query = {key: values[-1] for key, values in parse_qs(request.url.query).items()}
        try:
            grant = await negotiate(query, self.secret, self.store, time.time(), self.settings.max_rooms, self.settings)
        except ProtocolError as error:
            return JSONResponse(error_body(error), status_code=HTTP_STATUS[error.code])
        endpoint = f"{request.url.scheme}://{request.url.netloc}"
        path = self.settings.socketio_path
        token = issue_token(
            self.secret,
            endpoint + path,
            grant.user_id,
            grant.room_id,
            grant.role,
            self.settings.token_ttl_seconds,
            int(time.time()),
        )
        return JSONResponse(
            negotiate_body(grant, endpoint, path, token, self.settings), headers={"Cache-Control": "no-store"}
        )

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # --- the rooms API (shared/rooms_api.py): translate, answer, perform its actions ---

    async def room_text(self, request: Request) -> Response:
        return await self._api(request, rooms_api.text(self.store, _room_id(request), request.url.query))

    async def room_history(self, request: Request) -> Response:
        room_id = _room_id(request)
        return await self._api(request, rooms_api.history(self.store, room_id, request.url.query, self.settings))

    async def room_end(self, request: Request) -> Response:
        key = request.headers.get("authorization")
        answer = rooms_api.end(self.store, self.secret, _room_id(request), key, time.time(), request.url.query)
        return await self._api(request, answer)

    async def room_delete(self, request: Request) -> Response:
        key = request.headers.get("authorization")
        answer = rooms_api.delete(self.store, self.secret, _room_id(request), key, time.time(), request.url.query)
        return await self._api(request, answer)

    async def _api(self, request: Request, pending: Coroutine[Any, Any, ApiAnswer]) -> Response:
        """Answer a rooms API request: a body past the limit never reaches the core."""
        if not await _body_fits(request, rooms_api.MAX_BODY_BYTES):
            pending.close()
            return _json(rooms_api.body_too_large())
        try:
            answer = await pending
        except Exception:  # a bug must not take the server down
            log.exception("%s %s failed", request.method, request.url.path)
            answer = rooms_api.refusal(ProtocolError("internal", "the server failed on this request"))
        try:
            await perform(self.sio, answer.actions)
        except Exception:  # the room has changed all the same: say so, and log why its sockets were not told
            log.exception("%s %s: telling the room's sockets failed", request.method, request.url.path)
        return _json(answer)

    async def sweep(self) -> None:
        """Delete the rooms whose lifetime ran out, a few times a minute, until cancelled."""
        period = max(1.0, min(15.0, self.settings.room_idle_seconds / 4))
        while True:
            await asyncio.sleep(period)
            await perform(self.sio, await self.handlers.sweep())

    async def record_due(self) -> None:
        """Keep the sampled cursors whose turn came in the history, until cancelled."""
        while True:
            await asyncio.sleep(0.25)
            await self.store.record_due()

    async def flush_presence(self) -> None:
        """Tell viewers of the joins and leaves the core held back, until cancelled."""
        interval = self.settings.presence_interval_seconds
        if interval == 0:
            return
        while True:
            await asyncio.sleep(max(0.05, interval / 2))
            await perform(self.sio, await self.handlers.flush_presence())

    async def reap_lost_sockets(self) -> None:
        """With a shared store: end the sockets of server processes that died, until cancelled.

        Their `disconnect` never ran, so the rooms would count those viewers (and writers) forever.
        """
        lost_sockets = getattr(self.store, "lost_sockets", None)
        if lost_sockets is None:
            return
        async for socket_id in lost_sockets():
            await perform(self.sio, await self.handlers.disconnected(Caller(socket_id)))

    # --- Socket.IO ---

    def _register_events(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            claims = self._authenticate(environ, auth)
            await sio.save_session(sid, {"claims": claims})

        @sio.on(protocol.CONNECTED_EVENT)  # raised by CheckedSocketServer once the client knows it is connected
        async def connected(sid: str) -> None:
            await self._run(sid, protocol.CONNECTED_EVENT, self.handlers.connected)

        @sio.on(protocol.JOIN_ROOM_EVENT)
        async def join_room(sid: str, payload: Any = None, *_: Any) -> None:
            await self._run(sid, protocol.JOIN_ROOM_EVENT, self.handlers.join_room, payload)

        @sio.on(protocol.SEND_TO_ROOM_EVENT)
        async def send_to_room(sid: str, payload: Any = None, *_: Any) -> None:
            await self._run(sid, protocol.SEND_TO_ROOM_EVENT, self.handlers.send_to_room, payload)

        @sio.event
        async def disconnect(sid: str, *_: Any) -> None:
            await self._run(sid, protocol.DISCONNECTED_EVENT, self.handlers.disconnected)

    def _authenticate(self, environ: dict[str, Any], auth: Any) -> Claims:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token:
            token = (parse_qs(environ.get("QUERY_STRING", "")).get("access_token") or [None])[-1]
        if not isinstance(token, str) or not token:
            raise _refusal("no access_token")
        try:
            return verify_token(self.secret, token, self.settings.socketio_path, int(time.time()))
        except CapabilityError as error:
            raise _refusal(str(error)) from None

    async def _run(self, sid: str, event: str, handler: Any, *args: Any) -> None:
        """Run the core's handler for `event`; a failure reaches the client as `internal`."""
        try:
            claims = (await self.sio.get_session(sid)).get("claims")
        except KeyError:  # the socket is already gone
            claims = None
        try:
            actions = await handler(Caller(sid, claims), *args)
        except Exception:  # a bug must not take the server down
            log.exception("%s failed for socket %s", event, sid)
            actions = internal_error(sid, event)
        await perform(self.sio, actions)


class ApiRoute(Route):
    """A route for one method (GET also takes HEAD); any other gets a JSON 405.

    `method` is what docs/openapi.yaml documents for the path (a test holds the two equal).
    """

    def __init__(self, method: str, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.method = method
        allowed = [method, "HEAD"] if method == "GET" else [method]

        async def handle(request: Request) -> Response:
            if request.method not in allowed:
                return _json(rooms_api.method_not_allowed(allowed))
            return await endpoint(request)

        super().__init__(path, handle, name=f"{method} {path}")
        _any_method(self)


def _any_method(route: Route) -> Route:
    """Every method reaches the endpoint, which answers it (Starlette's default is GET only)."""
    route.methods = None
    return route


async def _no_such_endpoint(request: Request) -> Response:
    return _json(rooms_api.no_such_endpoint())


def _room_id(request: Request) -> str:
    return str(request.path_params["room_id"])


def _json(answer: ApiAnswer) -> Response:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _body_fits(request: Request, limit: int) -> bool:
    """Whether the request's body is at most `limit` bytes (read no further than that)."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > limit:
        return False
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return False
    return True


def _refusal(reason: str) -> socketio.exceptions.ConnectionRefusedError:
    """The client's `connect_error` gets `{message: reason, data: {code: "unauthorized"}}`."""
    return socketio.exceptions.ConnectionRefusedError(reason, {"code": "unauthorized"})


class _EngineServer(engineio.AsyncServer):
    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        # python-engineio answers a long-polling POST to a session that has just closed with an
        # uncaught KeyError (a 500 and a traceback); forgotten first, it gets a 400.
        scope = args[0] if args and isinstance(args[0], dict) else {}
        sid = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid") or [None])[-1]
        if sid is not None and sid in self.sockets and self.sockets[sid].closed:
            del self.sockets[sid]
        return await super().handle_request(*args, **kwargs)


class CheckedSocketServer(socketio.AsyncServer):
    """python-socketio with two changes: each packet is checked, and `connected` is raised.

    `connected` is raised once the CONNECT packet has gone out.

    Emitting from the `connect` handler would reach the client before it knows it is
    connected; Web PubSub has the same split (`connect`, then `connected`).
    """

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and self.manager.is_connected(sid, namespace):
            await self._trigger_event(protocol.CONNECTED_EVENT, namespace, sid)

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return _EngineServer

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Pass on CONNECT, DISCONNECT and the client events; refuse anything else with an `error`.

        Left to python-socketio, a broken or binary packet or an unknown event is dropped
        without a word (or logged with a traceback), and a client could raise the server's
        own `connect`/`disconnect` handlers by sending events with those names.
        """
        try:
            pkt = self.packet_class(encoded_packet=data)
        except Exception:  # not a Socket.IO packet at all
            await self._refuse_packet(eio_sid, "packet", "not a Socket.IO packet")
            return
        if pkt.packet_type in (packet.CONNECT, packet.DISCONNECT):
            await super()._handle_eio_message(eio_sid, data)
        elif pkt.packet_type != packet.EVENT or (pkt.namespace or "/") != "/":
            await self._refuse_packet(eio_sid, "packet", "only JSON events on namespace / are accepted")
        elif not isinstance(pkt.data, list) or not pkt.data or pkt.data[0] not in protocol.CLIENT_EVENTS:
            name = pkt.data[0] if isinstance(pkt.data, list) and pkt.data and isinstance(pkt.data[0], str) else None
            event = name if name is not None and len(name) <= 64 else "packet"
            await self._refuse_packet(eio_sid, event, f"unknown event: send {' or '.join(protocol.CLIENT_EVENTS)}")
        else:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)

    async def _refuse_packet(self, eio_sid: str, event: str, reason: str) -> None:
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None:  # no Socket.IO session to answer on (a broken CONNECT): close the connection
            await self.eio.disconnect(eio_sid)
        else:
            await self.emit(protocol.MESSAGE_EVENT, error_message(ProtocolError("bad_request", reason), event), to=sid)
