"""The server as a user meets it: the command line, HTTP answers, sockets, restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import jwt
import pytest
import socketio

from tests.support.clients import Client
from tests.support.flows import new_viewer, new_writer, type_text
from tests.support.negotiate import negotiate
from tests.support.server import ROOT, RunningServer, start_server


def test_help_explains_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "selfhost", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--host", "--port", "--hub", "--data-dir", "--allowed-origin", "--log-level", "CODESTREAM_SECRET"):
        assert option in result.stdout


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "selfhost", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CODESTREAM_MAX_MESSAGE_BYTES": "lots"},
        timeout=30,
    )
    assert result.returncode == 2
    assert "CODESTREAM_MAX_MESSAGE_BYTES: 'lots' is not a whole number" in result.stderr


@pytest.mark.parametrize("route", ["/api/negotiate", "/negotiate", "/register"])
async def test_negotiate_routes(server: RunningServer, route: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + route) as response:
            assert response.status == 200
            body = await response.json()
        assert body["role"] == "writer" and len(body["room_id"]) == 22 and len(body["writer_key"]) == 43
        assert body["path"] == "/clients/socketio/hubs/codestream"
        assert body["endpoint"] == server.url
        assert body["url"] == f"{server.url}?access_token={body['token']}"
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert claims["aud"] == server.url + body["path"] and claims["room"] == body["room_id"]
        assert claims["role"] == "writer" and claims["exp"] - claims["iat"] == 3600
        async with session.get(server.url + route, params={"room_id": body["room_id"]}) as response:
            viewer = await response.json()
        assert response.status == 200 and viewer["role"] == "viewer" and "writer_key" not in viewer


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"room_id": "AAAAAAAAAAAAAAAAAAAAAA"}, 404, "room_not_found"),
        ({"room_id": "not-a-room"}, 400, "bad_request"),
        ({"writer_key": "A" * 43}, 400, "bad_request"),
        ({"room_id": "AAAAAAAAAAAAAAAAAAAAAA", "writer_key": "A" * 43}, 403, "unauthorized"),
        ({"room_id": "AAAAAAAAAAAAAAAAAAAAAA", "writer_key": "short"}, 403, "unauthorized"),
    ],
)
async def test_negotiate_refusals(server: RunningServer, query: dict[str, str], status: int, code: str) -> None:
    got, body = await negotiate(server.url, **query)
    assert got == status
    assert body["error"]["code"] == code and body["error"]["message"]
    assert set(body) == {"error"}


async def test_health_page_and_security_headers(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/healthz") as response:
            assert response.status == 200 and await response.json() == {"status": "ok"}
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        async with session.get(server.url + "/") as response:
            assert response.status == 200
            assert "text/html" in response.headers["Content-Type"]
            assert "codestream" in await response.text()
            assert response.headers["X-Frame-Options"] == "DENY"


async def _refused(server: RunningServer, **connect: object) -> str:
    """Connect and expect a refusal; the reason the server gave (its connect_error data)."""
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[object] = []
    client.on("connect_error", reasons.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            socketio_path="/clients/socketio/hubs/codestream",
            transports=["websocket"],
            wait_timeout=5,
            **connect,
        )
    assert len(reasons) == 1 and reasons[0]["data"] == {"code": "unauthorized"}, reasons
    return reasons[0]["message"]


async def test_socket_without_valid_token_is_refused(server: RunningServer) -> None:
    assert "no access_token" in await _refused(server)
    assert "invalid token" in await _refused(server, auth={"token": "not.a.jwt"})
    _, grant = await negotiate(server.url)
    forged = jwt.encode({**jwt.decode(grant["token"], options={"verify_signature": False})}, "another secret " * 3)
    assert "invalid token" in await _refused(server, auth={"token": forged})
    claims = jwt.decode(grant["token"], options={"verify_signature": False})
    other_hub = jwt.encode({**claims, "aud": server.url + "/clients/socketio/hubs/other"}, "x" * 32)
    assert "invalid token" in await _refused(server, auth={"token": other_hub})


async def test_expired_token_is_refused(tmp_path: Path) -> None:
    secret = "s" * 40
    running = start_server(tmp_path, env={"CODESTREAM_SECRET": secret})
    try:
        _, grant = await negotiate(running.url)
        claims = jwt.decode(grant["token"], options={"verify_signature": False})
        expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, secret)
        assert "token has expired" in await _refused(running, auth={"token": expired})
        hub = jwt.encode({**claims, "aud": running.url + "/clients/socketio/hubs/other"}, secret)
        assert "another hub" in await _refused(running, auth={"token": hub})
        assert not (tmp_path / "secret").exists()  # the environment's secret is not copied to disk
    finally:
        assert running.stop() == 0


async def test_secret_and_rooms_survive_a_restart_and_the_writer_resumes(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    writer = await new_writer(first)
    await type_text(writer, "before restart")
    await writer.close()
    assert first.stop(signal.SIGINT) == 0
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "codestream.sqlite3").is_file()

    second = start_server(tmp_path)
    try:
        # The room is on disk: a viewer gets its last text at once, with nobody writing.
        viewer = await new_viewer(second, writer.room_id)
        await viewer.wait_text("before restart")
        status, grant = await negotiate(second.url, room_id=writer.room_id, writer_key=writer.grant["writer_key"])
        assert status == 200 and grant["role"] == "writer"
        # Its old token is still valid too: the socket.io client reconnects with it and goes on.
        old = Client(writer.grant | {"endpoint": second.url})
        await old.connect()
        ack = await old.join(writer_key=writer.grant["writer_key"])
        assert ack["success"] and ack["version"] == 14
        await old.emit(
            "sendToRoom",
            {
                "room_id": writer.room_id,
                "writer_key": writer.grant["writer_key"],
                "data": {"type": "full", "version": 15, "content": "after restart"},
            },
        )
        await viewer.wait_text("after restart")
        await old.close()
        await viewer.close()
    finally:
        assert second.stop() == 0


async def test_hub_option_moves_the_socket_path(tmp_path: Path) -> None:
    running = start_server(tmp_path, args=["--hub", "demo_hub"])
    try:
        _, grant = await negotiate(running.url)
        assert grant["path"] == "/clients/socketio/hubs/demo_hub"
        client = Client(grant)
        await client.connect()
        assert (await client.join(writer_key=grant["writer_key"]))["success"]
        await client.close()
    finally:
        assert running.stop() == 0


async def test_no_secret_reaches_the_log(tmp_path: Path) -> None:
    running = start_server(tmp_path, args=["--log-level", "debug"])
    writer = await new_writer(running)
    await type_text(writer, "secret stuff")
    await writer.close()
    assert running.stop() == 0
    log = running.output()
    secret = (tmp_path / "secret").read_text().strip()
    for value in (secret, writer.grant["writer_key"], writer.grant["token"]):
        assert value not in log
    assert "Visit http://127.0.0.1:" in log
