"""Real python-socketio clients that behave like the web client's writer and viewers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

from shared.document import Change, Document
from shared.versions import Outcome, VersionTracker


def monaco_event(*changes: tuple[int, int, str], eol: str = "\n") -> dict[str, Any]:
    """A Monaco IModelContentChangedEvent as the browser serialises it."""
    return {
        "changes": [{"rangeOffset": o, "rangeLength": n, "text": t, "range": {}} for o, n, t in changes],
        "eol": eol,
        "versionId": 1,
        "isUndoing": False,
        "isRedoing": False,
        "isFlush": False,
    }


class Client:
    """A connected socket that records every `message` it gets."""

    def __init__(self, grant: dict[str, Any]) -> None:
        self.grant = grant
        self.room_id: str = grant["room_id"]
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: list[dict[str, Any]] = []
        self.logged_in = asyncio.Event()
        self._changed = asyncio.Condition()
        self.sio.on("login", self._on_login)
        self.sio.on("message", self._on_message)

    async def connect(self, *, token_in_url: bool = False) -> None:
        g = self.grant
        if token_in_url:  # the tutorial's way: io(data.url, {path})
            await self.sio.connect(g["url"], socketio_path=g["path"], transports=["websocket"])
        else:
            await self.sio.connect(
                g["endpoint"], socketio_path=g["path"], auth={"token": g["token"]}, transports=["websocket"]
            )
        await asyncio.wait_for(self.logged_in.wait(), 5)

    async def close(self) -> None:
        """Disconnect once what was emitted has left (python-socketio drops a queued backlog)."""
        for _ in range(100):
            if self.sio.eio.queue is None or self.sio.eio.queue.empty():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        await self.sio.disconnect()

    async def _on_login(self, *_: Any) -> None:
        self.logged_in.set()

    async def _on_message(self, message: Any) -> None:
        self.messages.append(message)
        self.handle(message)
        async with self._changed:
            self._changed.notify_all()

    def handle(self, message: dict[str, Any]) -> None:
        """Subclasses react to messages here."""

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:
        async def until() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(until(), timeout)

    async def emit(self, event: str, payload: Any) -> None:
        await self.sio.emit(event, payload)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("type") == kind]

    async def wait_message(self, kind: str, count: int = 1, timeout: float = 5) -> dict[str, Any]:
        return (await self.wait_for(lambda: len(self.of_type(kind)) >= count and self.of_type(kind), timeout))[
            count - 1
        ]

    async def join(self, **extra: Any) -> dict[str, Any]:
        before = len(self.of_type("ackJoinRoom"))
        await self.emit("joinRoom", {"room_id": self.room_id, **extra})
        return await self.wait_message("ackJoinRoom", before + 1)


class Viewer(Client):
    """Applies what it receives with the same version rules as the browser viewer."""

    def __init__(self, grant: dict[str, Any]) -> None:
        super().__init__(grant)
        self.document = Document()
        self.tracker: VersionTracker[dict[str, Any]] = VersionTracker()
        self.language: str | None = None
        self.presence: dict[str, Any] | None = None

    def handle(self, message: dict[str, Any]) -> None:
        if message.get("type") == "presence":
            self.presence = message
        if message.get("type") != "editorMessage":
            return
        data = message["data"]
        if data.get("type") == "full" and self.tracker.accepts_full(data["version"]):
            self.document.replace_all(data["content"])
            self.tracker.on_full(data["version"], self._apply, data.get("numbering"))
            self.language = data.get("language", self.language)
        elif data.get("type") == "delta" and self.tracker.has_base():
            self.tracker.on_delta(data["version"], data, self._apply, 0.0)
        elif data.get("type") == "delta":
            self.tracker.held.setdefault(data["version"], data)  # before the base: keep it
        elif data.get("type") == "language":
            self.language = data["language"]

    def _apply(self, delta: dict[str, Any]) -> None:
        events = [
            [Change(c["rangeOffset"], c["rangeLength"], c["text"]) for c in e["changes"]] for e in delta["changes"]
        ]
        self.document.apply(events)

    def text(self) -> str:
        return self.document.text()

    async def wait_text(self, expected: str, timeout: float = 5) -> None:
        try:
            await self.wait_for(lambda: self.document.text() == expected, timeout)
        except TimeoutError:
            raise AssertionError(f"viewer has {self.text()[:200]!r}, expected {expected[:200]!r}") from None


class Writer(Client):
    """Numbers deltas natively (1, 2, ...) and answers `sync` with its full text."""

    def __init__(self, grant: dict[str, Any], tutorial: bool = False) -> None:
        super().__init__(grant)
        self.tutorial = tutorial
        self.version = 0
        self.document = Document()
        self.sent_with_key = not tutorial

    def handle(self, message: dict[str, Any]) -> None:
        data = message.get("data") if message.get("type") == "editorMessage" else None
        if isinstance(data, dict) and data.get("data") == "sync":
            asyncio.get_running_loop().create_task(self.send_full())

    def _payload(self, data: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"room_id": self.room_id, "data": data}
        if self.sent_with_key:
            payload["writer_key"] = self.grant["writer_key"]
        return payload

    async def join(self, **extra: Any) -> dict[str, Any]:
        if self.sent_with_key:
            extra.setdefault("writer_key", self.grant["writer_key"])
        return await super().join(**extra)

    async def edit(self, *events: dict[str, Any]) -> None:
        """Apply Monaco events locally and send them as one delta."""
        for event in events:
            self.document.apply([[Change(c["rangeOffset"], c["rangeLength"], c["text"]) for c in event["changes"]]])
        number = self.version if self.tutorial else self.version + 1
        self.version += 1
        await self.emit("sendToRoom", self._payload({"type": "delta", "version": number, "changes": list(events)}))

    async def send_full(self) -> None:
        # The tutorial's full.version is its next delta's number; ours is the text's version.
        await self.emit(
            "sendToRoom", self._payload({"type": "full", "version": self.version, "content": self.document.text()})
        )

    def text(self) -> str:
        return self.document.text()


__all__ = ["Client", "Outcome", "Viewer", "Writer", "monaco_event"]
