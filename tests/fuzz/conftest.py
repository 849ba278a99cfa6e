"""A self-hosted server for the fuzzers, and a check that the run tried enough cases.

The server's rate limit is lifted (the fuzzers send thousands of messages a second on one
socket; the limit has its own tests in tests/limits) and its secret is known, so that the
in-process oracle computes the same writer keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.server import RunningServer, start_server
from tests.support.stats import STATS

SECRET = "fuzz-secret-" + "0123456789abcdef" * 3
# How many generated cases a run tries, split across the fuzz tests; `make fuzz` raises it.
BUDGET = int(os.environ.get("CODESTREAM_FUZZ_CASES", "1000"))
MIN_CASES = int(os.environ.get("CODESTREAM_FUZZ_MIN_CASES", "0"))


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("fuzz"),
        # Presence at once, not batched: a presence message during a case then means the case changed the room.
        env={
            "CODESTREAM_SECRET": SECRET,
            "CODESTREAM_MESSAGES_PER_SECOND": "1000000",
            "CODESTREAM_PRESENCE_INTERVAL_SECONDS": "0",
        },
    )
    yield running
    crashed = running.process.poll() is not None
    STATS["server crashes"] += int(crashed)
    assert not crashed, running.output()[-5000:]
    assert running.stop() == 0, running.output()[-5000:]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tried = STATS["fuzz cases sent"] + STATS["packet cases sent"]
    if MIN_CASES and tried < MIN_CASES and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nfuzz: only {tried} cases were tried, fewer than CODESTREAM_FUZZ_MIN_CASES={MIN_CASES}")
