"""The Room and Socket entities invoked through the worker, fed the Durable extension's batch JSON."""

from __future__ import annotations

import json
from typing import Any

from azure_local.host import LocalAzure
from shared.capabilities import new_room_id

from .calls import run_entity


def delta(version: int, offset: int, length: int, text: str) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text, "range": {}}
    return {"data": {"type": "delta", "version": version, "changes": [{"changes": [change], "eol": "\n"}]}, "at": 1.0}


async def test_room_batch_applies_operations_in_order(local: LocalAzure) -> None:
    room = new_room_id()
    result = await run_entity(
        local,
        "Room",
        room,
        None,
        ("create", {"at": 1.0}),
        ("join", {"socket_id": "w1", "role": "writer", "at": 1.0}),
        ("join", {"socket_id": "v1", "role": "viewer", "at": 1.0}),
        ("receive", delta(2, 5, 0, " world")),  # out of order: held until delta 1 arrives
        ("receive", delta(1, 0, 0, "hello")),
        ("receive", {"data": {"type": "language", "language": "rust"}, "at": 2.0}),
        ("leave", {"socket_id": "v1", "at": 3.0}),
    )
    assert result["entityExists"] is True
    assert [r["isError"] for r in result["results"]] == [False] * 7
    state = json.loads(result["entityState"])
    assert (state["text"], state["version"], state["held"]) == ("hello world", 2, [])
    assert (state["language"], state["writers"], state["viewers"]) == ("rust", ["w1"], [])
    assert state["last_active"] == 3.0  # the operations' own times: the entity reads no clock


async def test_room_state_carries_over_between_batches(local: LocalAzure) -> None:
    room = new_room_id()
    first = await run_entity(
        local,
        "Room",
        room,
        None,
        ("join", {"socket_id": "w1", "role": "writer", "at": 1.0}),
        ("receive", delta(1, 0, 0, "ab")),
    )
    second = await run_entity(local, "Room", room, json.loads(first["entityState"]), ("receive", delta(2, 1, 1, "c")))
    assert json.loads(second["entityState"])["text"] == "ac"


async def test_a_refused_delta_keeps_the_text_and_the_batch_goes_on(local: LocalAzure) -> None:
    room = new_room_id()
    result = await run_entity(
        local,
        "Room",
        room,
        None,
        ("receive", delta(1, 0, 0, "ab")),
        ("receive", delta(2, 9, 0, "x")),  # past the end: the writer's text and ours differ
        ("receive", delta(2, 2, 0, "c")),
    )
    assert [r["isError"] for r in result["results"]] == [False, False, False]
    assert json.loads(result["entityState"])["text"] == "abc"


async def test_an_unknown_operation_is_an_error_result_and_changes_nothing(local: LocalAzure) -> None:
    room = new_room_id()
    created = await run_entity(local, "Room", room, None, ("create", {"at": 1.0}))
    before = json.loads(created["entityState"])
    result = await run_entity(local, "Room", room, before, ("explode", {"x": 1, "at": 0}))
    assert result["results"][0]["isError"] is True
    assert "explode" in result["results"][0]["result"]
    assert json.loads(result["entityState"]) == before


async def test_a_viewer_cannot_create_a_room_by_joining(local: LocalAzure) -> None:
    result = await run_entity(
        local, "Room", new_room_id(), None, ("join", {"socket_id": "v1", "role": "viewer", "at": 1.0})
    )
    assert result["entityExists"] is False


async def test_socket_entity_binds_and_forgets(local: LocalAzure) -> None:
    bound = await run_entity(local, "Socket", "s1", None, ("bind", {"room_id": "R"}))
    assert (bound["entityExists"], json.loads(bound["entityState"])) == (True, {"room_id": "R"})
    gone = await run_entity(local, "Socket", "s1", {"room_id": "R"}, ("unbind", {"socket_id": "s1"}))
    assert gone["entityExists"] is False
