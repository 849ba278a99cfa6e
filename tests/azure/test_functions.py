"""Each function invoked through the worker with trigger data shaped as AZURE.md says; the exact action JSON it writes.

Socket ids are unique per test: the durable stand-in (and its Socket entities) lives for the session.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from unittest.mock import ANY

import jwt
import pytest

import function_app
from azure_local.host import CONNECTION_SETTING, LocalAzure
from shared.capabilities import new_room_id, writer_key

from .calls import http, invoke, signals

PATH = "/clients/socketio/hubs/" + function_app.HUB


@pytest.fixture
def ids() -> dict[str, str]:
    """Fresh socket ids: w (a writer), v (a viewer), s (any)."""
    tag = uuid.uuid4().hex[:8]
    return {"w": f"w-{tag}", "v": f"v-{tag}", "s": f"s-{tag}"}


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
    secret: str, local: LocalAzure, ids: dict[str, str], claims: dict[str, list[str]], namespace: str, status: int
) -> None:
    now = int(time.time())
    claims = {k: [v.format(future=now + 600, past=now - 1) for v in vs] for k, vs in claims.items()}
    result, _ = await invoke(local, "connect", connect_trigger(claims, namespace))
    assert json.loads(result) == {"statusCode": status}


@pytest.mark.parametrize("trigger", ["not json", json.dumps({"namespace": "/"}), json.dumps([1])])
async def test_a_connect_that_fails_answers_500_at_once(secret: str, local: LocalAzure, trigger: str) -> None:
    """The extension awaits connect's return value: an exception would leave the socket hanging."""
    function = local.worker.functions["connect"]
    result = await local.worker.invoke("connect", {function.trigger["name"]: local.worker.string(trigger)})
    assert json.loads(result.return_value) == {"statusCode": 500}


async def test_connect_without_a_secret_answers_500(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODESTREAM_SECRET")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    result, _ = await invoke(local, "connect", connect_trigger({}))
    assert json.loads(result) == {"statusCode": 500}


async def test_connected_sends_login(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    _, actions = await invoke(local, "connected", {"namespace": "/", "socketId": "s1"})
    assert actions == [
        {"actionName": "sendToSocket", "namespace": "/", "socketId": "s1", "eventName": "login", "parameters": []}
    ]


# --- joinRoom -------------------------------------------------------------------------


async def test_writer_joins_a_new_room(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    room = new_room_id()
    key = writer_key(secret.encode(), room)
    since = len(local.durable.signals)
    _, actions = await invoke(local, "join_room", event(ids["w"], "joinRoom", {"room_id": room, "writer_key": key}))
    presence = {"type": "presence", "room_id": room, "viewers": 0, "writer": "online"}
    assert actions == [
        {"actionName": "addSocketToRoom", "namespace": "/", "socketId": ids["w"], "room": room + "-control"},
        message(
            ids["w"],
            {
                "type": "ackJoinRoom",
                "success": True,
                "room_id": room,
                "role": "writer",
                "version": None,
                "expires_at": ANY,
                "ended_at": None,
            },
        ),
        message(ids["w"], presence),
        # The room's first change reaches everyone, one action per room: the extension reads rooms
        # [R, R-control] with exceptRooms [S] as "R or R-control and not S" (docs/AZURE.md).
        to_rooms([room], presence, [ids["w"]]),
        to_rooms([room + "-control"], presence, [ids["w"]]),
    ]
    # The entities learn it by signals: the room is made, the socket is bound (before the room
    # answers, so nothing relayed meanwhile is lost to it), the writer joins.
    assert signals(local, since) == [
        ("Room", room, "create", {}),
        ("Socket", ids["w"], "bind", {"room_id": room}),
        ("Room", room, "join", {"socket_id": ids["w"], "role": "writer"}),
    ]
    await local.durable.settle()
    assert local.durable.state("Room", room)["writers"] == [ids["w"]]
    assert local.durable.state("Socket", ids["w"]) == {"room_id": room}


async def test_viewer_joins_and_gets_the_snapshot(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    room = await _room_with_text(local, ids, "hi")
    _, actions = await invoke(local, "join_room", event(ids["v"], "joinRoom", {"room_id": room}))
    presence = {"type": "presence", "room_id": room, "viewers": 1, "writer": "online"}
    assert actions == [
        {"actionName": "addSocketToRoom", "namespace": "/", "socketId": ids["v"], "room": room},
        message(
            ids["v"],
            {
                "type": "ackJoinRoom",
                "success": True,
                "room_id": room,
                "role": "viewer",
                "version": 1,
                "expires_at": ANY,
                "ended_at": None,
            },
        ),
        message(
            ids["v"],
            {"type": "editorMessage", "data": {"type": "full", "version": 1, "content": "hi", "numbering": "native"}},
        ),
        message(ids["v"], presence),
        # Within a second of the writer's join: the writer hears at once, viewers later (throttled).
        to_rooms([room + "-control"], presence, [ids["v"]]),
    ]


async def test_viewer_of_an_unknown_room_is_refused(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    room = new_room_id()
    since = len(local.durable.signals)
    _, actions = await invoke(local, "join_room", event(ids["v"], "joinRoom", {"room_id": room}))
    error = {"code": "room_not_found", "message": "no such room: check the link, or wait for its writer"}
    assert actions == [
        message(ids["v"], {"type": "ackJoinRoom", "success": False, "error": error}),
        message(ids["v"], {"type": "error", **error, "event": "joinRoom"}),
    ]
    # Bound before the room answered, and freed when it refused (within this call, so the
    # unbind does not depend on the bind's signal having run).
    assert signals(local, since) == [
        ("Socket", ids["v"], "bind", {"room_id": room}),
        ("Socket", ids["v"], "unbind", {"socket_id": ids["v"]}),
    ]


# --- sendToRoom -----------------------------------------------------------------------


async def test_writer_delta_is_relayed_and_only_enqueued_for_the_room(
    secret: str, local: LocalAzure, ids: dict[str, str]
) -> None:
    room = new_room_id()
    delta = {
        "type": "delta",
        "version": 1,
        "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "x"}]}],
    }
    payload = {"room_id": room, "data": delta, "writer_key": writer_key(secret.encode(), room)}
    since = len(local.durable.signals)
    local.durable.paused = True  # the entity's queue is held, to see what the function left in it
    _, actions = await invoke(local, "send_to_room", event(ids["w"], "sendToRoom", payload))
    assert actions == [to_rooms([room], {"type": "editorMessage", "data": delta}, [ids["w"]])]
    # The entity has only been signalled: its operation waits in the queue, unapplied.
    assert signals(local, since) == [("Room", room, "receive", {"data": delta})]
    assert local.durable.state("Room", room) is None
    local.durable.resume()
    await local.durable.settle()
    assert local.durable.state("Room", room)["text"] == "x"


async def test_a_write_without_the_writer_key_is_refused(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    room = new_room_id()
    payload = {"room_id": room, "data": {"type": "language", "language": "go"}}
    since = len(local.durable.signals)
    _, actions = await invoke(local, "send_to_room", event(ids["v"], "sendToRoom", payload))
    refusal = {
        "type": "error",
        "code": "unauthorized",
        "message": "only the room's writer may change it (send its writer_key)",
        "event": "sendToRoom",
    }
    assert actions == [message(ids["v"], refusal)]
    assert signals(local, since) == []


async def test_sync_is_answered_from_the_entity(secret: str, local: LocalAzure, ids: dict[str, str]) -> None:
    room = await _room_with_text(local, ids, "abc")
    payload = {"room_id": room + "-control", "data": {"data": "sync"}}
    _, actions = await invoke(local, "send_to_room", event(ids["v"], "sendToRoom", payload))
    assert actions == [
        message(
            ids["v"],
            {"type": "editorMessage", "data": {"type": "full", "version": 1, "content": "abc", "numbering": "native"}},
        )
    ]


async def test_sync_for_a_room_behind_its_writer_asks_the_writer(
    secret: str, local: LocalAzure, ids: dict[str, str]
) -> None:
    room = await _room_with_text(local, ids, "abc")
    gap = {"type": "delta", "version": 3, "changes": [{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": "z"}]}]}
    key = writer_key(secret.encode(), room)
    await invoke(
        local, "send_to_room", event(ids["w"], "sendToRoom", {"room_id": room, "data": gap, "writer_key": key})
    )
    await local.durable.settle()
    _, actions = await invoke(
        local, "send_to_room", event(ids["v"], "sendToRoom", {"room_id": room, "data": {"data": "sync"}})
    )
    assert actions == [to_rooms([room + "-control"], {"type": "editorMessage", "data": {"data": "sync"}}, [])]


# --- disconnected ----------------------------------------------------------------------


async def test_disconnected_updates_presence_from_the_socket_entity(
    secret: str, local: LocalAzure, ids: dict[str, str]
) -> None:
    room = await _room_with_text(local, ids, "abc")
    await invoke(local, "join_room", event(ids["v"], "joinRoom", {"room_id": room}))
    await local.durable.settle()
    trigger = {"namespace": "/", "socketId": ids["v"], "reason": "client namespace disconnect"}
    _, actions = await invoke(local, "disconnected", trigger)
    presence = {"type": "presence", "room_id": room, "viewers": 0, "writer": "online"}
    assert actions == [to_rooms([room + "-control"], presence, [])]  # viewers: throttled, told later
    await local.durable.settle()
    assert local.durable.state("Socket", ids["v"]) is None
    assert local.durable.state("Room", room)["viewers"] == []


async def test_disconnected_of_a_socket_that_joined_nothing(
    secret: str, local: LocalAzure, ids: dict[str, str]
) -> None:
    since = len(local.durable.signals)
    _, actions = await invoke(local, "disconnected", {"namespace": "/", "socketId": ids["s"], "reason": "ping timeout"})
    assert actions is None
    assert signals(local, since) == []


# --- failures -------------------------------------------------------------------------


async def test_a_failing_entity_read_becomes_an_internal_error(
    secret: str, local: LocalAzure, ids: dict[str, str]
) -> None:
    local.durable.failing_reads = True  # the durable API answers 500, as when storage is down
    _, actions = await invoke(local, "join_room", event(ids["v"], "joinRoom", {"room_id": new_room_id()}))
    error = {"type": "error", "code": "internal", "message": "the server failed on this message", "event": "joinRoom"}
    assert actions == [message(ids["v"], error)]


# --- negotiate -------------------------------------------------------------------------


async def test_negotiate_mints_the_token_with_the_access_key(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESTREAM_TOKEN_TTL_SECONDS", "600")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await http(local, "negotiate")
    body = json.loads(response.body)
    assert response.status == 200 and response.header("Content-Type") == "application/json"
    assert response.header("Cache-Control") == "no-store"
    assert (body["endpoint"], body["path"]) == (local.connection.endpoint, PATH)
    claims = jwt.decode(
        body["token"], local.connection.access_key, algorithms=["HS256"], audience=local.connection.endpoint + PATH
    )
    assert 590 <= claims["exp"] - time.time() <= 600  # the lifetime is codestream's setting
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert body["url"] == f"{body['endpoint']}?access_token={body['token']}"
    assert body["writer_key"] == writer_key(secret.encode(), body["room_id"])
    await local.durable.settle()
    assert local.durable.state("Room", body["room_id"])["text"] == ""


async def test_register_is_negotiate_too(secret: str, local: LocalAzure) -> None:
    response = await http(local, "register")
    assert json.loads(response.body)["role"] == "writer"


async def test_cors_for_the_allowed_origins_only(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESTREAM_ALLOWED_ORIGINS", "https://site.example, https://other.example/")
    function_app.settings.cache_clear()
    allowed = await http(local, "negotiate", headers={"Origin": "https://other.example"})
    assert allowed.header("Access-Control-Allow-Origin") == "https://other.example"
    refused = await http(local, "negotiate", headers={"Origin": "https://evil.example"})
    assert refused.header("Access-Control-Allow-Origin") is None
    response = await http(local, "negotiate", method="OPTIONS", headers={"Origin": "https://site.example"})
    assert response.status == 204
    assert response.header("Access-Control-Allow-Origin") == "https://site.example"
    assert "GET" in (response.header("Access-Control-Allow-Methods") or "")


async def test_negotiate_without_a_secret_fails_cleanly(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODESTREAM_SECRET")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await http(local, "negotiate")
    assert response.status == 500
    assert json.loads(response.body) == {"error": {"code": "internal", "message": "the server failed to negotiate"}}


# --- helpers ---------------------------------------------------------------------------


async def _room_with_text(local: LocalAzure, ids: dict[str, str], text: str) -> str:
    """A room whose writer (socket ids["w"]) has joined and typed `text` as delta 1."""
    body = json.loads((await http(local, "negotiate")).body)
    room, key = body["room_id"], body["writer_key"]
    await invoke(local, "join_room", event(ids["w"], "joinRoom", {"room_id": room, "writer_key": key}))
    change = {"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": text}]}
    payload = {"room_id": room, "data": {"type": "delta", "version": 1, "changes": [change]}, "writer_key": key}
    await invoke(local, "send_to_room", event(ids["w"], "sendToRoom", payload))
    await local.durable.settle()
    return room


async def test_a_negotiate_that_cannot_mint_answers_500_with_cors_headers(
    secret: str, local: LocalAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No binding runs before the function: its own failure still carries CORS, so the page can read it."""
    monkeypatch.setenv("CODESTREAM_ALLOWED_ORIGINS", "https://site.example")
    monkeypatch.setenv(CONNECTION_SETTING, "Endpoint=nonsense")
    function_app.settings.cache_clear()
    function_app.adapter.cache_clear()
    response = await http(local, "negotiate", headers={"Origin": "https://site.example"})
    assert response.status == 500
    assert response.header("Access-Control-Allow-Origin") == "https://site.example"
    assert json.loads(response.body)["error"]["code"] == "internal"
