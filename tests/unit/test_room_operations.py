"""The named room operations: `apply` on a room, and their JSON form as the Room entity runs it."""

from __future__ import annotations

from typing import Any

import pytest

from shared.capabilities import new_room_id
from shared.protocol import parse_stream_message
from shared.room_operations import (
    Create,
    Delete,
    Deleted,
    End,
    Ended,
    Join,
    Joined,
    Leave,
    OperationError,
    Receive,
    Refused,
    apply,
    decode,
    encode,
    room_operation,
    socket_operation,
)
from shared.settings import Settings

SETTINGS = Settings(max_viewers_per_room=2)


def op(room_id: str, state: Any, name: str, value: dict) -> Any:
    return room_operation(room_id, state, name, value, SETTINGS)


def delta(version: int, text: str, offset: int = 0, at: float = 0.0) -> dict:
    data = {
        "type": "delta",
        "version": version,
        "changes": [{"changes": [{"rangeOffset": offset, "rangeLength": 0, "text": text}]}],
    }
    return {"data": data, "at": at}


def test_create_is_idempotent() -> None:
    room = new_room_id()
    state = op(room, None, "create", {"at": 1.0})
    state = op(room, op(room, state, "receive", delta(1, "x")), "create", {"at": 2.0})
    assert (state["room_id"], state["text"]) == (room, "x")


def test_join_and_leave_track_members_roles_and_activity() -> None:
    room = new_room_id()
    state = op(room, None, "join", {"socket_id": "a", "role": "writer", "at": 10.0})
    state = op(room, state, "join", {"socket_id": "b", "role": "viewer", "at": 11.0})
    assert (state["writers"], state["viewers"], state["last_active"]) == (["a"], ["b"], 11.0)
    state = op(room, state, "join", {"socket_id": "c", "role": "writer", "at": 12.0})  # another tab takes over
    assert (state["writers"], state["viewers"]) == (["c"], ["b"])
    state = op(room, state, "leave", {"socket_id": "b", "at": 13.0})
    assert (state["viewers"], state["last_active"]) == ([], 13.0)
    assert op(room, state, "leave", {"socket_id": "zz", "at": 99.0})["last_active"] == 13.0
    assert op(room, None, "join", {"socket_id": "v", "role": "viewer", "at": 0.0}) is None  # viewers make no room


def test_a_full_room_refuses_a_viewer_and_is_unchanged() -> None:
    room = new_room_id()
    state = None
    for sid in ("w", "v1", "v2"):
        state = op(room, state, "join", {"socket_id": sid, "role": "writer" if sid == "w" else "viewer", "at": 1.0})
    assert op(room, state, "join", {"socket_id": "v3", "role": "viewer", "at": 2.0}) == state
    rebuilt, result = apply(None, room, Join("v3", "viewer", 2.0), SETTINGS)
    assert rebuilt is None and result is None


def test_join_answers_what_the_joiner_needs() -> None:
    room = new_room_id()
    r, _ = apply(None, room, Receive(parse_stream_message(delta(1, "hi")["data"], SETTINGS), 1.0), SETTINGS)
    r, joined = apply(r, room, Join("v", "viewer", 2.0), SETTINGS)
    assert isinstance(joined, Joined)
    assert (joined.changed, joined.version, joined.full["content"], joined.ask_writer) == (True, 1, "hi", False)
    _, again = apply(r, room, Join("v", "viewer", 3.0), SETTINGS)
    assert isinstance(again, Joined) and not again.changed


def test_receive_applies_in_version_order() -> None:
    room = new_room_id()
    state = op(room, None, "receive", delta(2, "b", 1, at=1.0))
    assert state["text"] == "" and [h[0] for h in state["held"]] == [2]
    state = op(room, state, "receive", delta(1, "a", at=1.5))
    assert (state["text"], state["version"], state["held"]) == ("ab", 2, [])
    state = op(room, state, "receive", delta(2, "zz"))  # a duplicate
    assert state["text"] == "ab"


def test_a_refused_delta_is_kept_out() -> None:
    room = new_room_id()
    state = op(room, None, "receive", delta(1, "ab"))
    refused = op(room, state, "receive", delta(2, "x", offset=7))
    assert refused["text"] == "ab" and refused["version"] == 1
    first, _ = apply(None, room, decode("receive", delta(1, "ab"), SETTINGS), SETTINGS)
    _, result = apply(first, room, decode("receive", delta(2, "x", offset=7), SETTINGS), SETTINGS)
    assert isinstance(result, Refused) and result.error.code == "bad_request"


@pytest.mark.parametrize(
    "operation",
    [
        Create(1.5),
        Join("s", "writer", 2.0),
        Join("s", "viewer", 2.0),
        Leave("s", 3.0),
        Receive(parse_stream_message({"type": "language", "language": "go"}, SETTINGS), 4.0),
    ],
)
def test_every_operation_survives_its_json(operation: Any) -> None:
    name, value = encode(operation)
    assert decode(name, value, SETTINGS) == operation


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("explode", {"at": 0}),
        ("join", {"socket_id": "a", "at": 0}),
        ("join", {"socket_id": 3, "role": "writer", "at": 0}),
        ("join", {"socket_id": "a", "role": "writer"}),  # no time
        ("leave", {"at": 0}),
        ("create", "x"),
        ("create", {"at": True}),
        ("receive", {"data": {"data": "sync"}, "at": 0}),
        ("receive", {"data": {"type": "nope"}, "at": 0}),
    ],
)
def test_bad_operations_are_refused(name: str, value: Any) -> None:
    with pytest.raises(OperationError):
        op(new_room_id(), None, name, value)


def test_socket_operations() -> None:
    state = socket_operation(None, "bind", {"room_id": "R"})
    assert state == {"room_id": "R"}
    assert socket_operation(state, "unbind", {"socket_id": "s"}) is None
    with pytest.raises(OperationError):
        socket_operation(None, "bind", {})
    with pytest.raises(OperationError):
        socket_operation(None, "forget", {})


# --- a stream's end of life ---------------------------------------------------------------


def test_create_end_and_delete_keep_their_meaning_as_json() -> None:
    for operation in (Create(1.5), Create(2.0, lifetime=3600), End(3.0), Delete(4.0)):
        assert decode(*encode(operation), SETTINGS) == operation
    for bad in (0, -1, "3600", True):
        with pytest.raises(OperationError, match="lifetime"):
            decode("create", {"at": 1.0, "lifetime": bad}, SETTINGS)


def test_end_stops_writes_once_and_delete_leaves_a_tombstone_that_makes_nothing() -> None:
    room_id = new_room_id()
    room, _ = apply(None, room_id, Create(0.0, lifetime=60), SETTINGS)
    room, _ = apply(room, room_id, Join("w", "writer", 1.0), SETTINGS)
    room, first = apply(room, room_id, End(5.0), SETTINGS)
    room, again = apply(room, room_id, End(9.0), SETTINGS)
    assert first == again == Ended(5.0)
    room, refused = apply(room, room_id, Receive(parse_stream_message(delta(1, "x")["data"], SETTINGS), 6.0), SETTINGS)
    assert isinstance(refused, Refused) and refused.error.code == "unauthorized"
    room, deleted = apply(room, room_id, Join("v", "viewer", 7.0), SETTINGS)
    room, deleted = apply(room, room_id, Delete(8.0), SETTINGS)
    assert deleted == Deleted(["v", "w"])
    assert room is not None and (room.deleted_at, room.expires_at, room.ended_at) == (8.0, 60.0, 5.0)
    assert (room.writers, room.viewers, room.document.text()) == (set(), set(), "")
    for operation, answer in (
        (Create(9.0), False),
        (Join("w", "writer", 9.0), None),
        (Join("v", "viewer", 9.0), None),
        (Leave("v", 9.0), None),
        (End(9.0), None),
        (Delete(9.0), None),
    ):
        after, result = apply(room, room_id, operation, SETTINGS)
        assert (after, result) == (room, answer), operation
    _, receive = apply(room, room_id, Receive(parse_stream_message(delta(1, "x")["data"], SETTINGS), 9.0), SETTINGS)
    assert isinstance(receive, Refused) and receive.error.code == "room_not_found"
