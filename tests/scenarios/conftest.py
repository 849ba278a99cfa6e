from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.server import RunningServer

from .drivers import Driver


@pytest.fixture
async def driver(host: RunningServer, request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    """A driver for each host (tests/support/hosts.py); the test id names the host."""
    chosen = Driver(request.node.callspec.params["host"], host.url)
    yield chosen
    await chosen.close()
