"""A throwaway redis-server on a free loopback port, and selfhost processes sharing it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import redis_server
from tests.support.server import RunningServer, start_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def start_node(redis_url: str, tmp_path: Path) -> Iterator[Callable[[], RunningServer]]:
    """Start selfhost processes on the same Redis and secret; all stopped after the test."""
    started: list[RunningServer] = []

    def start() -> RunningServer:
        # One data dir: the first process makes the secret, the others read it.
        server = start_server(tmp_path / "data", args=["--redis-url", redis_url])
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:  # not the ones a test killed
            assert server.stop() == 0, server.output()[-3000:]
