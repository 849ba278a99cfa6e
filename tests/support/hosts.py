"""The three hosts the scenario and browser suites run on, as session fixtures (a pytest plugin).

- `selfhost`: `python -m selfhost`, rooms in memory;
- `selfhost-redis`: `python -m selfhost --redis-url` on a throwaway redis-server;
- `azure`: `python -m azure_local` in the Azure venv (Python 3.13): function_app.py in
  Microsoft's worker, behind the stand-ins for Web PubSub for Socket.IO and Durable Entities.

`host` is parametrised over the three; each gives a `RunningServer` whose `url` serves the
site, /api/negotiate and Socket.IO.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import _VISIT, ROOT, RunningServer, start_server

HOSTS = ["selfhost", "selfhost-redis", "azure"]
AZURE_PYTHON = ROOT / ".venv-azure" / "bin" / "python"
REDIS_SERVER = shutil.which("redis-server")


def start_azure_local(
    data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60, module: str = "azure_local"
) -> RunningServer:
    """Run `python -m <module>` (azure_local) with the Azure venv's Python and wait for its `Visit` line."""
    if not AZURE_PYTHON.exists():
        pytest.fail(f"{AZURE_PYTHON} is missing: `make azure-setup` builds the Azure venv (Python 3.13)", pytrace=False)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CODESTREAM_")}
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    command = [str(AZURE_PYTHON), "-m", module, "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    server = RunningServer(process, "", data_dir)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.log.append(line)
        match = _VISIT.search(line)
        if match:
            server.url = match.group(1).rstrip("/")
            threading.Thread(target=server._drain, daemon=True).start()
            return server
    process.kill()
    raise RuntimeError("azure_local did not start:\n" + "".join(server.log))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def hosts_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run installs it)", pytrace=False)
    port = _free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    workdir = tmp_path_factory.mktemp("hosts-redis")
    process = subprocess.Popen([*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def redis_server(hosts_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("data-redis"), args=["--redis-url", hosts_redis_url])
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_azure_local(tmp_path_factory.mktemp("data-azure"))
    yield running
    running.stop()


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> RunningServer:
    """Each of the three hosts in turn; the test's id names it."""
    fixture = {"selfhost": "server", "selfhost-redis": "redis_server", "azure": "azure_server"}[request.param]
    running: RunningServer = request.getfixturevalue(fixture)
    return running
