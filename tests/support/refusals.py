"""The refusal corpus: malformed client events, each with the error code a room must answer.

Sent over real sockets by tests/e2e/test_refusals.py and fed to both adapters by the fuzz corpus.
`ROOM` and `KEY` stand for the writer's room id and key until `fill` puts them in; the deltas
are numbered 2, for a room at version 1.
"""

from __future__ import annotations

from typing import Any

from tests.support.clients import monaco_event

ROOM = "room"  # replaced by the writer's room id
KEY = "key"  # replaced by the writer's key
OTHER_ROOM = "AAAAAAAAAAAAAAAAAAAAAA"  # well-formed, but no such room
BAD_KEY = "A" * 43

HUGE = "x" * (1024 * 1024 + 10)


def fill(value: Any, room_id: str, key: str) -> Any:
    if value == ROOM:
        return room_id
    if value == KEY:
        return key
    if isinstance(value, dict):
        return {k: fill(v, room_id, key) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, room_id, key) for v in value]
    return value


def delta(**over: Any) -> dict[str, Any]:
    return {"type": "delta", "version": 2, "changes": [monaco_event((0, 0, "y"))], **over}


# (event, payload, expected code)
CASES: list[tuple[str, Any, str]] = [
    ("joinRoom", None, "bad_request"),
    ("joinRoom", "room", "bad_request"),
    ("joinRoom", [ROOM], "bad_request"),
    ("joinRoom", {}, "bad_request"),
    ("joinRoom", {"room_id": 5}, "bad_request"),
    ("joinRoom", {"room_id": "short"}, "bad_request"),
    ("joinRoom", {"room_id": "../../etc/passwd"}, "bad_request"),
    ("joinRoom", {"room_id": HUGE}, "too_large"),
    ("joinRoom", {"room_id": OTHER_ROOM}, "room_not_found"),
    ("joinRoom", {"room_id": ROOM, "writer_key": BAD_KEY}, "unauthorized"),
    ("joinRoom", {"room_id": ROOM, "writer_key": "short"}, "bad_request"),
    ("joinRoom", {"room_id": ROOM, "writer_key": 7}, "bad_request"),
    ("sendToRoom", None, "bad_request"),
    ("sendToRoom", 42, "bad_request"),
    ("sendToRoom", {"room_id": ROOM}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": None}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "nope"}}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"data": "nosync"}}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version="2")}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=True)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=-1)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(version=2**60)}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[])}, "bad_request"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": delta(changes="abc")}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[{"changes": [{"text": "a"}]}])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {
            "room_id": ROOM,
            "writer_key": KEY,
            "data": delta(changes=[{"changes": [{"rangeOffset": 0, "rangeLength": 0, "text": 5}]}]),
        },
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((0, 0, "\ud83d"))])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((99, 0, "far"))])},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": delta(changes=[monaco_event((0, 0, "a"))] * 1001)},
        "too_large",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5, "content": HUGE}},
        "too_large",
    ),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5}}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "full", "version": 5, "content": "\udc00"}},
        "bad_request",
    ),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "language", "language": "<script>"}},
        "bad_request",
    ),
    ("sendToRoom", {"room_id": ROOM, "writer_key": KEY, "data": {"type": "language"}}, "bad_request"),
    (
        "sendToRoom",
        {"room_id": ROOM, "writer_key": KEY, "data": {"type": "cursor", "version": 1, "selections": 3}},
        "bad_request",
    ),
    (
        "sendToRoom",
        {
            "room_id": ROOM,
            "writer_key": KEY,
            "data": {"type": "cursor", "version": 1, "selections": [{"anchor": -1, "head": 0}]},
        },
        "bad_request",
    ),
    ("sendToRoom", {"room_id": OTHER_ROOM, "data": {"data": "sync"}}, "room_not_found"),
    ("sendToRoom", {"room_id": ROOM, "writer_key": BAD_KEY, "data": delta()}, "unauthorized"),
    ("sendToRoom", {"room_id": "nope", "writer_key": KEY, "data": delta()}, "bad_request"),
]
