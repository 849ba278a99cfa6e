"""Fault injection: each test breaks something mid-stream and ends with every viewer equal to
the writer. Clients recover the way the web client does (tests/faults/resilient.py)."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.faults.resilient import ViewerSession, WriterSession, converged
from tests.support.clients import Viewer, Writer, monaco_event
from tests.support.negotiate import negotiate
from tests.support.server import RunningServer, start_server
from tests.support.stats import STATS


def _fault(name: str, count: int = 1) -> None:
    STATS["faults injected"] += count
    STATS[f"faults injected: {name}"] += count


async def _check(writer: WriterSession, viewers: list[ViewerSession], timeout: float = 20) -> None:
    divergent = await converged(writer, viewers, timeout)
    STATS["divergences"] += divergent
    assert divergent == 0, [(v.text(), v.events) for v in viewers] + [writer.text(), writer.events]
    STATS["fault runs converged"] += 1


async def _open(url: str, viewers: int = 2) -> tuple[WriterSession, list[ViewerSession]]:
    writer = WriterSession(url)
    writer.start()
    await writer.wait_joined()
    sessions = [ViewerSession(url, writer.room_id) for _ in range(viewers)]
    for session in sessions:
        session.start()
        await session.wait_joined()
    return writer, sessions


async def _close(*sessions: Any) -> None:
    for session in sessions:
        await session.stop()


async def test_sigkill_mid_stream_and_restart(tmp_path: Path) -> None:
    """The room lived in memory and is gone; the writer's key and full text bring it back."""
    first = start_server(tmp_path)
    port = urlsplit(first.url).port
    assert port is not None
    writer, viewers = await _open(first.url)
    await writer.type("before the crash\n")
    await _check(writer, viewers)
    typing = asyncio.create_task(writer.type("typed while the server dies and comes back\n"))
    await asyncio.sleep(0.05)
    first.stop(signal.SIGKILL)  # mid-stream: no goodbye to anyone
    _fault("server SIGKILL")
    assert first.process.returncode == -signal.SIGKILL
    await asyncio.sleep(0.3)
    second = start_server(tmp_path, port=port)  # same port and data dir: same secret
    try:
        await typing
        await writer.wait_joined(2)
        for viewer in viewers:
            await viewer.wait_joined(2)
        await writer.type("after")
        await _check(writer, viewers)
        assert writer.text() == "before the crash\ntyped while the server dies and comes back\nafter"
        # While the room was unknown the viewers waited (404 or room_not_found), then came back.
        await _close(writer, *viewers)
    finally:
        assert second.stop() == 0, second.output()


async def test_viewer_connection_dropped(server: RunningServer) -> None:
    writer, viewers = await _open(server.url, viewers=3)
    await writer.type("one ")
    for round_ in range(3):
        viewers[round_].drop_connection()
        _fault("viewer connection dropped")
        await writer.type(f"edit {round_} ")
        await viewers[round_].wait_joined(2)
    await writer.type("done")
    await _check(writer, viewers)
    await _close(writer, *viewers)


class ChaosWriter(Writer):
    """Sends its deltas duplicated, out of order, or not at all (a gap), by a fixed seed."""

    def __init__(self, grant: dict[str, Any], seed: int) -> None:
        super().__init__(grant)
        self.random = random.Random(seed)
        self.late: dict[str, Any] | None = None
        self.faults: dict[str, int] = {"duplicated": 0, "reordered": 0, "dropped": 0}

    async def emit(self, event: str, payload: Any) -> None:
        data = payload.get("data", {}) if isinstance(payload, dict) else {}
        if event != "sendToRoom" or data.get("type") != "delta":
            await super().emit(event, payload)
            return
        roll = self.random.random()
        if roll < 0.15:
            self.faults["duplicated"] += 1
            await super().emit(event, payload)
            await super().emit(event, payload)
        elif roll < 0.3 and self.late is None:
            self.faults["reordered"] += 1
            self.late = payload  # goes out after the next one
            return
        elif roll < 0.36:
            self.faults["dropped"] += 1  # lost: the room holds what follows, then asks for sync
        else:
            await super().emit(event, payload)
        if self.late is not None and self.late is not payload:
            late, self.late = self.late, None
            await super().emit(event, late)


async def test_deltas_duplicated_reordered_and_lost(tmp_path: Path) -> None:
    running = start_server(tmp_path, env={"CODESTREAM_GAP_TIMEOUT_SECONDS": "0.3"})
    try:
        _, grant = await negotiate(running.url)
        writer = ChaosWriter(grant, seed=7)
        await writer.connect()
        assert (await writer.join())["success"]
        viewers = [ViewerSession(running.url, writer.room_id) for _ in range(3)]
        for session in viewers:
            session.start()
            await session.wait_joined()
        text = "def chaos():\n    return 'every viewer ends equal to the writer' 😀\n" * 3
        for ch in text:
            offset = len(writer.text().encode("utf-16-le")) // 2
            await writer.edit(monaco_event((offset, 0, ch)))
            await asyncio.sleep(0.002)
        if writer.late is not None:  # the last one held back: let it go
            await Writer.emit(writer, "sendToRoom", writer.late)
        assert all(writer.faults.values()), writer.faults
        _fault("delta duplicated", writer.faults["duplicated"])
        _fault("delta reordered", writer.faults["reordered"])
        _fault("delta lost (gap)", writer.faults["dropped"])
        shadow = WriterSession(running.url)
        shadow.document = writer.document  # the comparison reads the writer's text
        await _check(shadow, viewers)
        # A viewer joining now gets the same text from the room's snapshot.
        late = Viewer((await negotiate(running.url, room_id=writer.room_id))[1])
        await late.connect()
        await late.join()
        await late.wait_text(writer.text())
        await late.close()
        await writer.close()
        await _close(*viewers)
    finally:
        assert running.stop() == 0


async def test_token_expires_during_session(tmp_path: Path) -> None:
    """Connected sockets outlive their token; a reconnect with it is refused and negotiates again."""
    running = start_server(tmp_path, env={"CODESTREAM_TOKEN_TTL_SECONDS": "2"})
    try:
        writer, viewers = await _open(running.url)
        await writer.type("before expiry ")
        await asyncio.sleep(2.5)  # every token handed out so far has expired
        _fault("token expired mid-session")
        await writer.type("still streaming ")
        await _check(writer, viewers)
        assert writer.events.count("joined") == 1  # nobody was disconnected by the expiry
        # Now the connections drop: the reconnect with the old token is refused, and each
        # session negotiates again (a writer resumes with its key), as the web client does.
        for session in (writer, *viewers):
            session.drop_connection()
            _fault("connection dropped after token expiry")
        await writer.wait_joined(2)
        for viewer in viewers:
            await viewer.wait_joined(2)
        await writer.type("after")
        await _check(writer, viewers)
        for session in (writer, *viewers):
            assert "refused: token has expired" in session.events, session.events
        await _close(writer, *viewers)
    finally:
        assert running.stop() == 0


async def test_second_tab_with_the_same_key(server: RunningServer) -> None:
    """The newest tab writes; the old one is told why, closed, and does not come back."""
    first, viewers = await _open(server.url)
    await first.type("from the first tab ")
    await _check(first, viewers)
    second = WriterSession(server.url, first.room_id, first.key)
    second.document.replace_all("the second tab's text ")
    second.version = 1
    second.start()
    await second.wait_joined()
    _fault("second writer tab")
    for _ in range(100):
        if first.superseded:
            break
        await asyncio.sleep(0.05)
    assert first.superseded and first.client is not None
    notice = [m for m in first.client.messages if m.get("type") == "superseded"]
    assert notice == [
        {
            "type": "superseded",
            "room_id": first.room_id,
            "message": "this stream's writer opened it elsewhere (another tab or device); this one is closed",
        }
    ]
    await asyncio.sleep(0.5)
    assert not first.client.sio.connected and first.events.count("joined") == 1  # closed, not back
    await second.type("keeps streaming")
    await _check(second, viewers)
    assert viewers[0].text() == "the second tab's text keeps streaming"
    viewer = viewers[0].client
    assert viewer is not None
    await viewer.wait_for(lambda: viewer.presence and viewer.presence["writer"] == "online", timeout=5)  # type: ignore[attr-defined]
    await _close(first, second, *viewers)
