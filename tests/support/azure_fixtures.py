"""Fixtures shared by the Azure adapter's tests and the scenario suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import function_app
from azure_adapter.service_tokens import CONNECTION
from azure_local.azurite import STORAGE, azurite_tables
from shared.capabilities import new_secret
from tests.support.azure_host import CONNECTION_STRING, DurableExtension, SocketIOService


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's Table service: the Room entity records the history there."""
    with azurite_tables(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch, azurite: str) -> Iterator[str]:
    """A fresh CODESTREAM_SECRET, and a fresh adapter (with its rate limiter) built from it."""
    value = new_secret()
    monkeypatch.setenv("CODESTREAM_SECRET", value)
    monkeypatch.setenv(STORAGE, azurite)
    monkeypatch.setenv(CONNECTION, CONNECTION_STRING)
    monkeypatch.delenv("CODESTREAM_ALLOWED_ORIGINS", raising=False)
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    function_app.storage.cache_clear()
    function_app.room_entity.cache_clear()
    yield value
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()


@pytest.fixture
def durable(monkeypatch: pytest.MonkeyPatch) -> DurableExtension:
    extension = DurableExtension()
    extension.install(monkeypatch)
    return extension


@pytest.fixture
def service(secret: str, durable: DurableExtension) -> SocketIOService:
    return SocketIOService(durable, function_app.HUB)
