"""The store of record's operations (run by the Azure entities) on saved room state."""

from __future__ import annotations

import pytest

from shared.capabilities import new_room_id
from shared.room_operations import OperationError, room_operation, socket_operation, socket_room
from shared.settings import Settings

SETTINGS = Settings()


def op(room_id: str, state, name: str, value: dict, now: float = 0.0):
    return room_operation(room_id, state, name, value, SETTINGS, now)


def delta(version: int, text: str, offset: int = 0) -> dict:
    return {
        "data": {
            "type": "delta",
            "version": version,
            "changes": [{"changes": [{"rangeOffset": offset, "rangeLength": 0, "text": text}]}],
        }
    }


def test_create_is_idempotent() -> None:
    room = new_room_id()
    state = op(room, None, "create", {"room_id": room})
    state = op(room, op(room, state, "receive", delta(1, "x")), "create", {"room_id": room})
    assert (state["room_id"], state["text"]) == (room, "x")


def test_join_and_leave_track_members_roles_and_activity() -> None:
    room = new_room_id()
    state = op(room, None, "join", {"socket_id": "a", "role": "writer"}, now=10.0)
    state = op(room, state, "join", {"socket_id": "b", "role": "viewer"}, now=11.0)
    assert (state["writers"], state["viewers"], state["last_active"]) == (["a"], ["b"], 11.0)
    state = op(room, state, "join", {"socket_id": "c", "role": "writer"}, now=12.0)  # another tab takes over
    assert (state["writers"], state["viewers"]) == (["c"], ["b"])
    state = op(room, state, "leave", {"socket_id": "b"}, now=13.0)
    assert (state["viewers"], state["last_active"]) == ([], 13.0)
    assert op(room, state, "leave", {"socket_id": "zz"}, now=99.0)["last_active"] == 13.0
    assert op(room, None, "join", {"socket_id": "v", "role": "viewer"}) is None  # no room for a viewer to make


def test_receive_applies_in_version_order() -> None:
    room = new_room_id()
    state = op(room, None, "receive", delta(2, "b", 1), now=1.0)
    assert state["text"] == "" and [h[0] for h in state["held"]] == [2]
    state = op(room, state, "receive", delta(1, "a"), now=1.5)
    assert (state["text"], state["version"], state["held"]) == ("ab", 2, [])
    state = op(room, state, "receive", delta(2, "zz"))  # a duplicate
    assert state["text"] == "ab"


def test_receive_ignores_a_sync_request_and_keeps_a_refused_delta_out() -> None:
    room = new_room_id()
    state = op(room, None, "receive", delta(1, "ab"))
    assert op(room, state, "receive", {"data": {"data": "sync"}}) == state
    refused = op(room, state, "receive", delta(2, "x", offset=7))
    assert refused["text"] == "ab" and refused["version"] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("explode", {}),
        ("join", {"socket_id": "a"}),
        ("join", {"socket_id": 3, "role": "writer"}),
        ("leave", {}),
        ("create", "x"),
    ],
)
def test_bad_operations_are_refused(name: str, value) -> None:
    with pytest.raises(OperationError):
        op(new_room_id(), None, name, value)


def test_socket_operations() -> None:
    state = socket_operation(None, "bind", {"room_id": "R"})
    assert socket_room(state) == "R"
    assert socket_operation(state, "unbind", {"socket_id": "s"}) is None
    assert socket_room(None) is None and socket_room({"room_id": 3}) is None
    with pytest.raises(OperationError):
        socket_operation(None, "bind", {})
    with pytest.raises(OperationError):
        socket_operation(None, "forget", {})
