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
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import redis_server
from tests.support.server import ROOT, RunningServer, start_server, wait_for_visit

HOSTS = ["selfhost", "selfhost-redis", "azure"]
AZURE_PYTHON = ROOT / ".venv-azure" / "bin" / "python"


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
    return wait_for_visit(RunningServer(process, "", data_dir), timeout, "azure_local")


@pytest.fixture(scope="session")
def hosts_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("hosts-redis")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_host(hosts_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("data-redis"), args=["--redis-url", hosts_redis_url])
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_azure_local(tmp_path_factory.mktemp("data-azure"))
    yield running
    assert running.stop() == 0, running.output()[-3000:]


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> RunningServer:
    """Each of the three hosts in turn; the test's id names it."""
    fixture = {"selfhost": "server", "selfhost-redis": "redis_host", "azure": "azure_server"}[request.param]
    running: RunningServer = request.getfixturevalue(fixture)
    return running
