"""Both hosts stop on SIGTERM (a supervisor's stop, Ctrl-C's twin) with status 0 and leave no
process behind: `python -m azure_local` stops the Azurite it started."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.hosts import start_azure_local
from tests.support.server import RunningServer, start_server


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child)} | _descendants(int(child))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended: only its parent has not read its status


@pytest.mark.parametrize("kind", ["selfhost", "azure"])
def test_sigterm_stops_the_host_and_what_it_started(kind: str, tmp_path: Path) -> None:
    server: RunningServer = start_azure_local(tmp_path) if kind == "azure" else start_server(tmp_path / "data")
    children = _descendants(server.process.pid)
    if kind == "azure":
        assert any("azurite" in Path(f"/proc/{pid}/cmdline").read_text() for pid in children), children
    assert server.stop(signal.SIGTERM) == 0, server.output()[-3000:]
    assert not [pid for pid in children if _running(pid)], server.output()[-3000:]
