"""Room state to JSON data and back: what the Durable Entity and the Redis store keep."""

from __future__ import annotations

import json

import pytest

from shared.capabilities import new_room_id
from shared.protocol import parse_stream_message
from shared.room import Room, new_room
from shared.room_codec import RoomCodecError, room_from_dict, room_to_dict
from shared.settings import Settings

SETTINGS = Settings()


def delta(version: int, offset: int, length: int, text: str) -> dict:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


def receive(room: Room, data: dict, now: float = 0.0) -> None:
    room.receive(parse_stream_message(data, SETTINGS), now)  # type: ignore[arg-type]


def busy_room() -> Room:
    room = new_room(new_room_id(), SETTINGS)
    room.add("w1", "writer")
    room.add("v1", "viewer")
    receive(room, delta(0, 0, 0, "héllo 😀"))  # tutorial numbering
    receive(room, delta(2, 0, 0, ">"), now=5.0)  # held: delta 1 is missing
    receive(room, {"type": "language", "language": "python"})
    receive(room, {"type": "cursor", "version": 1, "selections": [{"anchor": 1, "head": 2}]})
    return room


def test_round_trip_keeps_everything() -> None:
    room = busy_room()
    data = room_to_dict(room)
    assert json.loads(json.dumps(data)) == data  # plain JSON
    again = room_from_dict(data, SETTINGS)
    assert room_to_dict(again) == data
    assert (again.document.text(), again.tracker.version, again.tracker.numbering) == ("héllo 😀", 1, "tutorial")
    assert sorted(again.tracker.held) == [2] and again.tracker.gap_since == 5.0
    assert (again.language, again.cursor["selections"], again.writers, again.viewers) == (
        "python",
        [{"anchor": 1, "head": 2}],
        {"w1"},
        {"v1"},
    )


def test_a_rebuilt_room_goes_on_like_the_original() -> None:
    original = busy_room()
    rebuilt = room_from_dict(json.loads(json.dumps(room_to_dict(original))), SETTINGS)
    for room in (original, rebuilt):
        receive(room, delta(1, 0, 0, "<"))  # fills the gap: held delta 2 applies too
    assert rebuilt.document.text() == original.document.text() == "><héllo 😀"
    assert rebuilt.tracker.version == original.tracker.version == 3


def test_limits_come_from_settings_not_from_the_data() -> None:
    data = room_to_dict(busy_room())
    small = room_from_dict(data, Settings(max_document_units=20))
    assert small.max_units == 20 and small.document._max_units == 20


@pytest.mark.parametrize(
    "data",
    [
        None,
        "text",
        {"format": 99},
        {"format": 1},
        {**room_to_dict(new_room("A" * 22, SETTINGS)), "held": [["x", []]]},
    ],
)
def test_damaged_data_is_refused(data: object) -> None:
    with pytest.raises(RoomCodecError):
        room_from_dict(data, SETTINGS)
