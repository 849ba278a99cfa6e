"""When the start-up check fails, the server says so and runs on the libraries' own path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engineio.async_socket import AsyncSocket

from selfhost import fanout
from tests.fanout.conftest import Running
from tests.fanout.raw import RawViewer
from tests.support.clients import monaco_event
from tests.support.server import RunningServer, start_server

# Loaded by the server's Python at start-up: engineio still works, but poll's signature is not
# the one selfhost/fanout.py was written for.
CHANGED_LIBRARY = """
import engineio.async_socket
_poll = engineio.async_socket.AsyncSocket.poll
async def poll(self, *args):
    return await _poll(self)
engineio.async_socket.AsyncSocket.poll = poll
"""


@pytest.fixture
def changed_server(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(CHANGED_LIBRARY)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    server = start_server(tmp_path / "data", env=env)
    yield server
    assert server.stop() == 0, server.output()


async def test_fallback_logged_and_stream_still_works(changed_server: RunningServer) -> None:
    assert "fan-out fast path off" in changed_server.output()
    assert "AsyncSocket.poll takes ['self', 'args']" in changed_server.output()
    running = Running(None, changed_server.url)  # type: ignore[arg-type]  # a server in another process
    writer = await running.writer()
    raw = await RawViewer.open(await running.grant(writer.room_id), deflate=True)
    await raw.join(writer.room_id)
    await raw.editor()
    viewer = await running.viewer(writer.room_id)
    await writer.edit(monaco_event((0, 0, "x")))
    data, frame = await raw.editor()
    assert data["version"] == 1
    assert frame.rsv1  # uvicorn's own path: every message compressed, none framed by selfhost
    await viewer.wait_text("x")
    raw.close()
    for client in (viewer, writer):
        await client.close()


def test_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AsyncSocket, "_upgrade_websocket")
    assert fanout.check() == ["AsyncSocket._upgrade_websocket is missing"]
    assert fanout.install() == "auto" and not fanout.active()
