"""A raw Engine.IO 4 / Socket.IO 5 client over one websocket: it can send any frame at all.

python-socketio's client only sends well-formed packets; the fuzzers need to send broken
ones and read exactly what came back, in order.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Message = dict[str, Any]


def socket_url(base_url: str, path: str, token: str | None) -> str:
    query = "EIO=4&transport=websocket" + (f"&access_token={quote(token, safe='')}" if token else "")
    return base_url.replace("http://", "ws://", 1) + path + "/?" + query


class Wire:
    """One websocket speaking Engine.IO by hand.

    A thread reads every frame as it comes, answers the server's pings (or it would drop an
    idle socket after 45 s) and queues the rest; `read_until` takes from that queue in order.
    """

    def __init__(self, base_url: str, grant: dict[str, Any], origin: str | None = None, timeout: float = 5) -> None:
        self.grant = grant
        self.timeout = timeout
        self.ws: ClientConnection = connect(
            socket_url(base_url, grant["path"], grant["token"]),
            origin=origin,  # type: ignore[arg-type]
            open_timeout=timeout,
            max_size=None,
            compression=None,
            ping_interval=None,  # Engine.IO pings itself (and websockets' pings draw on `random`)
        ).__enter__()
        opened = self.ws.recv(timeout=timeout)
        assert isinstance(opened, str) and opened.startswith("0{"), opened
        self.closed = threading.Event()
        self._frames: queue.Queue[Message | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    # --- Socket.IO ---

    def join_namespace(self) -> None:
        """CONNECT to `/` and wait for the server's `login` event."""
        self.send("40")
        self.read_until(lambda m: m.get("event") == "login")

    def emit(self, event: str, *args: Any) -> None:
        self.send("42" + json.dumps([event, *args]))

    def join(self, **payload: Any) -> Message:
        self.emit("joinRoom", {"room_id": self.grant["room_id"], **payload})
        ack = self.read_until(lambda m: _kind(m) == "ackJoinRoom")[-1]
        assert ack["data"]["success"], ack
        return ack["data"]

    # --- frames ---

    def send(self, frame: str | bytes) -> None:
        """Send one frame; text that is not valid UTF-8 (a lone surrogate) goes as a binary frame."""
        if isinstance(frame, str):
            try:
                frame.encode("utf-8")
            except UnicodeEncodeError:
                frame = frame.encode("utf-8", "surrogatepass")
        try:
            self.ws.send(frame)
        except ConnectionClosed:
            raise ConnectionError("the server closed the connection") from None

    def read_until(self, done: Callable[[Message], bool], timeout: float | None = None) -> list[Message]:
        """Socket.IO events read until one satisfies `done` (included)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        got: list[Message] = []
        while True:
            message = self._next(deadline - time.monotonic())
            if message is None:
                raise TimeoutError(f"no answer in time; read {got!r}"[:2000])
            got.append(message)
            if done(message):
                return got

    def drain(self, seconds: float = 0.2) -> list[Message]:
        """Whatever arrives within `seconds` (and what was waiting)."""
        deadline = time.monotonic() + seconds
        got = []
        while (message := self._next(deadline - time.monotonic())) is not None:
            got.append(message)
        return got

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self.closed.wait(timeout or self.timeout)

    def _next(self, timeout: float) -> Message | None:
        try:
            message = self._frames.get(timeout=max(timeout, 0.001))
        except queue.Empty:
            return None
        if message is None:  # the connection closed: keep saying so
            self._frames.put(None)
            raise ConnectionError("the server closed the connection")
        return message

    def _pump(self) -> None:
        try:
            while True:
                frame = self.ws.recv()
                if not isinstance(frame, str):
                    self._frames.put({"event": "<binary>", "args": [frame]})
                elif frame == "2":
                    self.ws.send("3")  # Engine.IO ping: answer, or the server drops us
                elif frame.startswith("42"):
                    body = json.loads(frame[2:])
                    data = body[1] if len(body) > 1 else None
                    self._frames.put({"event": body[0], "args": body[1:], "data": data})
                else:
                    self._frames.put({"event": f"<frame {frame[:40]!r}>", "args": []})
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._frames.put(None)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone: fine
            self.ws.close()


def _kind(message: Message) -> str | None:
    data = message.get("data")
    return data.get("type") if message.get("event") == "message" and isinstance(data, dict) else None


def kind(message: Message) -> str | None:
    """The `type` of a server `message` event (ackJoinRoom, editorMessage, error, ...)."""
    return _kind(message)
