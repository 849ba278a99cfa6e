"""Actions in the JSON vocabulary of the Socket.IO output binding (see docs/AZURE.md).

The Azure adapter writes a list of these as it is; the self-hosted adapter performs them
with python-socketio. Keys are camelCase and `actionName` names the action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Action = dict[str, Any]
NAMESPACE = "/"


def send_to_socket(socket_id: str, event: str, *parameters: Any) -> Action:
    return {
        "actionName": "sendToSocket",
        "namespace": NAMESPACE,
        "socketId": socket_id,
        "eventName": event,
        "parameters": list(parameters),
    }


def send_to_rooms(rooms: Sequence[str], event: str, *parameters: Any, except_rooms: Sequence[str] = ()) -> Action:
    return {
        "actionName": "sendToRooms",
        "namespace": NAMESPACE,
        "rooms": list(rooms),
        "eventName": event,
        "parameters": list(parameters),
        "exceptRooms": list(except_rooms),
    }


def add_socket_to_room(socket_id: str, room: str) -> Action:
    return {"actionName": "addSocketToRoom", "namespace": NAMESPACE, "socketId": socket_id, "room": room}


def remove_socket_from_room(socket_id: str, room: str) -> Action:
    return {"actionName": "removeSocketFromRoom", "namespace": NAMESPACE, "socketId": socket_id, "room": room}


def disconnect_sockets(rooms: Sequence[str], close_underlying_connection: bool = True) -> Action:
    """Disconnect every socket in `rooms` (a socket's own room is its id)."""
    return {
        "actionName": "disconnectSockets",
        "namespace": NAMESPACE,
        "rooms": list(rooms),
        "closeUnderlyingConnection": close_underlying_connection,
    }
