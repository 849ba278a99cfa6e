"""Start a real `python -m selfhost` on a free loopback port, as a user would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_VISIT = re.compile(r"Visit (http://[^\s]+)")


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    log: list[str] = field(default_factory=list)
    drain: threading.Thread | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            # SIGABRT: faulthandler (PYTHONFAULTHANDLER) prints every thread's stack before it ends.
            self.process.send_signal(signal.SIGABRT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.drain is not None:
                self.drain.join(5)
            raise AssertionError(f"the server did not stop within {timeout} s:\n{self.output()[-6000:]}") from None

    def output(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.log)

    def _drain(self) -> None:
        # Keep reading so a chatty server never blocks on a full pipe.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)


def start_server(
    data_dir: Path,
    port: int = 0,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    timeout: float = 20,
    module: str = "selfhost",
) -> RunningServer:
    """Run the server (`python -m <module>`) and wait for its `Visit http://...` line."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CODESTREAM_")}
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["PYTHONFAULTHANDLER"] = "1"  # a server that will not stop shows where it is (stop)
    command = [
        sys.executable,
        "-m",
        module,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen(
        command + (args or []), cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return wait_for_visit(RunningServer(process, "", data_dir), timeout, module)


def wait_for_visit(server: RunningServer, timeout: float, name: str) -> RunningServer:
    """Read the server's output until its `Visit http://...` line; then keep draining it."""
    process = server.process
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.log.append(line)
        match = _VISIT.search(line)
        if match:
            server.url = match.group(1).rstrip("/")
            server.drain = threading.Thread(target=server._drain, daemon=True)
            server.drain.start()
            return server
    process.kill()
    raise RuntimeError(f"{name} did not start:\n" + "".join(server.log))
