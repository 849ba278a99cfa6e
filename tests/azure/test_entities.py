"""The Room and Socket entities through their generated handlers, fed the Durable extension's batch JSON."""

from __future__ import annotations

import json
from typing import Any

from shared.capabilities import new_room_id
from tests.support.azure_host import functions


def run(entity: str, key: str, state: Any, *operations: tuple[str, Any]) -> dict[str, Any]:
    """One batch as the extension sends it: `state` encoded once, each `input` twice."""
    request = {
        "self": {"name": entity, "key": key},
        "exists": state is not None,
        "state": None if state is None else json.dumps(state),
        "batch": [{"name": op, "input": json.dumps(json.dumps(value))} for op, value in operations],
    }
    return json.loads(functions()[entity].get_user_function()(json.dumps(request)))


def delta(version: int, offset: int, length: int, text: str) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text, "range": {}}
    return {"data": {"type": "delta", "version": version, "changes": [{"changes": [change], "eol": "\n"}]}, "at": 1.0}


def test_room_batch_applies_operations_in_order() -> None:
    room = new_room_id()
    result = run(
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


def test_room_state_carries_over_between_batches() -> None:
    room = new_room_id()
    first = run(
        "Room",
        room,
        None,
        ("join", {"socket_id": "w1", "role": "writer", "at": 1.0}),
        ("receive", delta(1, 0, 0, "ab")),
    )
    second = run("Room", room, json.loads(first["entityState"]), ("receive", delta(2, 1, 1, "c")))
    assert json.loads(second["entityState"])["text"] == "ac"


def test_a_refused_delta_keeps_the_text_and_the_batch_goes_on() -> None:
    room = new_room_id()
    result = run(
        "Room",
        room,
        None,
        ("receive", delta(1, 0, 0, "ab")),
        ("receive", delta(2, 9, 0, "x")),  # past the end: the writer's text and ours differ
        ("receive", delta(2, 2, 0, "c")),
    )
    assert [r["isError"] for r in result["results"]] == [False, False, False]
    assert json.loads(result["entityState"])["text"] == "abc"


def test_an_unknown_operation_is_an_error_result_and_changes_nothing() -> None:
    room = new_room_id()
    before = json.loads(run("Room", room, None, ("create", {"at": 1.0}))["entityState"])
    result = run("Room", room, before, ("explode", {"x": 1, "at": 0}))
    assert result["results"][0]["isError"] is True
    assert "explode" in result["results"][0]["result"]
    assert json.loads(result["entityState"]) == before


def test_a_viewer_cannot_create_a_room_by_joining() -> None:
    result = run("Room", new_room_id(), None, ("join", {"socket_id": "v1", "role": "viewer", "at": 1.0}))
    assert result["entityExists"] is False


def test_socket_entity_binds_and_forgets() -> None:
    bound = run("Socket", "s1", None, ("bind", {"room_id": "R"}))
    assert (bound["entityExists"], json.loads(bound["entityState"])) == (True, {"room_id": "R"})
    gone = run("Socket", "s1", {"room_id": "R"}, ("unbind", {"socket_id": "s1"}))
    assert gone["entityExists"] is False
