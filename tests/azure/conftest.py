"""function_app.py in Microsoft's Python worker, in this process, behind the local stand-ins.

Run with the Azure venv (Python 3.13): `make test` does. One worker per process (its state is
module-global), so one session-wide `LocalAzure` on a free loopback port and one event loop
for every async test here: the durable client keeps one HTTP session for the process too.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn

from azure_adapter.table_history import STORAGE
from azure_local.azurite import azurite_tables
from azure_local.host import CONNECTION_SETTING, ROOT, LocalAzure, local_connection
from azure_local.worker import Worker
from shared.capabilities import new_secret
from shared.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents and pytest_asyncio.is_async_test(item):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's Table service for the session (tools/azurite): its connection string."""
    with azurite_tables(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local(azurite: str) -> AsyncIterator[LocalAzure]:
    os.environ.setdefault("CODESTREAM_SECRET", new_secret())
    os.environ[STORAGE] = azurite  # the host's storage: the history and the rooms' index
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    connection = local_connection(base_url)
    os.environ[CONNECTION_SETTING] = connection.text()
    worker = Worker(ROOT)
    await worker.start()
    app = LocalAzure(worker, connection, Settings.from_env().hub)
    server = uvicorn.Server(uvicorn.Config(app.asgi, log_level="warning", lifespan="off", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    yield app
    server.should_exit = True
    await serving
    worker.stop()


@pytest.fixture
def secret(local: LocalAzure, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh CODESTREAM_SECRET, and a fresh adapter (with its rate limiter) built from it."""
    import function_app  # the module the worker imported

    value = new_secret()
    monkeypatch.setenv("CODESTREAM_SECRET", value)
    monkeypatch.delenv("CODESTREAM_ALLOWED_ORIGINS", raising=False)
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    local.durable.paused = False
    local.durable.failing_reads = False
    yield value
    local.durable.resume()
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
