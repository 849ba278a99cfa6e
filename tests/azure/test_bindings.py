"""The binding metadata function_app declares, pinned to docs/AZURE.md: any drift fails here."""

from __future__ import annotations

from typing import Any

import pytest

import function_app
from shared.settings import DEFAULT_HUB, Settings
from tests.support.azure_host import bindings, functions

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


def http(route: str) -> list[dict[str, Any]]:
    return [
        CLIENT,
        {
            "direction": "IN",
            "type": "httpTrigger",
            "name": "req",
            "methods": ["GET", "OPTIONS"],
            "authLevel": "ANONYMOUS",
            "route": route,
        },
        {"direction": "OUT", "type": "http", "name": "$return"},
    ]


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "negotiate": http("negotiate"),
    "register": http("register"),
    "connect": [trigger("connect")],
    "connected": [OUTPUT, trigger("connected")],
    "join_room": [CLIENT, OUTPUT, trigger("joinRoom")],
    "send_to_room": [CLIENT, OUTPUT, trigger("sendToRoom")],
    "disconnected": [CLIENT, OUTPUT, trigger("disconnected")],
    "Room": [{"direction": "IN", "type": "entityTrigger", "name": "context", "entityName": "Room"}],
    "Socket": [{"direction": "IN", "type": "entityTrigger", "name": "context", "entityName": "Socket"}],
}


def test_the_app_declares_exactly_these_functions() -> None:
    assert sorted(functions()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bindings(name: str) -> None:
    def key(binding: dict[str, Any]) -> str:
        return binding["name"]

    assert sorted(bindings(name), key=key) == sorted(EXPECTED[name], key=key)


def test_hub_comes_from_settings() -> None:
    assert function_app.HUB == HUB
    hubs = {b["hub"] for name in functions() for b in bindings(name) if "hub" in b}
    assert hubs == {HUB}


def test_one_function_per_socketio_event() -> None:
    events = [b["eventName"] for name in functions() for b in bindings(name) if b["type"] == "socketiotrigger"]
    assert sorted(events) == ["connect", "connected", "disconnected", "joinRoom", "sendToRoom"]
    # parameterNames must match the client's argument count exactly or the binding throws: left out.
    assert not [b for name in functions() for b in bindings(name) if "parameterNames" in b]


def test_functions_with_a_durable_client_are_async() -> None:
    import inspect

    for name in functions():
        if any(b["type"] == "durableClient" for b in bindings(name)):
            assert inspect.iscoroutinefunction(functions()[name].get_user_function()), name


def test_connect_returns_its_answer_as_a_string() -> None:
    import typing

    hints = typing.get_type_hints(functions()["connect"].get_user_function())
    assert hints["return"] is str
