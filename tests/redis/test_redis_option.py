"""`--redis-url` refuses to start without a Redis to talk to, and keeps its password to itself."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.server import ROOT


def test_unreachable_redis_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://:hunter2secret@127.0.0.1:{port}/0"
    command = [sys.executable, "-m", "selfhost", "--port", "0", "--data-dir", str(tmp_path), "--redis-url", url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in done.stderr
    assert "hunter2secret" not in done.stdout + done.stderr
