"""Fails when an upgrade changes what selfhost/fanout.py copied from the libraries or relies on.

selfhost/fanout.py copies engineio's AsyncSocket.poll, stands beside engineio's WebSocket writer
loop and uvicorn's websockets-sansio protocol (its `send`, and each method that changes a
connection's state), and replaces python-socketio's broadcast and
engineio's heartbeat (its ping tasks and service task). If one of these changes, re-read it,
carry the change into fanout.py (or drop the override), run tests/fanout and then update the
digest here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import re
from pathlib import Path

import engineio
import engineio.async_socket
import socketio
from engineio.async_drivers import asgi
from uvicorn.protocols.websockets import websockets_sansio_impl
from websockets import protocol
from websockets.extensions import permessage_deflate

from selfhost import fanout

ROOT = Path(__file__).resolve().parents[2]
_socket = engineio.async_socket.AsyncSocket
_uvicorn = websockets_sansio_impl.WebSocketsSansIOProtocol

COPIED = {
    _socket.poll: "826f58a9f3606db2",  # copied into fanout._poll
    _socket._upgrade_websocket: "820b83efe96adb98",  # wrapped
    _socket._websocket_handler: "27f120df4d717a24",  # its writer loop: poll, then send each packet
    _socket.send: "0437276ccba7ab09",  # the queued path
    _socket.schedule_ping: "fe316639159cd70d",  # replaced by fanout._schedule_ping
    _socket._send_ping: "67db82a704ea49d0",  # what fanout._beat does when a ping is due
    _socket.check_ping_timeout: "77616d5ca7809257",  # called by fanout._beat, as engineio's service task
    engineio.AsyncServer._service_task: "b6358bda51d0b34b",  # replaced by fanout._service_task
    socketio.AsyncManager.emit: "01ccd5b82b4f955e",  # replaced by fanout.deliver
    socketio.AsyncRedisManager._handle_emit: "4284671be955f644",  # replaced likewise
    _uvicorn.__init__: "631dcd744eab875f",  # its permessage-deflate settings, replaced
    _uvicorn.send: "d4919ed760ce9f7b",  # its websocket.send branch, mirrored; the handshake kept till accept
    asgi.translate_request: "39e74733f1fe46aa",  # environ["wsgi.input"], dropped on a WebSocket
    _uvicorn.handle_connect: "fc648c2161ff8e13",  # where the scope is built
    # The whole protocol: every place it changes a connection's state (a close frame, the
    # transport's backpressure or end) must be a method fanout.Connection refreshes `open` after.
    _uvicorn: "0bbcec98938432f7",
    protocol.Protocol.send_text: "9268f18e580a5d67",  # large messages to deflating viewers
    permessage_deflate.PerMessageDeflate.encode: "b4328e1eac2316cf",  # mirrored by fanout._Deflated
}


def _digest(function: object) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def test_copied_library_code_is_unchanged() -> None:
    changed = [f"{f.__module__}.{f.__qualname__}" for f, digest in COPIED.items() if _digest(f) != digest]
    assert not changed, f"re-read these and update selfhost/fanout.py: {changed}"


def test_installed_versions_are_the_pinned_ones() -> None:
    pins = dict(
        re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", (ROOT / "requirements-selfhost.txt").read_text(), re.M)
    )
    for name in ("python-socketio", "python-engineio", "uvicorn", "websockets"):
        assert importlib.metadata.version(name) == pins[name], name


def test_start_up_check_passes_on_the_pinned_versions() -> None:
    assert fanout.check() == []
