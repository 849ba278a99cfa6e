"""Real servers in this process (so the tests can read selfhost.fanout's counters), on free
loopback ports, with selfhost.fanout installed as `python -m selfhost` installs it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
import uvloop

from selfhost import fanout
from selfhost.__main__ import uvicorn_config
from selfhost.app import Server
from shared.settings import Settings
from shared.store import MemoryRoomStore
from tests.support.clients import Viewer, Writer
from tests.support.negotiate import negotiate
from tests.support.redis_server import redis_server

# Writers in these tests send faster than a person types.
ENV = {"CODESTREAM_MESSAGES_PER_SECOND": "100000", "CODESTREAM_PRESENCE_INTERVAL_SECONDS": "0"}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handling alone
        yield


@dataclass
class Running:
    server: Server
    url: str

    async def writer(self) -> Writer:
        status, grant = await negotiate(self.url)
        assert status == 200
        writer = Writer(grant)
        await writer.connect()
        assert (await writer.join())["success"]
        return writer

    async def grant(self, room_id: str) -> dict[str, Any]:
        status, grant = await negotiate(self.url, room_id=room_id)
        assert status == 200
        return grant

    async def viewer(self, room_id: str, transports: list[str] | None = None) -> Viewer:
        viewer = Viewer(await self.grant(room_id))
        g = viewer.grant
        await viewer.sio.connect(
            g["endpoint"], socketio_path=g["path"], auth={"token": g["token"]}, transports=transports or ["websocket"]
        )
        await asyncio.wait_for(viewer.logged_in.wait(), 5)
        assert (await viewer.join())["success"]
        return viewer


@contextlib.asynccontextmanager
async def serve(server: Server) -> AsyncIterator[Running]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = _Uvicorn(uvicorn_config(server, "warning"))  # as `python -m selfhost` configures it
    task = asyncio.create_task(runner.serve(sockets=[sock]))
    while not runner.started:
        await asyncio.sleep(0.01)
    try:
        yield Running(server, f"http://127.0.0.1:{sock.getsockname()[1]}")
    finally:
        runner.should_exit = True
        runner.force_exit = True
        await asyncio.wait_for(task, 10)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """uvloop, as `python -m selfhost` runs. (On asyncio's own loop, a long-polling client and the
    server in one process stall, with or without selfhost.fanout installed.)"""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(ENV)


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    try:
        async with serve(Server(settings, os.urandom(32), MemoryRoomStore(settings))) as started:
            yield started
    finally:
        fanout.uninstall()


@pytest.fixture
def counted() -> Callable[[], fanout.Counters]:
    """The fan-out counters since the test began."""
    start = fanout.Counters(**vars(fanout.counters))

    def since() -> fanout.Counters:
        now = fanout.counters
        return fanout.Counters(**{name: getattr(now, name) - value for name, value in vars(start).items()})

    return since


def full(writer: Writer, version: int, content: str) -> dict[str, Any]:
    """The sendToRoom payload of a writer's `full`."""
    return {"room_id": writer.room_id, "writer_key": writer.grant["writer_key"], "data": full_data(version, content)}


def full_data(version: int, content: str) -> dict[str, Any]:
    return {"type": "full", "version": version, "content": content}
