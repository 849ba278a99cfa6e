"""Writer and viewer sessions that come back by themselves, as static_site/src/link.js does:

- negotiate until it works (404 while a restarted server has not seen the room's writer yet,
  connection refused while the server is down), with a short backoff;
- a refused connect (an expired token) means negotiate again; a `room_not_found` join is
  retried; `superseded` (the writer key joined elsewhere) stops the session for good;
- the writer sends its whole text after every (re)join, and keeps typing while offline;
- a viewer whose held deltas wait too long asks for `sync`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from typing import Any

import socketio

from shared.document import Change, Document, utf16_length
from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.negotiate import negotiate

BACKOFF = 0.1
STUCK_SECONDS = 0.5  # the web viewer asks for sync when a gap lasts about this long


class Session(abc.ABC):
    def __init__(self, url: str, room_id: str | None = None, key: str | None = None) -> None:
        self.url = url
        self.room_id = room_id
        self.key = key
        self.client: Writer | Viewer | None = None
        self.events: list[str] = []  # what happened, for the tests: "joined", "refused: ...", ...
        self.superseded = False
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    # --- lifecycle ---

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_joined(self, count: int = 1, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.events.count("joined") < count:
            assert time.monotonic() < deadline, f"not joined {count} times: {self.events}"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._stop = True
        if self.client is not None and self.client.sio.connected:
            await self.client.sio.disconnect()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def drop_connection(self) -> None:
        """Cut the transport under the client (no Socket.IO goodbye), as a network failure would."""
        assert self.client is not None
        transport = self.client.sio.eio.ws._response.connection.transport  # type: ignore[union-attr]
        transport.abort()

    async def _run(self) -> None:
        grant: dict[str, Any] | None = None
        while not self._stop and not self.superseded:
            grant = grant or await self._negotiate()
            client = self.make_client(grant)
            client.sio.on("connect_error", lambda data: self.events.append(f"refused: {_reason(data)}"))
            try:
                await client.sio.connect(
                    grant["endpoint"], socketio_path=grant["path"], auth={"token": grant["token"]},
                    transports=["websocket"], wait_timeout=5,
                )  # fmt: skip
            except socketio.exceptions.ConnectionError:
                grant = None  # refused (an expired token) or the server is down: negotiate again
                await asyncio.sleep(BACKOFF)
                continue
            self.client = client
            await self._serve(client, grant)  # until the connection ends; then reconnect with this token
            await asyncio.sleep(BACKOFF)

    async def _negotiate(self) -> dict[str, Any]:
        query = {k: v for k, v in (("room_id", self.room_id), ("writer_key", self.key)) if v}
        status, grant = await negotiate(self.url, retry=BACKOFF, **query)
        assert status == 200, (status, grant)
        self.room_id = grant["room_id"]
        self.key = grant.get("writer_key", self.key)
        return grant

    async def _serve(self, client: Writer | Viewer, grant: dict[str, Any]) -> None:
        """Join, then stay until the connection ends."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.logged_in.wait(), 5)
        while client.sio.connected and not self.superseded:
            try:
                ack = await client.join(**({"writer_key": self.key} if self.key else {}))
            except (TimeoutError, socketio.exceptions.BadNamespaceError):
                break
            if ack["success"]:
                self.events.append("joined")
                await self.on_joined(ack)
                await self._watch(client)
                break
            self.events.append(f"join refused: {ack['error']['code']}")
            await asyncio.sleep(BACKOFF)  # room_not_found: its writer will bring it back
        if client.sio.connected:
            await client.sio.disconnect()

    async def _watch(self, client: Writer | Viewer) -> None:
        while client.sio.connected:
            await self.tick()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # a `superseded` notice comes just before the server closes us
        if any(m.get("type") == "superseded" for m in client.messages):
            self.superseded = True  # another tab streams now: stop, as link.js does
            self.events.append("superseded")

    # --- for subclasses ---

    @abc.abstractmethod
    def make_client(self, grant: dict[str, Any]) -> Writer | Viewer: ...

    async def on_joined(self, ack: dict[str, Any]) -> None:  # noqa: B027 - an optional hook
        pass

    async def tick(self) -> None:  # noqa: B027 - an optional hook
        pass


class WriterSession(Session):
    """A writer whose text lives here, across connections (the editor's model)."""

    def __init__(self, url: str, room_id: str | None = None, key: str | None = None) -> None:
        super().__init__(url, room_id, key)
        self.document = Document()
        self.version = 0
        self.sent_full_at: int | None = None

    def make_client(self, grant: dict[str, Any]) -> Writer:
        writer = Writer(grant)
        writer.document, writer.version = self.document, self.version
        return writer

    def text(self) -> str:
        return self.document.text()

    def online(self) -> bool:
        client = self.client
        return client is not None and client.sio.connected and self.events[-1:] == ["joined"]

    async def on_joined(self, ack: dict[str, Any]) -> None:
        # As writer.js does: our text goes out numbered at least as the room's, so it is not stale.
        self.version = max(self.version, ack["version"] or 0)
        await self.send_full()

    async def send_full(self) -> None:
        assert isinstance(self.client, Writer)
        self.client.version = self.version
        with contextlib.suppress(socketio.exceptions.BadNamespaceError):
            await self.client.send_full()

    async def type(self, text: str) -> None:
        """Type at the end: sent at once when online, kept for the next full when not."""
        for ch in text:
            event = monaco_event((utf16_length(self.document.text()), 0, ch))
            if self.online():
                assert isinstance(self.client, Writer)
                with contextlib.suppress(socketio.exceptions.BadNamespaceError):
                    await self.client.edit(event)  # applies to the shared document and numbers it, then sends
                self.version = self.client.version  # sent or lost: the full after the next join carries it
                continue
            self.document.apply([[Change(c["rangeOffset"], c["rangeLength"], c["text"]) for c in event["changes"]]])
            self.version += 1


class ViewerSession(Session):
    def __init__(self, url: str, room_id: str) -> None:
        super().__init__(url, room_id)
        self._stuck_since: float | None = None

    def make_client(self, grant: dict[str, Any]) -> Viewer:
        return Viewer(grant)

    def text(self) -> str | None:
        return self.client.text() if isinstance(self.client, Viewer) else None

    async def tick(self) -> None:
        viewer = self.client
        assert isinstance(viewer, Viewer)
        if not viewer.tracker.held:
            self._stuck_since = None
        elif self._stuck_since is None:
            self._stuck_since = time.monotonic()
        elif time.monotonic() - self._stuck_since > STUCK_SECONDS:
            self._stuck_since = None
            with contextlib.suppress(socketio.exceptions.BadNamespaceError):
                await viewer.emit("sendToRoom", {"room_id": viewer.room_id, "data": {"data": "sync"}})


async def converged(writer: WriterSession, viewers: list[ViewerSession], timeout: float = 20) -> int:
    """Wait until every viewer shows the writer's text; how many still differ at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(v.text() == writer.text() for v in viewers):
            return 0
        await asyncio.sleep(0.05)
    return sum(v.text() != writer.text() for v in viewers)


def _reason(data: Any) -> str:
    return data.get("message", str(data)) if isinstance(data, dict) else str(data)
