"""The JSON the Socket.IO trigger hands a function, read into one small value (see docs/AZURE.md).

- connect: `{namespace, socketId, claims, query, headers, clientCertificates}`, where the
  dictionaries map a name to an array of values;
- connected: `{namespace, socketId}`; disconnected: `{namespace, socketId, reason}`;
- a user event: `{namespace, socketId, payload, eventName, parameters}`, `parameters` being
  the arguments the client emitted (null when none) and `payload` the packet as it came.

A user event's arguments are read from `payload`: `parameters` went through Newtonsoft.Json,
which rewrites every whole string that looks like a date (a pasted timestamp would change on
the way; docs/AZURE.md). `parameters` is the fallback when `payload` does not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Values = Mapping[str, list[str]]


class TriggerError(ValueError):
    """Trigger data that is not shaped like the extension's."""


@dataclass(frozen=True)
class SocketEvent:
    socket_id: str
    namespace: str = "/"
    parameters: list[Any] = field(default_factory=list)
    claims: Values = field(default_factory=dict)
    query: Values = field(default_factory=dict)
    headers: Values = field(default_factory=dict)
    reason: str | None = None

    @property
    def payload(self) -> Any:
        """The first argument the client emitted (our events carry one object), else None."""
        return self.parameters[0] if self.parameters else None


def read_event(raw: str | bytes | Mapping[str, Any]) -> SocketEvent:
    data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(data, Mapping):
        raise TriggerError("trigger data must be a JSON object")
    socket_id = data.get("socketId")
    if not isinstance(socket_id, str) or not socket_id:
        raise TriggerError("trigger data has no socketId")
    parameters = _arguments(data.get("payload"), data.get("eventName"))
    if parameters is None:
        parameters = data.get("parameters")
    reason = data.get("reason")
    return SocketEvent(
        socket_id=socket_id,
        namespace=data.get("namespace") or "/",
        parameters=list(parameters) if isinstance(parameters, list) else [],
        claims=_values(data.get("claims")),
        query=_values(data.get("query")),
        headers=_values(data.get("headers")),
        reason=reason if isinstance(reason, str) else None,
    )


# Engine.IO MESSAGE (4), Socket.IO EVENT (2), an optional namespace and ack id, then the JSON
# array: the extension's own decoder (EngineIOProtocol.DecodePacket, SocketIOProtocol.DecodePacket).
_EVENT_PACKET = re.compile(r"42(?:/[^,]*,)?[0-9]*")


def _arguments(payload: Any, event_name: Any) -> list[Any] | None:
    """The emitted arguments as the client sent them; None when `payload` is no such event."""
    if not isinstance(payload, str) or (match := _EVENT_PACKET.match(payload)) is None:
        return None
    try:
        packet = json.loads(payload[match.end() :])
    except ValueError:
        return None
    if not isinstance(packet, list) or not packet or (event_name is not None and packet[0] != event_name):
        return None
    return packet[1:]


def _values(value: Any) -> dict[str, list[str]]:
    """A name -> array dictionary; a lone value is taken as an array of one."""
    if not isinstance(value, Mapping):
        return {}
    result: dict[str, list[str]] = {}
    for name, items in value.items():
        items = items if isinstance(items, list) else [items]
        result[str(name)] = [str(item) for item in items if item is not None]
    return result


def first(values: Values, name: str) -> str | None:
    """The first value of `name`, matched without regard to case (headers and claims vary)."""
    for key, items in values.items():
        if key.lower() == name.lower() and items:
            return items[0]
    return None
