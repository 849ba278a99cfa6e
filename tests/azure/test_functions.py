"""Each function called with trigger JSON shaped as docs/AZURE.md says; the exact action JSON it writes."""

from __future__ import annotations

import json
import time
from typing import Any

import azure.functions as func
import jwt
import pytest

import function_app
from shared.capabilities import new_room_id, writer_key
from tests.support.azure_host import ACCESS_KEY, ENDPOINT, DurableExtension, FakeOut, SocketIOService, functions

PATH = "/clients/socketio/hubs/" + function_app.HUB


async def invoke(name: str, trigger: dict[str, Any], durable: DurableExtension) -> tuple[Any, Any]:
    """Call one function as the worker would; (its return value, the actions it wrote or None)."""
    kwargs: dict[str, Any] = {"request": json.dumps(trigger)}
    if name != "connect":
        kwargs["out"] = FakeOut()
    if name not in ("connect", "connected"):
        kwargs["client"] = durable.client_binding()
    result = functions()[name].get_user_function()(**kwargs)
    if hasattr(result, "__await__"):
        result = await result
    written = kwargs["out"].get() if "out" in kwargs else None
    return result, None if written is None else json.loads(written)


def event(sid: str, name: str, *parameters: Any) -> dict[str, Any]:
    packet = "42" + json.dumps([name, *parameters])
    return {"namespace": "/", "socketId": sid, "payload": packet, "eventName": name, "parameters": list(parameters)}


def message(sid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "actionName": "sendToSocket",
        "namespace": "/",
        "socketId": sid,
        "eventName": "message",
        "parameters": [body],
    }


def to_rooms(rooms: list[str], body: dict[str, Any], except_rooms: list[str]) -> dict[str, Any]:
    return {
        "actionName": "sendToRooms",
        "namespace": "/",
        "rooms": rooms,
        "eventName": "message",
        "parameters": [body],
        "exceptRooms": except_rooms,
    }


def queued(durable: DurableExtension) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The signals waiting for the entities, without the times the operations carry."""
    signals = [(n, k, op, json.loads(d)) for n, k, op, d in durable.queue]
    for name, _, _, value in signals:
        if name == "Room":
            assert isinstance(value.pop("at"), float)
    return signals


def connect_trigger(claims: dict[str, list[str]], namespace: str = "/") -> dict[str, Any]:
    return {
        "namespace": namespace,
        "socketId": "s1",
        "claims": claims,
        "query": {"EIO": ["4"], "transport": ["websocket"]},
        "headers": {"Origin": ["https://codestream.example"]},
        "clientCertificates": [],
    }


# --- connect / connected ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "namespace", "status"),
    [
        ({"aud": ["https://x.webpubsub.azure.com" + PATH], "exp": ["{future}"]}, "/", 200),
        ({}, "/", 200),  # the service checked the token; what it leaves out proves nothing
        ({"aud": ["https://x.webpubsub.azure.com/client/hubs/codestream"]}, "/", 200),  # identity negotiation's
        ({"aud": ["https://x.webpubsub.azure.com/clients/socketio/hubs/other"]}, "/", 401),
        ({"aud": ["https://x.webpubsub.azure.com/client/hubs/other"]}, "/", 401),
        ({"aud": ["https://x.webpubsub.azure.com" + PATH], "exp": ["{past}"]}, "/", 401),
        ({"exp": ["soon"]}, "/", 401),
        ({}, "/admin", 404),
    ],
)
async def test_connect(
    secret: str, durable: DurableExtension, claims: dict[str, list[str]], namespace: str, status: int
) -> None:
    now = int(time.time())
    claims = {k: [v.format(future=now + 600, past=now - 1) for v in vs] for k, vs in claims.items()}
    result, _ = await invoke("connect", connect_trigger(claims, namespace), durable)
    assert json.loads(result) == {"statusCode": status}


@pytest.mark.parametrize("trigger", ["not json", json.dumps({"namespace": "/"}), json.dumps([1])])
async def test_a_connect_that_fails_answers_500_at_once(secret: str, trigger: str) -> None:
    """The extension awaits connect's return value: an exception would leave the socket hanging."""
    result = functions()["connect"].get_user_function()(request=trigger)
    assert json.loads(result) == {"statusCode": 500}


async def test_connect_without_a_secret_answers_500(
    secret: str, durable: DurableExtension, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODESTREAM_SECRET")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    result, _ = await invoke("connect", connect_trigger({}), durable)
    assert json.loads(result) == {"statusCode": 500}


async def test_connected_sends_login(secret: str, durable: DurableExtension) -> None:
    _, actions = await invoke("connected", {"namespace": "/", "socketId": "s1"}, durable)
    assert actions == [
        {"actionName": "sendToSocket", "namespace": "/", "socketId": "s1", "eventName": "login", "parameters": []}
    ]


# --- joinRoom -------------------------------------------------------------------------


async def test_writer_joins_a_new_room(secret: str, durable: DurableExtension) -> None:
    room = new_room_id()
    key = writer_key(secret.encode(), room)
    _, actions = await invoke("join_room", event("w1", "joinRoom", {"room_id": room, "writer_key": key}), durable)
    presence = {"type": "presence", "room_id": room, "viewers": 0, "writer": "online"}
    assert actions == [
        {"actionName": "addSocketToRoom", "namespace": "/", "socketId": "w1", "room": room + "-control"},
        message("w1", {"type": "ackJoinRoom", "success": True, "room_id": room, "role": "writer", "version": None}),
        message("w1", presence),
        # The room's first change reaches everyone: one action per room, since the extension reads
        # rooms [R, R-control] with exceptRooms [S] as "R or R-control and not S".
        to_rooms([room], presence, ["w1"]),
        to_rooms([room + "-control"], presence, ["w1"]),
    ]
    # The entities learn it by signals: the room is made, the writer joins it, the socket is bound.
    assert queued(durable) == [
        ("Room", room, "create", {}),
        ("Room", room, "join", {"socket_id": "w1", "role": "writer"}),
        ("Socket", "w1", "bind", {"room_id": room}),
    ]
    await durable.run_pending()
    assert durable.state("Room", room)["writers"] == ["w1"]
    assert durable.state("Socket", "w1") == {"room_id": room}


async def test_viewer_joins_and_gets_the_snapshot(secret: str, service: SocketIOService) -> None:
    durable = service.durable
    room = await _room_with_text(service, "hi")
    _, actions = await invoke("join_room", event("v1", "joinRoom", {"room_id": room}), durable)
    presence = {"type": "presence", "room_id": room, "viewers": 1, "writer": "online"}
    assert actions == [
        {"actionName": "addSocketToRoom", "namespace": "/", "socketId": "v1", "room": room},
        message("v1", {"type": "ackJoinRoom", "success": True, "room_id": room, "role": "viewer", "version": 1}),
        message(
            "v1",
            {"type": "editorMessage", "data": {"type": "full", "version": 1, "content": "hi", "numbering": "native"}},
        ),
        message("v1", presence),
        # Within a second of the writer's join: the writer hears at once, viewers later (throttled).
        to_rooms([room + "-control"], presence, ["v1"]),
    ]


async def test_viewer_of_an_unknown_room_is_refused(secret: str, durable: DurableExtension) -> None:
    room = new_room_id()
    _, actions = await invoke("join_room", event("v1", "joinRoom", {"room_id": room}), durable)
    error = {"code": "room_not_found", "message": "no such room: check the link, or wait for its writer"}
    assert actions == [
        message("v1", {"type": "ackJoinRoom", "success": False, "error": error}),
        message("v1", {"type": "error", **error, "event": "joinRoom"}),
    ]
    assert durable.queue == []  # nothing to change


# --- sendToRoom -----------------------------------------------------------------------


async def test_writer_delta_is_relayed_and_only_enqueued_for_the_room(secret: str, durable: DurableExtension) -> None:
    room = new_room_id()
    delta = {
        "type": "delta",
        "version": 1,
        "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "x"}]}],
    }
    payload = {"room_id": room, "data": delta, "writer_key": writer_key(secret.encode(), room)}
    _, actions = await invoke("send_to_room", event("w1", "sendToRoom", payload), durable)
    assert actions == [to_rooms([room], {"type": "editorMessage", "data": delta}, ["w1"])]
    # The entity has only been signalled: its operation waits in the queue, unapplied.
    assert queued(durable) == [("Room", room, "receive", {"data": delta})]
    assert durable.state("Room", room) is None
    await durable.run_pending()
    assert durable.state("Room", room)["text"] == "x"


async def test_a_write_without_the_writer_key_is_refused(secret: str, durable: DurableExtension) -> None:
    room = new_room_id()
    payload = {"room_id": room, "data": {"type": "language", "language": "go"}}
    _, actions = await invoke("send_to_room", event("v1", "sendToRoom", payload), durable)
    refusal = {
        "type": "error",
        "code": "unauthorized",
        "message": "only the room's writer may change it (send its writer_key)",
        "event": "sendToRoom",
    }
    assert actions == [message("v1", refusal)]
    assert durable.queue == []


async def test_sync_is_answered_from_the_entity(secret: str, service: SocketIOService) -> None:
    room = await _room_with_text(service, "abc")
    payload = {"room_id": room + "-control", "data": {"data": "sync"}}
    _, actions = await invoke("send_to_room", event("v1", "sendToRoom", payload), service.durable)
    assert actions == [
        message(
            "v1",
            {"type": "editorMessage", "data": {"type": "full", "version": 1, "content": "abc", "numbering": "native"}},
        )
    ]


async def test_sync_for_a_room_behind_its_writer_asks_the_writer(secret: str, service: SocketIOService) -> None:
    room = await _room_with_text(service, "abc")
    gap = {"type": "delta", "version": 3, "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "z"}]}]}
    key = writer_key(secret.encode(), room)
    await invoke(
        "send_to_room", event("w1", "sendToRoom", {"room_id": room, "data": gap, "writer_key": key}), service.durable
    )
    await service.settle()
    _, actions = await invoke(
        "send_to_room", event("v1", "sendToRoom", {"room_id": room, "data": {"data": "sync"}}), service.durable
    )
    assert actions == [to_rooms([room + "-control"], {"type": "editorMessage", "data": {"data": "sync"}}, [])]


# --- disconnected ----------------------------------------------------------------------


async def test_disconnected_updates_presence_from_the_socket_entity(secret: str, service: SocketIOService) -> None:
    room = await _room_with_text(service, "abc")
    await invoke("join_room", event("v1", "joinRoom", {"room_id": room}), service.durable)
    await service.settle()
    trigger = {"namespace": "/", "socketId": "v1", "reason": "client namespace disconnect"}
    _, actions = await invoke("disconnected", trigger, service.durable)
    presence = {"type": "presence", "room_id": room, "viewers": 0, "writer": "online"}
    assert actions == [to_rooms([room + "-control"], presence, [])]  # viewers: throttled, flushed later
    await service.settle()
    assert service.durable.state("Socket", "v1") is None
    assert service.durable.state("Room", room)["viewers"] == []


async def test_disconnected_of_a_socket_that_joined_nothing(secret: str, durable: DurableExtension) -> None:
    _, actions = await invoke("disconnected", {"namespace": "/", "socketId": "s9", "reason": "ping timeout"}, durable)
    assert actions is None
    assert durable.queue == []


# --- failures -------------------------------------------------------------------------


async def test_a_failing_entity_read_becomes_an_internal_error(
    secret: str, durable: DurableExtension, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> list[Any]:
        return [500, {"message": "storage is down"}]

    monkeypatch.setattr(durable, "_get", broken)
    durable.install(monkeypatch)
    _, actions = await invoke("join_room", event("v1", "joinRoom", {"room_id": new_room_id()}), durable)
    error = {"type": "error", "code": "internal", "message": "the server failed on this message", "event": "joinRoom"}
    assert actions == [message("v1", error)]


# --- negotiate -------------------------------------------------------------------------


async def test_negotiate_mints_the_token_with_the_access_key(
    secret: str, service: SocketIOService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESTREAM_TOKEN_TTL_SECONDS", "600")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await service.negotiate()
    body = json.loads(response.get_body())
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert (body["endpoint"], body["path"]) == (ENDPOINT, "/clients/socketio/hubs/codestream")
    claims = jwt.decode(body["token"], ACCESS_KEY, algorithms=["HS256"], audience=ENDPOINT + body["path"])
    assert 590 <= claims["exp"] - time.time() <= 600  # the lifetime is codestream's setting
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert body["url"] == f"{body['endpoint']}?access_token={body['token']}"
    assert body["writer_key"] == writer_key(secret.encode(), body["room_id"])
    assert service.durable.state("Room", body["room_id"])["text"] == ""


async def test_register_is_negotiate_too(secret: str, service: SocketIOService) -> None:
    response = await service.negotiate(route="register")
    assert json.loads(response.get_body())["role"] == "writer"


async def test_cors_for_the_allowed_origins_only(
    secret: str, service: SocketIOService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESTREAM_ALLOWED_ORIGINS", "https://site.example, https://other.example/")
    function_app.settings.cache_clear()
    allowed = await service.negotiate(origin="https://other.example")
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://other.example"
    refused = await service.negotiate(origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in refused.headers
    fn = functions()["negotiate"].get_user_function()
    preflight = func.HttpRequest(
        "OPTIONS", "http://h/api/negotiate", headers={"Origin": "https://site.example"}, body=b""
    )
    response = await fn(req=preflight, client=service.durable.client_binding())
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


async def test_negotiate_without_a_secret_fails_cleanly(
    secret: str, service: SocketIOService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODESTREAM_SECRET")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await service.negotiate()
    assert response.status_code == 500
    assert json.loads(response.get_body()) == {
        "error": {"code": "internal", "message": "the server failed to negotiate"}
    }


# --- helpers ---------------------------------------------------------------------------


async def _room_with_text(service: SocketIOService, text: str) -> str:
    """A room whose writer (socket w1) has joined and typed `text` as delta 1."""
    body = json.loads((await service.negotiate()).get_body())
    room, key = body["room_id"], body["writer_key"]
    await invoke("join_room", event("w1", "joinRoom", {"room_id": room, "writer_key": key}), service.durable)
    change = {"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": text}]}
    payload = {"room_id": room, "data": {"type": "delta", "version": 1, "changes": [change]}, "writer_key": key}
    await invoke("send_to_room", event("w1", "sendToRoom", payload), service.durable)
    await service.settle()
    return room


async def test_a_negotiate_that_cannot_mint_answers_500_with_cors_headers(
    secret: str, service: SocketIOService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No binding runs before the function: its own failure still carries CORS, so the page can read it."""
    monkeypatch.setenv("CODESTREAM_ALLOWED_ORIGINS", "https://site.example")
    monkeypatch.setenv("WebPubSubForSocketIOConnectionString", "Endpoint=nonsense")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await service.negotiate(origin="https://site.example")
    assert response.status_code == 500
    assert response.headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert json.loads(response.get_body())["error"]["code"] == "internal"
