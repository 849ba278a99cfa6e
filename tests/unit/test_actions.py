"""Actions: the exact JSON of the Socket.IO output binding."""

from __future__ import annotations

import json

from shared.actions import (
    NAMESPACE,
    add_socket_to_room,
    disconnect_sockets,
    remove_socket_from_room,
    send_to_rooms,
    send_to_socket,
)


def test_send_to_socket() -> None:
    assert send_to_socket("s1", "message", {"type": "x"}) == {
        "actionName": "sendToSocket",
        "namespace": "/",
        "socketId": "s1",
        "eventName": "message",
        "parameters": [{"type": "x"}],
    }
    assert send_to_socket("s1", "login")["parameters"] == []
    assert send_to_socket("s1", "e", 1, "two")["parameters"] == [1, "two"]


def test_send_to_rooms() -> None:
    assert send_to_rooms(("R", "R-control"), "message", {"a": 1}, except_rooms=("s1",)) == {
        "actionName": "sendToRooms",
        "namespace": "/",
        "rooms": ["R", "R-control"],
        "eventName": "message",
        "parameters": [{"a": 1}],
        "exceptRooms": ["s1"],
    }
    assert send_to_rooms(["R"], "message")["exceptRooms"] == []


def test_room_membership() -> None:
    assert add_socket_to_room("s1", "R") == {
        "actionName": "addSocketToRoom",
        "namespace": "/",
        "socketId": "s1",
        "room": "R",
    }
    assert remove_socket_from_room("s1", "R") == {
        "actionName": "removeSocketFromRoom",
        "namespace": "/",
        "socketId": "s1",
        "room": "R",
    }


def test_actions_are_plain_json() -> None:
    actions = [send_to_socket("s", "message", {"k": [1, None]}), send_to_rooms(["R"], "message", "x")]
    assert json.loads(json.dumps(actions)) == actions
    assert NAMESPACE == "/"


def test_disconnect_sockets() -> None:
    assert disconnect_sockets(["s1", "s2"]) == {
        "actionName": "disconnectSockets",
        "namespace": "/",
        "rooms": ["s1", "s2"],
        "closeUnderlyingConnection": True,
    }
    assert disconnect_sockets(("s1",), close_underlying_connection=False)["closeUnderlyingConnection"] is False
