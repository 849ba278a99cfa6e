"""Carry out the core's output-binding actions with python-socketio."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import socketio

from shared.actions import Action


async def perform(sio: socketio.AsyncServer, actions: Iterable[Action]) -> None:
    for action in actions:
        await _perform(sio, action)


async def _perform(sio: socketio.AsyncServer, action: Action) -> None:
    name = action["actionName"]
    namespace = action.get("namespace", "/")
    if name == "sendToSocket":
        await sio.emit(action["eventName"], _data(action), to=action["socketId"], namespace=namespace)
    elif name == "sendToRooms":
        # The core excludes only sockets, each of which is also a room named by its id.
        await sio.emit(
            action["eventName"],
            _data(action),
            to=action["rooms"],
            skip_sid=action.get("exceptRooms") or None,
            namespace=namespace,
        )
    elif name == "addSocketToRoom":
        await sio.enter_room(action["socketId"], action["room"], namespace=namespace)
    elif name == "removeSocketFromRoom":
        await sio.leave_room(action["socketId"], action["room"], namespace=namespace)
    elif name == "disconnectSockets":
        # The core names sockets by their own rooms; python-socketio disconnects by id.
        for socket_id in action["rooms"]:
            await sio.disconnect(socket_id, namespace=namespace)
    else:
        raise ValueError(f"unknown action {name!r}")


def _data(action: Action) -> Any:
    """python-socketio sends a tuple as several arguments and None as none."""
    parameters = action.get("parameters") or []
    if not parameters:
        return None
    return parameters[0] if len(parameters) == 1 else tuple(parameters)
