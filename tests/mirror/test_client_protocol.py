"""The browser's protocol.js names and builds every message exactly as shared/protocol.py does."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from shared import protocol
from shared.capabilities import new_room_id
from shared.settings import Settings

from .node import node_calls

KEY = "K" * 42 + "A"  # the shape of a writer key
UNICODE = ["", "x", "def f():\n\treturn 1\r\n", "é😀\u200d", "a" * 300]

# JavaScript's name for each Python builder.
BUILDERS: dict[str, Callable[..., Any]] = {
    "joinRoomPayload": protocol.join_room_payload,
    "sendToRoomPayload": protocol.send_to_room_payload,
    "deltaMessage": protocol.delta_message,
    "cursorMessage": protocol.cursor_message,
    "languageMessage": protocol.language_message,
    "markerMessage": protocol.marker_message,
    "fullMessage": protocol.full_message,
    "syncRequest": protocol.sync_request,
    "controlRoom": protocol.control_room,
    "isSyncRequest": protocol.is_sync_request,
}


def call_js(calls: list[tuple[str, list[Any]]]) -> list[Any]:
    results = node_calls("protocol.js", list(calls))
    for (name, args), result in zip(calls, results, strict=True):
        assert "error" not in result, (name, args, result)
    return [result["value"] for result in results]


def stream_messages(rng: random.Random) -> list[dict[str, Any]]:
    version = rng.randint(0, 2**53 - 1)
    change = {"rangeOffset": rng.randint(0, 99), "rangeLength": rng.randint(0, 9), "text": rng.choice(UNICODE)}
    language = rng.choice(["python", "javascript", "c++", "objective-c"])
    return [
        protocol.delta_message(version, [{"changes": [change], "eol": rng.choice(["\n", "\r\n"])}]),
        protocol.full_message(version, rng.choice(UNICODE), rng.choice([None, language]), rng.choice([None, "native"])),
        protocol.cursor_message(version, [{"anchor": rng.randint(0, 9), "head": rng.randint(0, 9)}]),
        protocol.language_message(language),
        protocol.marker_message(version, rng.choice(["intro", "Step 2: tests", "é😀"])),
        protocol.sync_request(),
    ]


def calls_for(rng: random.Random) -> list[tuple[str, list[Any]]]:
    room = new_room_id()
    key = rng.choice([None, KEY])
    calls: list[tuple[str, list[Any]]] = [("joinRoomPayload", [room, key]), ("controlRoom", [room])]
    for message in stream_messages(rng):
        calls.append(("sendToRoomPayload", [rng.choice([room, protocol.control_room(room)]), message, key]))
    version = rng.randint(0, 1000)
    calls += [
        ("deltaMessage", [version, [{"changes": []}]]),
        ("cursorMessage", [version, []]),
        ("languageMessage", [rng.choice(["go", "rust"])]),
        ("markerMessage", [version, rng.choice(["a", "Chapter 1"])]),
        ("fullMessage", [version, rng.choice(UNICODE), rng.choice([None, "go"]), rng.choice([None, "tutorial"])]),
        ("syncRequest", []),
    ]
    return calls


def test_the_vocabulary_is_the_same() -> None:
    (js,) = call_js([("vocabulary", [])])
    assert js == protocol.vocabulary()
    # The vocabulary is not empty, and names what the handlers answer refusals with.
    assert js["events"]["sendToRoom"] == protocol.SEND_TO_ROOM_EVENT == "sendToRoom"
    assert set(js["errorCodes"]) >= {"internal", "rate_limited"}


def test_every_builder_builds_the_same_message() -> None:
    rng = random.Random(20261201)
    calls = [call for _ in range(200) for call in calls_for(rng)]
    for (name, args), got in zip(calls, call_js(calls), strict=True):
        assert got == BUILDERS[name](*args), (name, args)


def test_what_the_browser_builds_the_server_reads() -> None:
    rng = random.Random(7)
    calls = [call for _ in range(50) for call in calls_for(rng) if call[0].endswith("Payload")]
    for (name, args), payload in zip(calls, call_js(calls), strict=True):
        if name == "joinRoomPayload":
            assert protocol.parse_join_room(payload) == protocol.JoinRoom(args[0], args[1])
        else:
            send = protocol.parse_send_to_room(payload, Settings())
            assert send.room_id == args[0].removesuffix(protocol.CONTROL_SUFFIX)
            assert send.writer_key == args[2]


@pytest.mark.parametrize(
    "value",
    [
        {"data": "sync"},
        {"data": "sync", "type": None},
        {"data": "sync", "type": "full"},
        {"data": "SYNC"},
        {"type": "delta"},
        {},
        [],
        None,
        "sync",
        ["sync"],
    ],
)
def test_sync_requests_are_recognised_alike(value: Any) -> None:
    assert call_js([("isSyncRequest", [value])]) == [protocol.is_sync_request(value)]
