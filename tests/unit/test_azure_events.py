"""azure_adapter.events: a user event's arguments come from the raw packet, not the extension's
re-serialised `parameters` (which rewrite date-like strings)."""

from __future__ import annotations

import json

from azure_adapter.events import read_event

STAMP = "2024-01-01T00:00:00.000Z"


def trigger(payload: str | None, parameters: list[object]) -> dict[str, object]:
    return {"namespace": "/", "socketId": "s", "payload": payload, "eventName": "sendToRoom", "parameters": parameters}


def test_the_packet_wins_over_the_rewritten_parameters() -> None:
    sent = {"room_id": "r", "data": {"type": "full", "version": 1, "content": STAMP}}
    rewritten = {**sent, "data": {**sent["data"], "content": "2024-01-01T00:00:00Z"}}
    event = read_event(trigger("42" + json.dumps(["sendToRoom", sent]), [rewritten]))
    assert event.payload == sent


def test_a_namespace_and_an_ack_id_are_skipped() -> None:
    for prefix in ("42/,", "4217", "42/,17"):
        assert read_event(trigger(prefix + json.dumps(["sendToRoom", 1, 2]), [])).parameters == [1, 2]


def test_parameters_are_the_fallback() -> None:
    for payload in (None, "not a packet", "42[not json", '42["joinRoom",1]', "42[]", '42{"a":1}'):
        assert read_event(trigger(payload, ["fallback"])).parameters == ["fallback"], payload
