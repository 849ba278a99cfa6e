"""The benchmark's writer: types a script and sends it under a pacing policy.

Each delta carries two extra fields the server relays as sent: `t`, the wall-clock time of
each keystroke in it, and `s`, the time it was sent (time.time(): the viewers run in other
processes on the same machine clock).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from . import keystrokes, pacing
from .wire import Socket


class Writer(Socket):
    def __init__(self, room_id: str, writer_key: str) -> None:
        super().__init__()
        self.room_id = room_id
        self.writer_key = writer_key
        self.text = ""
        self.version = 0  # native numbering: deltas 1, 2, ...
        self.sends = 0
        self.keys = 0
        self.joined = asyncio.get_running_loop().create_future()

    def on_event(self, name: str, args: list[Any]) -> None:
        super().on_event(name, args)
        message = args[0] if args else None
        if not isinstance(message, dict):
            return
        if message.get("type") == "ackJoinRoom" and not self.joined.done():
            self.joined.set_result(message)
        if message.get("type") == "editorMessage" and message["data"].get("data") == "sync":
            self.send_full()

    def send(self, data: dict[str, Any]) -> None:
        self.emit("sendToRoom", {"room_id": self.room_id, "writer_key": self.writer_key, "data": data})

    async def join(self) -> None:
        self.emit("joinRoom", {"room_id": self.room_id, "writer_key": self.writer_key})
        ack = await asyncio.wait_for(self.joined, 30)
        if not ack.get("success"):
            raise RuntimeError(f"writer could not join: {ack}")

    def send_full(self) -> None:
        self.send({"type": "full", "version": self.version, "content": self.text})

    def _flush(self, events: list[dict[str, Any]], typed: list[float]) -> None:
        self.version += 1
        self.sends += 1
        self.send({"type": "delta", "version": self.version, "changes": events, "t": typed, "s": time.time()})

    async def type(self, strokes: list[keystrokes.Keystroke], policy: str) -> None:
        """Type each keystroke at its moment; the policy decides when deltas leave."""
        pacer = pacing.policy(policy, self._flush)
        begin = time.monotonic()
        for stroke in strokes:
            delay = begin + stroke.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.text = keystrokes.apply(self.text, stroke)
            self.keys += 1
            pacer.edit(keystrokes.monaco_event(stroke, self.keys), time.time())
        await pacer.close()

    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()
