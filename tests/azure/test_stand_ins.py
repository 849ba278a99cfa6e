"""The stand-ins' contracts, with real python-socketio clients: what the extension and the service do.

- the service checks a client's token (key, audience) before `connect` reaches a function,
  and honours the `statusCode` the function answers;
- `sendToRooms` filters as the extension's unparenthesised OData filter does;
- Durable: one batch at a time per entity, signals in order.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import jwt
import pytest
import socketio

from azure_local.host import LocalAzure
from azure_local.webpubsub import room_filter
from tests.support.clients import Client
from tests.support.negotiate import negotiate


def token(local: LocalAzure, audience_path: str, key: str | None = None) -> str:
    now = int(time.time())
    claims = {"nbf": now, "iat": now, "exp": now + 600, "aud": local.connection.endpoint + audience_path}
    return jwt.encode(claims, (key or local.connection.access_key).encode(), algorithm="HS256")


async def connect_with(local: LocalAzure, value: str) -> str | None:
    """None when the service accepted the socket, else the refusal the client saw."""
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[str] = []
    client.on("connect_error", lambda data: refusals.append(str(data)))
    try:
        await client.connect(
            local.base_url,
            socketio_path=f"/clients/socketio/hubs/{local.hub}",
            auth={"token": value},
            transports=["websocket"],
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError as error:
        return " ".join(refusals) or str(error)
    await client.disconnect()
    return None


async def test_the_service_checks_the_token_before_any_function(secret: str, local: LocalAzure) -> None:
    hub = f"/clients/socketio/hubs/{local.hub}"
    assert await connect_with(local, token(local, hub)) is None
    refused = await connect_with(local, token(local, hub, key="another-key-" + "x" * 40))
    assert refused is not None and "Signature" in refused
    refused = await connect_with(local, token(local, "/clients/socketio/hubs/otherhub"))
    assert refused is not None and "otherhub" in refused


async def test_the_default_protocols_audience_is_accepted(secret: str, local: LocalAzure) -> None:
    """What identity-based negotiation mints (`/client/hubs/<hub>`) passes the service and our
    `connect` (issue 11, 5a); a refusing `statusCode` is honoured: see the next test but one."""
    assert await connect_with(local, token(local, f"/client/hubs/{local.hub}")) is None


def test_room_filter_precedence() -> None:
    """`'A' in groups or 'B' in groups and not ('S' in groups)`: `and` first, so S is only kept out of B."""
    selected = room_filter(["A", "B"], ["S"])
    assert selected({"A", "S"}) is True  # the surprise: excluded room, still reached through A
    assert selected({"B", "S"}) is False
    assert selected({"B"}) is True and selected({"A"}) is True and selected({"S"}) is False
    one = room_filter(["A"], ["S", "T"])
    assert (one({"A"}), one({"A", "S"}), one({"A", "T"})) == (True, False, False)


async def test_send_to_rooms_reaches_sockets_as_the_extension_filters(secret: str, local: LocalAzure) -> None:
    clients = {}
    for name in ("in_a_and_s", "in_b_and_s", "in_b"):
        _, grant = await negotiate(local.base_url)
        clients[name] = Client(grant)
        await clients[name].connect()
    sid = {name: client.sio.get_sid() for name, client in clients.items()}
    rooms = {"in_a_and_s": ["A", "S"], "in_b_and_s": ["B", "S"], "in_b": ["B"]}
    actions: list[dict[str, Any]] = [
        {"actionName": "addSocketToRoom", "namespace": "/", "socketId": sid[name], "room": room}
        for name, names in rooms.items()
        for room in names
    ]
    body = {"type": "presence", "probe": True}
    actions.append(
        {
            "actionName": "sendToRooms",
            "namespace": "/",
            "rooms": ["A", "B"],
            "eventName": "message",
            "parameters": [body],
            "exceptRooms": ["S"],
        }
    )
    await local.service.perform(actions)
    await clients["in_b"].wait_for(lambda: body in clients["in_b"].messages)
    await clients["in_a_and_s"].wait_for(lambda: body in clients["in_a_and_s"].messages)
    await asyncio.sleep(0.2)
    assert body not in clients["in_b_and_s"].messages
    for client in clients.values():
        await client.close()


async def test_one_batch_at_a_time_per_entity_in_signal_order(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    running: dict[str, int] = {}
    overlaps: list[str] = []
    invoke = local.worker.invoke

    async def slow_invoke(name: str, inputs: dict[str, Any], *rest: Any) -> Any:
        key = json.loads(next(iter(inputs.values())).string)["self"]["key"] if name == "Socket" else None
        if key is None:
            return await invoke(name, inputs, *rest)
        running[key] = running.get(key, 0) + 1
        if running[key] > 1:
            overlaps.append(key)
        await asyncio.sleep(0.02)  # a slow batch: more signals arrive meanwhile
        try:
            return await invoke(name, inputs, *rest)
        finally:
            running[key] -= 1

    monkeypatch.setattr(local.worker, "invoke", slow_invoke)
    url = f"{local.durable.rpc_base_url}entities/Socket/order-test-{time.time_ns()}"
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for i in range(12):
            async with session.post(url + "?op=bind", json=json.dumps({"room_id": f"R{i}"})) as response:
                assert response.status == 202
    await local.durable.settle()
    key = url.rsplit("/", 1)[1]
    batches = [b for b in local.durable.batches if b["self"]["key"] == key]
    inputs = [json.loads(json.loads(op["input"]))["room_id"] for b in batches for op in b["batch"]]
    assert inputs == [f"R{i}" for i in range(12)] and not overlaps
    assert len(batches) < 12  # signals that came during a batch went together into the next
    assert local.durable.state("Socket", key) == {"room_id": "R11"}


async def test_a_connect_that_fails_is_refused_at_once(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extension awaits connect's return value (issue 11, 5b): `connect` answers 500 itself,
    so the socket is refused at once instead of waiting for the service's timeout."""
    import function_app

    monkeypatch.setattr(local.service, "connect_timeout", 5.0)
    monkeypatch.delenv("CODESTREAM_SECRET")  # adapter() raises inside connect
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    started = time.monotonic()
    refused = await connect_with(local, token(local, f"/clients/socketio/hubs/{local.hub}"))
    assert refused is not None and "connect answered 500" in refused, refused
    assert time.monotonic() - started < 5.0


async def test_an_encoded_line_break_in_a_route_reaches_its_function(local: LocalAzure) -> None:
    """The Functions host hands `/api/rooms/%0Ad/text` to the rooms function (which refuses the
    id as JSON); Starlette's own `path` would not match a line break (schemathesis found it)."""

    def get() -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(local.base_url + "/api/rooms/%0Ad/text", timeout=10) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read().decode()

    status, content_type, body = await asyncio.to_thread(get)
    assert (status, content_type) == (400, "application/json"), body
    assert json.loads(body)["error"]["code"] == "bad_request"
