from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import RunningServer, start_server
from tests.support.stats import STATS

pytest_plugins = ["tests.support.hosts"]  # the three hosts of the scenario and browser suites


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real self-hosted server for the end-to-end tests."""
    running = start_server(tmp_path_factory.mktemp("data"))
    yield running
    assert running.stop() == 0, running.output()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STATS:
        terminalreporter.section("codestream hardening figures")
        for name in sorted(STATS):
            terminalreporter.write_line(f"{name}: {STATS[name]}")
