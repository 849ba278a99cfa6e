"""negotiate's client tokens: the connection setting in both forms, and the managed-identity
path against local stand-ins of the two endpoints it calls (the App Service identity endpoint,
and the service's `:generateToken` API over HTTPS, as the SDK insists on for a bearer token)."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import pytest_asyncio
import trustme
from aiohttp import web

from azure_adapter.service_tokens import CONNECTION, ServiceConnection, ServiceConnectionError, TokenMinter

HUB = "codestream"
MSI_SECRET = "identity-header-of-this-instance"
MSI_TOKEN = "an-entra-token-for-web-pubsub"
SERVICE_TOKEN = "a-client-token-minted-by-the-service"


def test_a_connection_string_gives_the_key_path() -> None:
    value = "Endpoint=https://demo.webpubsub.azure.com/;AccessKey=k3y==;Version=1.0;"
    connection = ServiceConnection.from_env({CONNECTION: value})
    assert (connection.endpoint, connection.access_key, connection.client_id) == (
        "https://demo.webpubsub.azure.com",
        "k3y==",
        None,
    )
    assert "k3y" not in repr(connection)


def test_the_identity_form_gives_the_managed_identity_path() -> None:
    env = {
        f"{CONNECTION}__endpoint": "https://demo.webpubsub.azure.com",
        f"{CONNECTION}__credential": "managedidentity",
    }
    assert ServiceConnection.from_env(env) == ServiceConnection("https://demo.webpubsub.azure.com")
    assert ServiceConnection.from_env({**env, f"{CONNECTION}__clientId": "c1"}).client_id == "c1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "is not set"),
        ({CONNECTION: "Endpoint=https://demo.webpubsub.azure.com;Version=1.0;"}, "AccessKey"),
        ({CONNECTION: "Endpoint=demo;AccessKey=k;"}, "not an http(s) endpoint"),
        ({f"{CONNECTION}__endpoint": "https://d", f"{CONNECTION}__credential": "clientsecret"}, "managedidentity"),
    ],
)
def test_a_bad_connection_setting_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ServiceConnectionError, match=re.escape(message)):
        ServiceConnection.from_env(env)


async def test_the_key_path_signs_a_socketio_token() -> None:
    minter = TokenMinter(ServiceConnection("https://Demo.webpubsub.azure.com", "k" * 44), HUB)
    endpoint, path, token = await minter.mint("user-1", 90)
    assert (endpoint, path) == ("https://Demo.webpubsub.azure.com", "/clients/socketio/hubs/codestream")
    audience = "https://demo.webpubsub.azure.com/clients/socketio/hubs/codestream"
    claims = jwt.decode(token, "k" * 44, algorithms=["HS256"], audience=audience)
    assert claims["sub"] == "user-1"
    assert 110 <= claims["exp"] - time.time() <= 120  # rounded up to whole minutes
    await minter.close()


# --- the managed identity path ---------------------------------------------------------------


@dataclass
class StandIns:
    service_url: str
    ca_file: str
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="session")  # the loop every async test here runs on (conftest.py)
async def stand_ins(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StandIns]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = []

    async def identity(request: web.Request) -> web.Response:
        seen.append(("identity", dict(request.query), dict(request.headers)))
        if request.headers.get("X-IDENTITY-HEADER") != MSI_SECRET:
            return web.json_response({"error": "bad header"}, status=401)
        expires = str(int(time.time()) + 3600)
        body = {"access_token": MSI_TOKEN, "expires_on": expires, "resource": request.query["resource"]}
        return web.json_response({**body, "token_type": "Bearer"})

    async def generate_token(request: web.Request) -> web.Response:
        seen.append(("generateToken", dict(request.query), dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {MSI_TOKEN}":
            return web.json_response({"code": "Unauthorized"}, status=401)
        return web.json_response({"token": SERVICE_TOKEN})

    identity_app, service_app = web.Application(), web.Application()
    identity_app.router.add_get("/msi/token", identity)
    service_app.router.add_post("/api/hubs/{hub}/:generateToken", generate_token)
    runners = [web.AppRunner(identity_app), web.AppRunner(service_app)]
    for runner in runners:
        await runner.setup()
    identity_site = web.TCPSite(runners[0], "127.0.0.1", 0)
    service_site = web.TCPSite(runners[1], "127.0.0.1", 0, ssl_context=server_tls)
    await identity_site.start()
    await service_site.start()
    identity_port = identity_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    service_port = service_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{identity_port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", MSI_SECRET)
    yield StandIns(f"https://127.0.0.1:{service_port}", ca_file, seen)
    for runner in runners:
        await runner.cleanup()


async def test_the_identity_path_asks_the_service_with_the_instance_identity(stand_ins: StandIns) -> None:
    connection = ServiceConnection(stand_ins.service_url, None, client_id="user-assigned-id")
    minter = TokenMinter(connection, HUB, connection_verify=stand_ins.ca_file)
    endpoint, path, token = await minter.mint("user-2", 3600)
    assert (endpoint, path, token) == (stand_ins.service_url, "/clients/socketio/hubs/codestream", SERVICE_TOKEN)
    (kind, identity_query, _), (kind2, query, headers) = stand_ins.seen
    assert (kind, kind2) == ("identity", "generateToken")
    assert (
        identity_query["resource"] == "https://webpubsub.azure.com"
        and identity_query["client_id"] == "user-assigned-id"
    )
    assert (query["clientType"], query["userId"], query["minutesToExpire"]) == ("SocketIO", "user-2", "60")
    assert headers["Authorization"] == f"Bearer {MSI_TOKEN}"
    await minter.mint("user-3", 60)  # the identity token is cached: one identity call in all
    assert [k for k, *_ in stand_ins.seen] == ["identity", "generateToken", "generateToken"]
    await minter.close()
