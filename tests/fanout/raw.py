"""A viewer on a hand-written WebSocket that shows each frame as it arrived (length field, RSV1).

python-socketio's client hides the frames; these tests are about them. It offers
permessage-deflate as browsers do (or not), can shrink its receive buffer, and can stop reading.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from selfhost.frames import frame_header


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    opcode: int
    length_code: int  # the 7-bit length field: the length itself, 126 (16-bit) or 127 (64-bit)
    payload: bytes  # as on the wire (compressed when rsv1)


class RawViewer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, extensions: str) -> None:
        self.reader = reader
        self.writer = writer
        self.extensions = extensions  # the server's Sec-WebSocket-Extensions answer ("" when none)
        self.inflater = zlib.decompressobj(-15)

    @classmethod
    async def open(cls, grant: dict[str, Any], deflate: bool = True, receive_buffer: int | None = None) -> RawViewer:
        host, port = grant["endpoint"].removeprefix("http://").rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # before connecting, so the TCP window stays small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**24)
        key = base64.b64encode(os.urandom(16)).decode()
        target = f"{grant['path'].rstrip('/')}/?EIO=4&transport=websocket&access_token={quote(grant['token'])}"
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n".encode()
        )
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1")
        assert " 101 " in head.split("\r\n")[0], head
        extensions = ""
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "sec-websocket-extensions":
                extensions = value.strip()
        viewer = cls(reader, writer, extensions)
        kind, _ = await viewer.packet()
        assert kind.startswith("0"), kind  # Engine.IO open
        viewer.send_text("40")
        while not (await viewer.packet())[0].startswith("40"):
            pass
        return viewer

    async def frame(self, timeout: float = 10) -> Frame:
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        code = head[1] & 0x7F
        length = code
        if code == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif code == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        assert not head[1] & 0x80, "server frames are never masked"
        payload = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return Frame(bool(head[0] & 0x80), bool(head[0] & 0x40), head[0] & 0x0F, code, payload)

    async def packet(self, timeout: float = 10) -> tuple[str, Frame]:
        """The next Engine.IO packet other than a ping (answered), with the frame it came in."""
        while True:
            frame = await self.frame(timeout)
            if frame.opcode == 0x9:
                self.send_frame(0xA, frame.payload)
                continue
            assert frame.opcode == 0x1 and frame.fin, frame
            data = self.inflater.decompress(frame.payload + b"\x00\x00\xff\xff") if frame.rsv1 else frame.payload
            if self.extensions and "server_no_context_takeover" in self.extensions:
                self.inflater = zlib.decompressobj(-15)
            text = data.decode()
            if text == "2":
                self.send_text("3")
                continue
            return text, frame

    async def message(self, timeout: float = 10) -> tuple[dict[str, Any], Frame]:
        """The next `message` event's payload."""
        while True:
            text, frame = await self.packet(timeout)
            if text.startswith("42"):
                name, *args = json.loads(text[2:])
                if name == "message":
                    return args[0], frame

    async def editor(self, timeout: float = 10) -> tuple[dict[str, Any], Frame]:
        """The next editorMessage's data."""
        while True:
            message, frame = await self.message(timeout)
            if message.get("type") == "editorMessage":
                return message["data"], frame

    async def join(self, room_id: str) -> dict[str, Any]:
        self.emit("joinRoom", {"room_id": room_id})
        while True:
            message, _ = await self.message()
            if message.get("type") == "ackJoinRoom":
                assert message["success"], message
                return message

    def emit(self, event: str, *args: Any) -> None:
        self.send_text("42" + json.dumps([event, *args]))

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def send_frame(self, opcode: int, payload: bytes) -> None:
        head = frame_header(opcode, len(payload), masked=True)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    def stop_reading(self) -> None:
        self.writer.transport.pause_reading()

    def resume_reading(self) -> None:
        self.writer.transport.resume_reading()

    def close(self) -> None:
        self.writer.close()
