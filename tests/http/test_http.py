"""HTTP hardening: security headers on every answer, the CORS allowlist (HTTP and sockets),
and no credential in any log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import jwt
import pytest
import socketio

from tests.support.clients import Client
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate, negotiate_sync
from tests.support.server import ROOT, RunningServer, start_server
from tests.support.wire import Wire

ALLOWED = "https://editor.example.org"
FOREIGN = "https://evil.example.com"
SWA_CONFIG = ROOT / "static_site" / "staticwebapp.config.json"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("cors"), args=["--allowed-origin", ALLOWED])
    yield running
    assert running.stop() == 0, running.output()[-3000:]


def _csp(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = sources
    return directives


def test_swa_config_sets_strict_headers() -> None:
    headers = json.loads(SWA_CONFIG.read_text())["globalHeaders"]
    csp = _csp(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert "base-uri" in csp and "form-action" in csp
    for sources in csp.values():
        assert "'unsafe-eval'" not in sources and "*" not in sources
    assert "'unsafe-inline'" not in csp["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"  # a viewer link carries the room id: never leak it


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/api/negotiate"),
        ("GET", "/api/negotiate?room_id=nope"),
        ("GET", "/no/such/page"),
        ("POST", "/api/negotiate"),
        ("GET", "/clients/socketio/hubs/codestream/?EIO=4&transport=polling"),
    ],
)
async def test_every_answer_has_the_security_headers(server: RunningServer, method: str, path: str) -> None:
    expected = json.loads(SWA_CONFIG.read_text())["globalHeaders"]
    async with aiohttp.ClientSession() as session, session.request(method, server.url + path) as response:
        assert response.status < 500
        for name, value in expected.items():
            assert response.headers.get(name) == value, (path, name)
        if path.startswith("/api/negotiate") and response.status == 200:
            assert response.headers["Cache-Control"] == "no-store"  # a grant holds a token


async def test_cors_allowlist_on_the_api(guarded: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(guarded.url + "/api/negotiate", headers={"Origin": ALLOWED}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        async with session.get(guarded.url + "/api/negotiate", headers={"Origin": FOREIGN}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        preflight = {"Origin": FOREIGN, "Access-Control-Request-Method": "GET"}
        async with session.options(guarded.url + "/api/negotiate", headers=preflight) as response:
            assert response.status == 400 and "Access-Control-Allow-Origin" not in response.headers
        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "PUT"}
        async with session.options(guarded.url + "/api/negotiate", headers=preflight) as response:
            assert response.status == 400  # the API's methods only: GET, POST, DELETE
        room = "/api/rooms/AAAAAAAAAAAAAAAAAAAAAA"
        for method, path in (("DELETE", room), ("POST", room + "/end")):  # the writer's, with its key
            preflight = {
                "Origin": ALLOWED,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization",
            }
            async with session.options(guarded.url + path, headers=preflight) as response:
                assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == ALLOWED
                assert method in response.headers["Access-Control-Allow-Methods"]
                assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
            async with session.options(guarded.url + path, headers={**preflight, "Origin": FOREIGN}) as response:
                assert response.status == 400 and "Access-Control-Allow-Origin" not in response.headers
            preflight["Access-Control-Request-Headers"] = "x-other"
            async with session.options(guarded.url + path, headers=preflight) as response:
                assert response.status == 400  # Authorization is the one header allowed
        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
        async with session.options(guarded.url + "/api/negotiate", headers=preflight) as response:
            assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_no_cors_headers_without_an_allowlist(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        for origin in (FOREIGN, ALLOWED):
            async with session.get(server.url + "/api/negotiate", headers={"Origin": origin}) as response:
                assert "Access-Control-Allow-Origin" not in response.headers


def _socket_opens(url: str, origin: str | None) -> bool:
    grant = negotiate_sync(url)
    try:
        wire = Wire(url, grant, origin=origin)
    except Exception as error:  # websockets: the handshake was answered with an HTTP error
        assert "400" in str(error) or "403" in str(error), error
        return False
    wire.join_namespace()
    wire.close()
    return True


def test_socket_handshake_checks_the_origin(guarded: RunningServer, server: RunningServer) -> None:
    assert _socket_opens(guarded.url, ALLOWED)
    assert not _socket_opens(guarded.url, FOREIGN)
    assert _socket_opens(guarded.url, None)  # not a browser: tokens still guard it
    # Without an allowlist only the server's own origin may open a socket.
    assert _socket_opens(server.url, server.url)
    assert not _socket_opens(server.url, FOREIGN)
    assert not _socket_opens(server.url, ALLOWED)


async def test_polling_handshake_checks_the_origin(guarded: RunningServer) -> None:
    _, grant = await negotiate(guarded.url)
    url = f"{guarded.url}{grant['path']}/?EIO=4&transport=polling&access_token={quote(grant['token'])}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Origin": FOREIGN}) as response:
            assert response.status == 400
        async with session.get(url, headers={"Origin": ALLOWED}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_no_credential_in_any_log_line(tmp_path: Path) -> None:
    """Every kind of traffic, at debug level; the log never shows the secret, a key or a token."""
    running = start_server(tmp_path, args=["--log-level", "debug"])
    try:
        writer = await new_writer(running, tutorial=True)  # its token travels in the URL
        await type_text(writer, "log me not")
        viewer = await new_viewer(running, writer.room_id, token_in_url=True)
        await viewer.wait_text("log me not")
        tokens, keys = [writer.grant["token"], viewer.grant["token"]], [writer.grant["writer_key"]]
        # A resume with the key in the query string, and a few refusals.
        _, resumed = await negotiate(running.url, room_id=writer.room_id, writer_key=keys[0])
        tokens.append(resumed["token"])
        client = Client(resumed)
        await client.connect()
        await client.emit("joinRoom", {"room_id": writer.room_id, "writer_key": keys[0][::-1]})
        await client.emit("sendToRoom", {"room_id": writer.room_id, "writer_key": keys[0], "data": {"x": 1}})
        await client.wait_message("error", 2)
        claims = jwt.decode(resumed["token"], options={"verify_signature": False})
        secret = (tmp_path / "secret").read_text().strip()
        expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, secret)
        tokens.append(expired)
        refused = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(
                f"{running.url}?access_token={expired}", socketio_path=resumed["path"], wait_timeout=5
            )
        wire = Wire(running.url, resumed)
        wire.join_namespace()
        wire.send('42["joinRoom",{"writer_key":"' + keys[0] + '"')  # broken JSON holding a key
        wire.send("4\x00" + keys[0])
        wire.close()
        for c in (writer, viewer, client):
            await c.close()
    finally:
        assert running.stop() == 0
    log = running.output()
    assert "access_token=[redacted]" in log  # the websocket lines are there, without the token
    for value in [secret, *tokens, *keys]:
        assert value not in log
        assert quote(value, safe="") not in log
