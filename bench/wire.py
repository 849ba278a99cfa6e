"""A minimal Socket.IO client over a hand-written WebSocket: cheap enough for 1000 viewers.

python-socketio's client costs a coroutine wake-up, a queue and a JSON decode per packet;
here one `data_received` call parses every frame of a TCP read in a tight loop. It speaks
just what the benchmark needs: the WebSocket upgrade, offering permessage-deflate as browsers
do (RFC 7692; a server may compress any message or not), text frames (server frames are never
masked), ping/pong and close; then Engine.IO 4 (`0` open, `2` ping -> `3` pong, `4` message)
and Socket.IO 5 (`40` connect, `42[...]` event) on top.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from selfhost.frames import frame_header

try:
    import orjson

    loads: Callable[[str | bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - requirements-bench.txt installs it
    loads = json.loads


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class ClosedError(ConnectionError):
    """The server closed the connection (or refused the upgrade)."""


class Socket(asyncio.Protocol):
    """One Socket.IO connection. Subclasses override `on_event(name, args, raw)`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self._compressed = False  # RSV1 on the first frame of the message being read
        self._inflater: Any = None  # set when the server accepted permessage-deflate
        self._reset_inflater = False  # server_no_context_takeover: a fresh inflater per message
        self.deflate = True  # offer permessage-deflate in the upgrade
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._request = b""

    # --- connecting ---

    async def open(self, host: str, port: int, path: str, token: str, timeout: float = 30) -> None:
        """Connect, upgrade, and wait for Socket.IO's CONNECT answer."""
        key = base64.b64encode(os.urandom(16)).decode()
        target = f"{path.rstrip('/')}/?EIO=4&transport=websocket&access_token={quote(token)}"
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else "")
            + "\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        await asyncio.wait_for(asyncio.shield(self.ready), timeout)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.ready.done():
            self.ready.set_exception(ClosedError(str(exc or "connection closed")))
            self.ready.exception()  # whoever waits still gets it; nobody waiting is no error
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_closed()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # --- WebSocket frames ---

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                self._fail(f"upgrade refused: {status.decode(errors='replace')}")
                return
            headers = bytes(buf[:end]).decode("latin-1").lower()
            del buf[: end + 4]
            self._upgraded = True
            for line in headers.split("\r\n"):
                if line.startswith("sec-websocket-extensions:") and "permessage-deflate" in line:
                    self._inflater = zlib.decompressobj(-15)
                    self._reset_inflater = "server_no_context_takeover" in line
        self._frames(buf)

    def _frames(self, buf: bytearray) -> None:
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0 & 0x80, b0 & 0x40, b0 & 0x0F, payload)
        del buf[:pos]

    def _frame(self, fin: int, rsv1: int, opcode: int, payload: bytes) -> None:
        if opcode in (0, 1, 2):
            if opcode:
                self._compressed = bool(rsv1)
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join([*self._fragments, payload])
                self._fragments.clear()
            if self._compressed:
                payload = self._inflate(payload)
            self._packet(payload.decode())
        elif opcode == 9:  # ping
            self._send_frame(0xA, payload)
        elif opcode == 8:  # close: answer and drop the connection
            self._send_frame(0x8, payload[:2])
            self.close()

    def _inflate(self, payload: bytes) -> bytes:
        if self._inflater is None:
            raise ClosedError("a compressed frame without permessage-deflate")
        if self._reset_inflater:
            self._inflater = zlib.decompressobj(-15)
        return self._inflater.decompress(payload + b"\x00\x00\xff\xff")

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None:
            return
        n = len(payload)
        head = frame_header(opcode, n, masked=True)
        mask = os.urandom(4)
        # Client frames must be masked: XOR with the key repeated, done as one big integer.
        repeated = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")
        self.transport.write(head + mask + masked)

    # --- Engine.IO and Socket.IO packets ---

    def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def emit(self, event: str, *args: Any) -> None:
        self.send_text("42" + dumps([event, *args]))

    def _packet(self, text: str) -> None:
        kind = text[:1]
        if kind == "4":
            if text.startswith("42"):
                self.on_message(text)
            elif text.startswith("40"):
                self.on_connected()
            elif text.startswith("44"):
                self._fail(f"connection refused: {text[2:]}")
        elif kind == "2":
            self.send_text("3" + text[1:])
        elif kind == "0":
            self.send_text("40")
        elif kind == "1":
            self.close()

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ClosedError(reason))
        self.close()

    # --- for subclasses ---

    def on_connected(self) -> None:
        """Socket.IO CONNECT answered; the server's `login` follows."""

    def on_message(self, text: str) -> None:
        """A `42[...]` event packet; by default decoded and passed to `on_event`."""
        name, *args = loads(text[2:])
        self.on_event(name, args)

    def on_event(self, name: str, args: list[Any]) -> None:
        if name == "login" and not self.ready.done():
            self.ready.set_result(None)

    def on_closed(self) -> None:
        """The connection is gone."""
