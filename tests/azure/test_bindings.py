"""The binding metadata the worker indexes from function_app's decorators, pinned to AZURE.md: any drift fails here."""

from __future__ import annotations

from typing import Any

import pytest

import function_app
from azure_local.host import LocalAzure
from shared.settings import DEFAULT_HUB, Settings

HUB = Settings.from_env().hub or DEFAULT_HUB
CONNECTION = "WebPubSubForSocketIOConnectionString"


def trigger(event: str) -> dict[str, Any]:
    return {
        "direction": "IN",
        "type": "socketiotrigger",
        "name": "request",
        "dataType": "STRING",
        "hub": HUB,
        "eventName": event,
    }


OUTPUT = {
    "direction": "OUT",
    "type": "socketio",
    "name": "out",
    "dataType": "STRING",
    "hub": HUB,
    "connection": CONNECTION,
}
CLIENT = {"direction": "IN", "type": "durableClient", "name": "client"}


def http(route: str, method: str = "GET", actions: bool = False) -> list[dict[str, Any]]:
    return [
        CLIENT,
        *([OUTPUT] if actions else []),  # the rooms API's end and delete tell the room's sockets
        {
            "direction": "IN",
            "type": "httpTrigger",
            "name": "req",
            "methods": [method, "OPTIONS"],
            "authLevel": "ANONYMOUS",
            "route": route,
        },
        {"direction": "OUT", "type": "http", "name": "$return"},
    ]


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "negotiate": http("negotiate"),
    "register": http("register"),
    "room_text": http("rooms/{room_id}/text"),
    "room_history": http("rooms/{room_id}/history"),
    "end_room": http("rooms/{room_id}/end", "POST", actions=True),
    "delete_room": http("rooms/{room_id}", "DELETE", actions=True),
    "sweep": [
        CLIENT,
        OUTPUT,
        {"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 */5 * * * *"},
    ],
    "connect": [trigger("connect")],
    "connected": [OUTPUT, trigger("connected")],
    "join_room": [CLIENT, OUTPUT, trigger("joinRoom")],
    "send_to_room": [CLIENT, OUTPUT, trigger("sendToRoom")],
    "disconnected": [CLIENT, OUTPUT, trigger("disconnected")],
    "Room": [{"direction": "IN", "type": "entityTrigger", "name": "context", "entityName": "Room"}],
    "Socket": [{"direction": "IN", "type": "entityTrigger", "name": "context", "entityName": "Socket"}],
}


def bindings(local: LocalAzure, name: str) -> list[dict[str, Any]]:
    return local.worker.functions[name].bindings


async def test_the_app_declares_exactly_these_functions(local: LocalAzure) -> None:
    assert sorted(local.worker.functions) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_bindings(local: LocalAzure, name: str) -> None:
    def key(binding: dict[str, Any]) -> str:
        return binding["name"]

    assert sorted(bindings(local, name), key=key) == sorted(EXPECTED[name], key=key)


async def test_hub_comes_from_settings(local: LocalAzure) -> None:
    assert function_app.HUB == HUB
    hubs = {b["hub"] for name in local.worker.functions for b in bindings(local, name) if "hub" in b}
    assert hubs == {HUB}


async def test_one_function_per_socketio_event(local: LocalAzure) -> None:
    events = [
        b["eventName"]
        for name in local.worker.functions
        for b in bindings(local, name)
        if b["type"] == "socketiotrigger"
    ]
    assert sorted(events) == ["connect", "connected", "disconnected", "joinRoom", "sendToRoom"]
    # parameterNames must match the client's argument count exactly or the binding throws: left out.
    assert not [b for name in local.worker.functions for b in bindings(local, name) if "parameterNames" in b]


async def test_functions_with_a_durable_client_are_async(local: LocalAzure) -> None:
    from azure_functions_runtime.handle_event import _functions  # the worker's registry

    for name, function in local.worker.functions.items():
        if any(b["type"] == "durableClient" for b in function.bindings):
            assert _functions.get_function(function.function_id).is_async, name


async def test_connect_has_the_implicit_return_the_service_reads(local: LocalAzure) -> None:
    """A socketiotrigger is a generic binding: the worker gives it an implicit $return."""
    from azure_functions_runtime.handle_event import _functions

    info = _functions.get_function(local.worker.functions["connect"].function_id)
    assert info.has_return and info.return_type is not None
