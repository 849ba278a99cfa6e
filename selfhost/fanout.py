"""Broadcasts encoded once and written to every viewer's connection: every override of
python-socketio's, python-engineio's and uvicorn's internals lives here.

python-socketio's manager starts one task per recipient; each puts the packet on that socket's
engineio queue, whose writer task wakes, and uvicorn then frames (and, with permessage-deflate,
compresses) the same message again for every viewer. Here a broadcast builds the Socket.IO
packet, the Engine.IO packet and the WebSocket frame once (a large message's compressed frame
too, once for all the viewers that negotiated permessage-deflate), and for each recipient on a
WebSocket with nothing queued or in flight and no backpressure writes that frame straight to
its transport: no task, queue or timer per recipient. Any other recipient (long-polling, a
queue or a send in flight, a paused transport, an upgrade under way) gets the packet through
engineio's queue, so each socket's packets stay in order. An idle viewer's connection keeps
nothing of its handshake (the request and response, engineio's body reader), and one service
task keeps every socket's heartbeat (engineio's keeps a task per ping).

Nothing is changed at import: `install()` (called by `python -m selfhost`) checks that every
name and signature relied on is there, patches, and returns uvicorn's `ws` class; if the check
fails it logs why and leaves the libraries as they are (the managers then defer to
python-socketio). Written for the versions pinned in requirements-selfhost.txt;
tests/fanout/test_canary.py fails when an upgrade changes the code copied or relied on here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import itertools
import logging
import operator
import time
import zlib
from dataclasses import dataclass
from typing import Any

import engineio
import socketio
from engineio import async_socket as engineio_async_socket
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet
from socketio import packet

from .frames import text_frame

log = logging.getLogger("codestream")

# Messages this long or longer go compressed to viewers that negotiated permessage-deflate
# (a 1 MB full shrinks several times), compressed once for all of them; shorter ones go as one
# uncompressed frame for everyone.
COMPRESS_MIN_BYTES = 8 * 1024
# A viewer whose engineio queue holds this many packets has stopped reading (its transport is
# paused and its kernel buffers are full): it is cut off, so its memory stays bounded.
MAX_QUEUED_PACKETS = 256
# Where the WebSocket protocol puts itself in the ASGI scope's extensions.
SCOPE_EXTENSION = "codestream.connection"


@dataclass
class Counters:
    """Recipients served by each path since start (the tests and the bench read them)."""

    direct: int = 0
    queued: int = 0
    cut_off: int = 0
    deflated: int = 0  # messages compressed here (once per broadcast and set of deflate settings)
    pings_direct: int = 0  # Engine.IO pings written straight to a WebSocket


counters = Counters()
_active = False  # set by install() once the check passed


def active() -> bool:
    return _active


# --- the broadcast ---


async def deliver(
    manager: socketio.AsyncManager, event: str, data: Any, namespace: str, room: Any, skip_sid: Any
) -> None:
    """Send `event` to this process's sockets in `room` (all of the namespace when None)."""
    if namespace not in manager.rooms:
        return
    # As in python-socketio: a tuple is several arguments, None is none.
    args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
    skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
    encoded = manager.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args]).encode()
    if isinstance(encoded, list):  # binary attachments: several packets, engineio's way
        pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in encoded]
        for sid, eio_sid in list(manager.get_participants(namespace, room)):
            if sid not in skip:
                for p in pkts:
                    await manager.server._send_eio_packet(eio_sid, p)
        return
    pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
    payload = pkt.encode().encode()
    deflated = _Deflated(payload) if len(payload) >= COMPRESS_MIN_BYTES else None
    # Every recipient's route is read first, then the frames are written in one C loop: each
    # kernel write evicts the caches, and the checks' objects were missed after every one. All
    # the direct writes come before the first await, while the routes read are still true.
    writes: list[Any] = []  # the ready WebSockets' transport.write
    deflating: list[_Route] = []  # ready, and negotiated permessage-deflate for a large message
    queued: list[tuple[str, Any]] = []  # the others: (eio_sid, socket), through engineio's queue
    sockets = manager.server.eio.sockets
    for sid, eio_sid in list(manager.get_participants(namespace, room)):
        if sid in skip:
            continue
        s = sockets.get(eio_sid)
        if s is None:
            continue  # gone since it joined: python-socketio's path would skip it too
        route = _ready(s)
        if route is None:
            queued.append((eio_sid, s))
        elif deflated is not None and route.ws.extensions:
            deflating.append(route)
        else:
            writes.append(route.write)
    frame = text_frame(payload)
    collections.deque(map(operator.call, writes, itertools.repeat(frame)), maxlen=0)
    for route in deflating:
        assert deflated is not None
        route.transport.write(_compressed(route.ws, payload, deflated))
    counters.direct += len(writes) + len(deflating)
    for eio_sid, s in queued:
        if s.queue.qsize() < MAX_QUEUED_PACKETS or not _cut_off(s):
            counters.queued += 1
            await manager.server._send_eio_packet(eio_sid, pkt)


def _ready(s: Any) -> _Route | None:
    """The socket's route if a frame written now keeps its order (else None: use its queue).

    This runs once per recipient: it reads plain attributes of the fewest objects (the socket,
    its route, engineio's queue and the transport), the connection's state through `route.open`."""
    route = s.codestream_route
    if (
        route is not None
        and route.open  # accepted, no backpressure, no close frame sent or received
        and not route.pending  # nothing queued in engineio ...
        and not s.codestream_sending  # ... or in its writer's hands
        and s.upgraded
        and not s.closing
        and not s.closed
        and not route.transport.is_closing()  # uvloop closes it at once on a write error
    ):
        return route
    return None


class _Route:
    """What the fast path reads of one viewer's WebSocket, kept by the connection itself."""

    __slots__ = ("connection", "open", "pending", "transport", "write", "ws")

    def __init__(self, connection: Any) -> None:
        self.connection = connection  # our uvicorn protocol
        self.transport = connection.transport
        self.write = connection.transport.write
        self.ws = connection.conn  # websockets' sans-I/O protocol
        self.open = False  # set by the connection after each event (Connection.refresh)
        self.pending: Any = ()  # the engineio queue's deque, once a socket upgrades to it

    def abort(self) -> None:
        self.open = False
        self.transport.abort()


def _compressed(ws: Any, payload: bytes, deflated: _Deflated) -> bytes:
    """A large message's frame for a viewer that negotiated permessage-deflate."""
    compressed = deflated.frame(ws.extensions)
    if compressed is None:  # not our settings: websockets compresses it with this connection's context
        ws.send_text(payload)
        compressed = b"".join(ws.data_to_send())
    return compressed


class _Deflated:
    """One large message, compressed once for every viewer whose permessage-deflate has the same
    settings: with no context takeover the output depends on nothing else (websockets' own
    PerMessageDeflate.encode, which this mirrors, starts a fresh compressor for each message)."""

    __slots__ = ("frames", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.frames: dict[tuple[Any, ...], bytes] = {}

    def frame(self, extensions: list[Any]) -> bytes | None:
        """The compressed frame for a connection with these extensions; None if not ours to make."""
        if len(extensions) != 1 or not isinstance(extensions[0], _DEFLATE):
            return None
        deflate = extensions[0]
        if not deflate.local_no_context_takeover:
            return None
        bits, settings = deflate.local_max_window_bits, deflate.compress_settings
        key = (bits, *sorted(settings.items()))
        if (frame := self.frames.get(key)) is None:
            encoder = zlib.compressobj(wbits=-bits, **settings)
            data = encoder.compress(self.payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
            # Without the sync flush's final empty block (00 00 ff ff), as RFC 7692 7.2.1 says.
            frame = self.frames[key] = text_frame(data[:-4], compressed=True)
            counters.deflated += 1
        return frame


def _cut_off(s: Any) -> bool:
    route = s.codestream_route
    if route is None or route.connection.disconnected:
        return False
    log.info("cutting off socket %s: it stopped reading (%d packets queued)", s.sid, s.queue.qsize())
    counters.cut_off += 1
    route.abort()  # engineio then closes the socket as for any lost connection
    return True


class FanoutManager(socketio.AsyncManager):
    """The single-process manager."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None or not _active:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to)
        await deliver(self, event, data, namespace, to or room, skip_sid)


class FanoutRedisManager(socketio.AsyncRedisManager):
    """Several processes over Redis: each delivers what reaches it to its own sockets."""

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("callback") is not None or message.get("binary") or not _active:
            return await super()._handle_emit(message)
        data = message["data"]
        if isinstance(data, list):
            data = data[0] if len(data) == 1 else tuple(data)
        await deliver(
            self, message["event"], data, message.get("namespace") or "/", message.get("room"), message.get("skip_sid")
        )


# --- the heartbeat ---

# engineio keeps each socket's heartbeat with a task per ping (a sleep, then the socket's queue
# and writer task) and checks one socket every ping_timeout / N seconds on a timer of its own:
# at 500 idle viewers about 26 µs of CPU per viewer per second. Here one service task wakes
# every HEARTBEAT_TICK seconds, pings every socket whose ping is due (the frame written straight
# to a ready WebSocket, the library's queue otherwise) and ends those that stopped answering.
HEARTBEAT_TICK = 1.0
_PING_FRAME = text_frame(eio_packet.Packet(eio_packet.PING).encode().encode())


def _schedule_ping(self: Any) -> None:
    """engineio's schedule_ping (on a PONG, and once at connect): the ping is now due in
    ping_interval seconds, sent by the service task instead of a task of its own."""
    if self.last_ping:  # as engineio: only once the previous ping was answered
        self.last_ping = None
        self.codestream_ping_due = time.monotonic() + self.server.ping_interval


async def _service_task(self: Any) -> None:
    """engineio's AsyncServer._service_task, which also sends the pings that are due."""
    loop = asyncio.get_running_loop()
    self.service_task_event = self.create_event()
    tick = min(HEARTBEAT_TICK, self.ping_interval / 4)
    while not self.service_task_event.is_set():
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick):
                    await self.service_task_event.wait()
                break  # the server is shutting down
            await _beat(self)
        except asyncio.CancelledError:
            break
        except Exception:
            if loop.is_closed():
                break
            log.exception("heartbeat: unexpected error")  # as engineio: log it and go on


async def _beat(server: Any) -> None:
    now, wall = time.monotonic(), time.time()
    for s in list(server.sockets.values()):
        if s.closed:
            server.sockets.pop(s.sid, None)
        elif s.closing:
            continue
        elif s.last_ping and wall - s.last_ping > server.ping_timeout:
            await s.check_ping_timeout()  # closes the socket, as engineio's service task does
            if s.closed and s.codestream_route is not None:
                # engineio would leave its WebSocket open for as long as the client sends anything
                s.codestream_route.abort()
        elif (due := s.codestream_ping_due) is not None and due <= now:
            s.codestream_ping_due = None
            s.last_ping = wall  # as engineio's _send_ping
            route = _ready(s)
            if route is not None:
                route.transport.write(_PING_FRAME)
                counters.pings_direct += 1
            else:
                await s.send(eio_packet.Packet(eio_packet.PING))


# --- the overrides ---

_library_poll = engineio_async_socket.AsyncSocket.poll
_library_upgrade = engineio_async_socket.AsyncSocket._upgrade_websocket
_library_schedule_ping = engineio_async_socket.AsyncSocket.schedule_ping
_library_service_task = engineio.AsyncServer._service_task


async def _poll(self: Any) -> list[Any]:
    """engineio's AsyncSocket.poll, which also says whether a send is in flight; and on the
    WebSocket writer without its per-packet timer (engineio's reader loop ends a socket that
    stops answering, and then unblocks the writer with None)."""
    self.codestream_sending = False
    if not self.upgraded:  # long-polling: the library's wait, without wait_for's task
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                packets = [await self.queue.get()]
        except (TimeoutError, asyncio.CancelledError):
            raise engineio_exceptions.QueueEmpty() from None
    else:
        try:
            packets = [await self.queue.get()]
        except asyncio.CancelledError:
            raise engineio_exceptions.QueueEmpty() from None
    self.queue.task_done()
    if packets == [None]:
        return []
    while True:
        try:
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        except asyncio.QueueEmpty:
            break
    self.codestream_sending = True
    return packets


async def _upgrade_websocket(self: Any, environ: dict[str, Any]) -> Any:
    """Remember the WebSocket this socket is upgrading to (our uvicorn protocol, from the scope).

    The environ lives as long as the connection; its request body reader (an instance of a class
    engineio defines anew for every request, about 2.6 KB) is never read on a WebSocket: dropped."""
    if not self.upgraded:
        connection = environ.get("asgi.scope", {}).get("extensions", {}).get(SCOPE_EXTENSION)
        if isinstance(connection, _connection_class or ()):
            route = connection.codestream_route
            route.pending = self.queue._queue
            self.codestream_route = route
    environ.pop("wsgi.input", None)
    return await _library_upgrade(self, environ)


_connection_class: type | None = None
_OPEN: Any = None
_DEFLATE: Any = ()  # websockets' PerMessageDeflate, once installed


def _refreshing(method: Any) -> Any:
    """uvicorn's `method`, then the connection's `refresh()`."""

    @functools.wraps(method)
    def refreshing(self: Any, *args: Any) -> None:
        method(self, *args)
        self.refresh()

    return refreshing


def _make_connection_class() -> type:
    from uvicorn.protocols.utils import ClientDisconnected
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    class Connection(WebSocketsSansIOProtocol):
        """uvicorn's WebSocket protocol, which puts itself in the ASGI scope's extensions, and
        whose permessage-deflate keeps no zlib state between messages and compresses only
        large ones (a small message goes as one uncompressed frame, which RFC 7692 allows), and
        which keeps its route's `open` (read by every broadcast) up to date."""

        codestream_route: _Route | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.config.ws_per_message_deflate:
                # No context takeover: an idle viewer holds no compressor or decompressor
                # (about 40 KB each with uvicorn's settings); level 1 still shrinks text 3-4 times.
                self.conn.available_extensions = [
                    ServerPerMessageDeflateFactory(
                        server_no_context_takeover=True,
                        client_no_context_takeover=True,
                        server_max_window_bits=12,
                        client_max_window_bits=12,
                        compress_settings={"memLevel": 5, "level": 1},
                    )
                ]

        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)
            if scope is not None:  # None: the upgrade was refused
                scope["extensions"][SCOPE_EXTENSION] = self
                self.codestream_route = _Route(self)

        def refresh(self) -> None:
            """Whether a frame may go straight to this connection, after any event that can change it.

            Each of the methods below is where uvicorn changes the connection's state: a close
            frame sent or received, backpressure, the handshake, the end of the ASGI app."""
            route = self.codestream_route
            if route is not None:
                route.open = (
                    self.handshake_complete
                    and not self.close_sent
                    and not self.disconnected
                    and self.writable.is_set()
                    and self.conn.state is _OPEN
                )

        data_received = _refreshing(WebSocketsSansIOProtocol.data_received)
        pause_writing = _refreshing(WebSocketsSansIOProtocol.pause_writing)
        resume_writing = _refreshing(WebSocketsSansIOProtocol.resume_writing)
        connection_lost = _refreshing(WebSocketsSansIOProtocol.connection_lost)
        shutdown = _refreshing(WebSocketsSansIOProtocol.shutdown)
        keepalive_timeout = _refreshing(WebSocketsSansIOProtocol.keepalive_timeout)

        async def run_asgi(self) -> None:
            try:
                await super().run_asgi()
            finally:
                self.refresh()

        async def send(self, message: Any) -> None:
            text = message.get("text") if message["type"] == "websocket.send" else None
            if text is None or len(text) >= COMPRESS_MIN_BYTES or not self.handshake_complete or self.close_sent:
                try:
                    return await super().send(message)
                finally:
                    if message["type"] == "websocket.accept" and self.handshake_complete:
                        self.request = self.response = None  # the handshake's request and response (~3 KB)
                    self.refresh()
            await self.writable.wait()  # as uvicorn's send: wait out backpressure
            if self.disconnected or self.conn.state is not _OPEN:
                raise ClientDisconnected()
            self.transport.write(text_frame(text.encode()))

    return Connection


# (object, attribute, parameter names or None for "present") that the code above relies on.
def _requirements() -> list[tuple[Any, str, list[str] | None]]:
    from uvicorn.protocols import utils
    from uvicorn.protocols.websockets import websockets_sansio_impl as sansio
    from websockets import protocol
    from websockets.extensions import permessage_deflate

    sock = engineio_async_socket.AsyncSocket
    proto = sansio.WebSocketsSansIOProtocol
    return [
        (sock, "poll", ["self"]),
        (sock, "_upgrade_websocket", ["self", "environ"]),
        (sock, "_websocket_handler", ["self", "ws"]),
        (sock, "schedule_ping", ["self"]),
        (sock, "check_ping_timeout", ["self"]),
        (sock, "send", ["self", "pkt"]),
        (engineio.AsyncServer, "_service_task", ["self"]),
        (engineio.AsyncServer, "create_event", ["self", "args", "kwargs"]),
        (socketio.AsyncServer, "_send_eio_packet", ["self", "eio_sid", "eio_pkt"]),
        (socketio.AsyncManager, "get_participants", ["self", "namespace", "room"]),
        (socketio.AsyncManager, "emit", None),
        (socketio.AsyncRedisManager, "_handle_emit", ["self", "message"]),
        (proto, "handle_connect", ["self", "event"]),
        (proto, "send", ["self", "message"]),
        # where uvicorn changes a connection's state: Connection refreshes its route's `open` after each
        (proto, "data_received", ["self", "data"]),
        (proto, "pause_writing", ["self"]),
        (proto, "resume_writing", ["self"]),
        (proto, "connection_lost", ["self", "exc"]),
        (proto, "shutdown", ["self"]),
        (proto, "keepalive_timeout", ["self"]),
        (proto, "run_asgi", ["self"]),
        (proto, "__init__", ["self", "config", "server_state", "app_state", "_loop"]),
        (protocol.Protocol, "send_text", ["self", "data", "fin"]),
        (protocol.Protocol, "data_to_send", ["self"]),
        (protocol, "State", None),
        (utils, "ClientDisconnected", None),
        (
            permessage_deflate.ServerPerMessageDeflateFactory,
            "__init__",
            [
                "self",
                "server_no_context_takeover",
                "client_no_context_takeover",
                "server_max_window_bits",
                "client_max_window_bits",
                "compress_settings",
                "require_client_max_window_bits",
            ],
        ),
    ]


# Attributes set in __init__ that the code above reads (their names appear in __init__'s code).
def _attributes() -> list[tuple[Any, list[str]]]:
    from engineio import base_server, base_socket
    from uvicorn.protocols.websockets import websockets_sansio_impl as sansio
    from websockets import protocol, server
    from websockets.extensions import permessage_deflate

    return [
        (base_socket.BaseSocket.__init__, ["queue", "upgraded", "closed", "closing", "sid", "last_ping"]),
        (base_server.BaseServer.__init__, ["ping_interval", "ping_timeout", "sockets"]),
        (asyncio.Queue._init, ["_queue"]),  # type: ignore[attr-defined]  # read by _ready: what engineio queued
        (
            sansio.WebSocketsSansIOProtocol.__init__,
            ["config", "conn", "transport", "writable", "close_sent", "disconnected", "handshake_complete"],
        ),
        (protocol.Protocol.__init__, ["extensions"]),
        (
            permessage_deflate.PerMessageDeflate.__init__,
            ["local_no_context_takeover", "local_max_window_bits", "compress_settings"],
        ),
        (server.ServerProtocol.__init__, ["available_extensions"]),
    ]


def check() -> list[str]:
    """What is missing for the overrides: an empty list when they can be installed."""
    problems: list[str] = []
    try:
        requirements, attributes = _requirements(), _attributes()
    except (ImportError, AttributeError) as error:
        return [f"cannot import what the fast path uses: {error}"]
    for owner, name, params in requirements:
        target = getattr(owner, name, None)
        label = f"{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{name}"
        if target is None:
            problems.append(f"{label} is missing")
        elif params is not None and list(inspect.signature(target).parameters) != params:
            problems.append(f"{label} takes {list(inspect.signature(target).parameters)}, not {params}")
    for init, names in attributes:
        missing = [n for n in names if n not in init.__code__.co_names]
        if missing:
            problems.append(f"{init.__qualname__} no longer sets {', '.join(missing)}")
    return problems


def install() -> Any:
    """Install the overrides if the libraries are as expected; uvicorn's `ws` setting to use."""
    global _active, _connection_class, _OPEN, _DEFLATE
    if _active:
        return _connection_class
    problems = check()
    if problems:
        log.warning("fan-out fast path off, using the libraries' path: %s", "; ".join(problems))
        return "auto"
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.protocol import State

    _OPEN, _DEFLATE = State.OPEN, PerMessageDeflate
    _connection_class = _make_connection_class()
    sock = engineio_async_socket.AsyncSocket
    sock.codestream_route = None  # type: ignore[attr-defined]
    sock.codestream_sending = False  # type: ignore[attr-defined]
    sock.poll = _poll  # type: ignore[method-assign]
    sock._upgrade_websocket = _upgrade_websocket  # type: ignore[method-assign]
    sock.codestream_ping_due = None  # type: ignore[attr-defined]
    sock.schedule_ping = _schedule_ping  # type: ignore[method-assign]
    engineio.AsyncServer._service_task = _service_task  # type: ignore[method-assign]
    _active = True
    log.info("fan-out fast path on: broadcasts are framed once and written to each WebSocket")
    return _connection_class


def uninstall() -> None:
    """Put the libraries back as they were (for tests that install in their own process)."""
    global _active
    sock = engineio_async_socket.AsyncSocket
    sock.poll = _library_poll  # type: ignore[method-assign]
    sock._upgrade_websocket = _library_upgrade  # type: ignore[method-assign]
    sock.schedule_ping = _library_schedule_ping  # type: ignore[method-assign]
    engineio.AsyncServer._service_task = _library_service_task  # type: ignore[method-assign]
    _active = False
