"""Protocol: every client event and stream message parsed or refused with the right code."""

from __future__ import annotations

from typing import Any

import pytest

from shared import protocol as p
from shared.capabilities import writer_key
from shared.document import Change
from shared.settings import Settings

ROOM = "AAAAAAAAAAAAAAAAAAAAAA"  # 22 chars, 128 zero bits
ROOM2 = "abcdefghijklmnopqrstuw"
KEY = writer_key(b"k" * 32, ROOM)
S = Settings()


def monaco_event(*changes: tuple[int, int, str], eol: str = "\n", version_id: int = 7) -> dict[str, Any]:
    """A whole IModelContentChangedEvent as Monaco hands it to the tutorial's writer."""
    return {
        "changes": [
            {
                "range": {"startLineNumber": 1, "startColumn": o + 1, "endLineNumber": 1, "endColumn": o + n + 1},
                "rangeLength": n,
                "text": t,
                "rangeOffset": o,
                "forceMoveMarkers": False,
            }
            for o, n, t in changes
        ],
        "eol": eol,
        "versionId": version_id,
        "isUndoing": False,
        "isRedoing": False,
        "isFlush": False,
        "isEolChange": False,
    }


def refused(code: str, call: Any, *args: Any) -> p.ProtocolError:
    with pytest.raises(p.ProtocolError) as caught:
        call(*args)
    assert caught.value.code == code, caught.value.message
    assert str(caught.value) == caught.value.message
    return caught.value


# --- joinRoom ---------------------------------------------------------------------------


def test_join_viewer() -> None:
    assert p.parse_join_room({"room_id": ROOM}) == p.JoinRoom(ROOM, None)


def test_join_writer_with_key() -> None:
    assert p.parse_join_room({"room_id": ROOM, "writer_key": KEY}) == p.JoinRoom(ROOM, KEY)


def test_join_control_room_name_gives_base_id() -> None:
    assert p.parse_join_room({"room_id": ROOM + "-control"}) == p.JoinRoom(ROOM, None)


def test_join_ignores_extra_fields_and_null_key() -> None:
    assert p.parse_join_room({"room_id": ROOM, "writer_key": None, "name": "x"}) == p.JoinRoom(ROOM, None)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "room",
        [ROOM],
        42,
        {},
        {"room_id": None},
        {"room_id": 12},
        {"room_id": True},
        {"room_id": [ROOM]},
        {"room_id": ""},
        {"room_id": ROOM[:-1]},  # 21 chars
        {"room_id": ROOM + "A"},  # 23 chars
        {"room_id": "AAAAAAAAAAAAAAAAAAAAAB"},  # last char carries bits past 128
        {"room_id": "AAAAAAAAAAAAAAAAAAAA+A"},  # not url-safe
        {"room_id": "AAAAAAAAAAAAAAAAAAAA=="},
        {"room_id": ROOM + "-control-control"},
        {"room_id": ROOM + "-CONTROL"},
        {"room_id": " " + ROOM},
        {"room_id": ROOM + "\n"},
        {"room_id": "x" * 100_000},
    ],
)
def test_join_bad_room_ids_are_bad_request(payload: object) -> None:
    refused("bad_request", p.parse_join_room, payload)


@pytest.mark.parametrize(
    "key",
    [
        "",
        12,
        True,
        ["k"],
        {"k": 1},
        KEY[:-1],
        KEY + "A",
        KEY[:-1] + "B",  # last char would carry bits past 256
        KEY[:-1] + "=",
        "+" * 43,
        "k" * 100_000,
    ],
)
def test_join_bad_writer_keys_are_bad_request(key: object) -> None:
    refused("bad_request", p.parse_join_room, {"room_id": ROOM, "writer_key": key})


# --- sendToRoom -------------------------------------------------------------------------


def test_send_tutorial_delta_of_whole_monaco_events() -> None:
    e1 = monaco_event((0, 0, "hello"), version_id=2)
    e2 = monaco_event((5, 0, "\r\n"), (0, 1, "H"), eol="\r\n", version_id=3)
    data = {"type": "delta", "changes": [e1, e2], "version": 0}
    send = p.parse_send_to_room({"room_id": ROOM, "data": data}, S)
    assert send == p.SendToRoom(
        ROOM,
        p.Delta(0, ((Change(0, 0, "hello"),), (Change(5, 0, "\r\n"), Change(0, 1, "H"))), data),
        None,
    )
    assert send.data.raw is data  # relayed exactly as sent


def test_send_subset_event_shape_without_range_or_eol() -> None:
    data = {"type": "delta", "version": 3, "changes": [{"changes": [{"rangeOffset": 2, "rangeLength": 1, "text": ""}]}]}
    assert p.parse_stream_message(data, S) == p.Delta(3, ((Change(2, 1, ""),),), data)


def test_event_with_no_changes_is_an_empty_event() -> None:
    data = {"type": "delta", "version": 1, "changes": [{"changes": []}]}
    assert p.parse_stream_message(data, S) == p.Delta(1, ((),), data)


def test_send_with_writer_key_and_control_suffix() -> None:
    data = {"type": "language", "language": "python"}
    send = p.parse_send_to_room({"room_id": ROOM + "-control", "data": data, "writer_key": KEY}, S)
    assert send == p.SendToRoom(ROOM, p.Language("python", data), KEY)


def test_full() -> None:
    data = {"type": "full", "content": "a\r\nb😀", "version": 4}
    assert p.parse_stream_message(data, S) == p.Full(4, "a\r\nb😀", None, None, data)


def test_full_with_language() -> None:
    data = {"type": "full", "content": "", "version": 0, "language": "typescript"}
    assert p.parse_stream_message(data, S) == p.Full(0, "", "typescript", None, data)


@pytest.mark.parametrize("numbering", ["native", "tutorial"])
def test_full_says_its_numbering(numbering: str) -> None:
    data = {"type": "full", "content": "x", "version": 1, "numbering": numbering}
    assert p.parse_stream_message(data, S) == p.Full(1, "x", None, numbering, data)


@pytest.mark.parametrize("numbering", ["other", 1, True])
def test_full_with_unknown_numbering_is_refused(numbering: object) -> None:
    data = {"type": "full", "content": "x", "version": 1, "numbering": numbering}
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_stream_message(data, S)
    assert caught.value.code == "bad_request"


def test_full_with_null_language() -> None:
    data = {"type": "full", "content": "x", "version": 1, "language": None}
    assert p.parse_stream_message(data, S) == p.Full(1, "x", None, None, data)


def test_cursor() -> None:
    data = {"type": "cursor", "version": 2, "selections": [{"anchor": 0, "head": 3}, {"anchor": 5, "head": 5}]}
    assert p.parse_stream_message(data, S) == p.Cursor(2, data)


def test_cursor_without_selections_list_is_bad() -> None:
    refused("bad_request", p.parse_stream_message, {"type": "cursor", "version": 2}, S)
    refused("bad_request", p.parse_stream_message, {"type": "cursor", "version": 2, "selections": {}}, S)


@pytest.mark.parametrize(
    "selection", [{"anchor": 1}, {"head": 1}, {"anchor": -1, "head": 0}, {"anchor": True, "head": 0}, 3]
)
def test_cursor_bad_selection(selection: object) -> None:
    refused("bad_request", p.parse_stream_message, {"type": "cursor", "version": 0, "selections": [selection]}, S)


@pytest.mark.parametrize("language", ["python", "cpp", "c#", "objective-c", "shell", "a.b+c_d", "x" * 64])
def test_languages(language: str) -> None:
    assert p.parse_stream_message({"type": "language", "language": language}, S).language == language


@pytest.mark.parametrize("language", ["", "-python", "py thon", "<script>", "x" * 65, None, 3, ["python"]])
def test_bad_languages(language: object) -> None:
    refused("bad_request", p.parse_stream_message, {"type": "language", "language": language}, S)
    if language is not None:  # a full may leave its language out
        full = {"type": "full", "version": 0, "content": "", "language": language}
        refused("bad_request", p.parse_stream_message, full, S)


@pytest.mark.parametrize("room", [ROOM, ROOM + "-control"])
def test_sync_request_in_both_rooms(room: str) -> None:
    assert p.parse_send_to_room({"room_id": room, "data": {"data": "sync"}}, S) == p.SendToRoom(
        ROOM, p.SyncRequest(), None
    )


@pytest.mark.parametrize(
    "data",
    [
        {"data": "SYNC"},
        {"data": "sync", "type": "full"},  # a type wins, and this full has no content
        {"data": None},
        {},
        {"type": "nonsense"},
        {"type": None, "data": "other"},
        {"type": "Delta", "version": 0, "changes": [{"changes": []}]},
    ],
)
def test_bad_stream_messages(data: object) -> None:
    refused("bad_request", p.parse_stream_message, data, S)


@pytest.mark.parametrize("data", [None, "sync", 3, ["delta"], True])
def test_data_must_be_an_object(data: object) -> None:
    refused("bad_request", p.parse_send_to_room, {"room_id": ROOM, "data": data}, S)


def test_send_needs_data() -> None:
    error = refused("bad_request", p.parse_send_to_room, {"room_id": ROOM}, S)
    assert error.message == "sendToRoom needs 'data'"


def test_send_bad_room_and_key() -> None:
    refused("bad_request", p.parse_send_to_room, {"room_id": "nope", "data": {"data": "sync"}}, S)
    refused("bad_request", p.parse_send_to_room, {"room_id": ROOM, "data": {"data": "sync"}, "writer_key": "short"}, S)
    refused("bad_request", p.parse_send_to_room, None, S)


# --- numbers and strings ----------------------------------------------------------------


@pytest.mark.parametrize("version", [None, -1, 1.0, 1.5, "1", True, False, [1], 2**53])
def test_bad_versions(version: object) -> None:
    for data in (
        {"type": "delta", "version": version, "changes": [{"changes": []}]},
        {"type": "full", "version": version, "content": ""},
        {"type": "cursor", "version": version, "selections": []},
    ):
        if version is None:
            data.pop("version")
        refused("bad_request", p.parse_stream_message, data, S)


def test_largest_safe_version_is_kept() -> None:
    assert p.parse_stream_message({"type": "full", "version": 2**53 - 1, "content": ""}, S).version == 2**53 - 1


@pytest.mark.parametrize(
    "change",
    [
        {"rangeLength": 0, "text": "x"},
        {"rangeOffset": 0, "text": "x"},
        {"rangeOffset": 0, "rangeLength": 0},
        {"rangeOffset": -1, "rangeLength": 0, "text": "x"},
        {"rangeOffset": 0, "rangeLength": -2, "text": "x"},
        {"rangeOffset": True, "rangeLength": 0, "text": "x"},  # bool is an int in Python, not here
        {"rangeOffset": 0, "rangeLength": False, "text": "x"},
        {"rangeOffset": 0.0, "rangeLength": 0, "text": "x"},
        {"rangeOffset": "0", "rangeLength": 0, "text": "x"},
        {"rangeOffset": 0, "rangeLength": 0, "text": 5},
        {"rangeOffset": 0, "rangeLength": 0, "text": None},
        {"rangeOffset": 0, "rangeLength": 0, "text": ["x"]},
        {"rangeOffset": 0, "rangeLength": 0, "text": "x", "range": "1:1"},
        {"rangeOffset": 0, "rangeLength": 0, "text": "x", "range": None},
        "change",
        None,
    ],
)
def test_bad_changes(change: object) -> None:
    data = {"type": "delta", "version": 1, "changes": [{"changes": [change]}]}
    refused("bad_request", p.parse_stream_message, data, S)


@pytest.mark.parametrize("event", [None, [], "e", {"changes": None}, {"changes": {}}, {"eol": "\n"}])
def test_bad_events(event: object) -> None:
    refused("bad_request", p.parse_stream_message, {"type": "delta", "version": 1, "changes": [event]}, S)


@pytest.mark.parametrize("eol", ["\r", "\n\r", "", 1, "lf"])
def test_bad_eol(eol: object) -> None:
    data = {"type": "delta", "version": 1, "changes": [{"changes": [], "eol": eol}]}
    refused("bad_request", p.parse_stream_message, data, S)


@pytest.mark.parametrize("changes", [None, [], {}, "x", 3])
def test_delta_needs_a_non_empty_list_of_events(changes: object) -> None:
    refused("bad_request", p.parse_stream_message, {"type": "delta", "version": 1, "changes": changes}, S)


@pytest.mark.parametrize("content", [None, 3, ["a"], {"a": 1}, False])
def test_full_content_must_be_a_string(content: object) -> None:
    refused("bad_request", p.parse_stream_message, {"type": "full", "version": 1, "content": content}, S)


def test_huge_strings_parse_without_size_judgement() -> None:
    # Size is judged once for the whole message (check_size), not per field.
    text = "x" * 3_000_000
    data = {"type": "full", "version": 1, "content": text}
    assert p.parse_stream_message(data, S).content == text


# --- limits from Settings ---------------------------------------------------------------


def test_events_per_delta_limit() -> None:
    s = Settings(max_events_per_delta=2)
    ok = {"type": "delta", "version": 1, "changes": [{"changes": []}] * 2}
    assert len(p.parse_stream_message(ok, s).events) == 2
    error = refused("too_large", p.parse_stream_message, {**ok, "changes": [{"changes": []}] * 3}, s)
    assert error.message == "a delta holds at most 2 change events"


def test_changes_per_event_limit() -> None:
    s = Settings(max_changes_per_event=3)
    change = {"rangeOffset": 0, "rangeLength": 0, "text": "a"}
    ok = {"type": "delta", "version": 1, "changes": [{"changes": [change] * 3}]}
    assert p.parse_stream_message(ok, s).events == ((Change(0, 0, "a"),) * 3,)
    bad = {"type": "delta", "version": 1, "changes": [{"changes": [change] * 4}]}
    assert refused("too_large", p.parse_stream_message, bad, s).message == "a change event holds at most 3 changes"


def test_selections_limit() -> None:
    s = Settings(max_selections=1)
    sel = {"anchor": 0, "head": 0}
    assert p.parse_stream_message({"type": "cursor", "version": 0, "selections": [sel]}, s).version == 0
    refused("too_large", p.parse_stream_message, {"type": "cursor", "version": 0, "selections": [sel, sel]}, s)


def test_default_limits_are_a_thousand() -> None:
    change = {"rangeOffset": 0, "rangeLength": 0, "text": ""}
    refused(
        "too_large", p.parse_stream_message, {"type": "delta", "version": 1, "changes": [{"changes": []}] * 1001}, S
    )
    refused(
        "too_large",
        p.parse_stream_message,
        {"type": "delta", "version": 1, "changes": [{"changes": [change] * 1001}]},
        S,
    )
    assert (
        len(
            p.parse_stream_message(
                {"type": "delta", "version": 1, "changes": [{"changes": [change] * 1000}]}, S
            ).events[0]
        )
        == 1000
    )


def test_payload_size_counts_strings_numbers_and_punctuation() -> None:
    assert p.payload_size("abc", 100) == 5
    assert p.payload_size("é", 100) == 4  # two UTF-8 bytes and the quotes
    assert p.payload_size(7, 100) == 4
    assert p.payload_size([1, 2], 100) == 2 + 2 + 8
    assert p.payload_size({"a": "bc"}, 100) == 2 + 1 + 3 + 4
    assert p.payload_size("\ud800", 100) == 5  # a lone surrogate is counted, not a crash


def test_payload_size_stops_counting_past_the_limit() -> None:
    assert p.payload_size(["a" * 60, "b" * 60, "c" * 60], 1000) == 5 + 3 * 62
    assert p.payload_size(["a" * 60, "b" * 60, "c" * 60], 50) == 5 + 62  # stopped after the first string


def test_check_size_at_and_past_the_limit() -> None:
    s = Settings(max_message_bytes=100)
    p.check_size({"content": "x" * 85}, s)  # 2 + 1 + 9 + 87 = 99
    assert p.payload_size({"content": "x" * 86}, 1000) == 100
    p.check_size({"content": "x" * 86}, s)
    error = refused("too_large", p.check_size, {"content": "x" * 87}, s)
    assert error.message == "a message may hold at most 100 bytes"


def test_check_size_default_is_one_mebibyte() -> None:
    p.check_size("x" * (1024 * 1024 - 2), S)
    refused("too_large", p.check_size, "x" * (1024 * 1024 - 1), S)


# --- server to client -------------------------------------------------------------------


def test_server_messages() -> None:
    assert p.control_room(ROOM) == ROOM + "-control"
    assert p.ack_join(ROOM, "viewer", None, 86400.0, 60.5) == {
        "type": "ackJoinRoom",
        "success": True,
        "room_id": ROOM,
        "role": "viewer",
        "version": None,
        "expires_at": 86400.0,
        "ended_at": 60.5,
    }
    assert p.ended(ROOM, 60.5) == {"type": "ended", "room_id": ROOM, "at": 60.5}
    assert p.deleted(ROOM) == {"type": "deleted", "room_id": ROOM}
    error = p.ProtocolError("room_not_found", "gone")
    assert p.ack_join_failed(error) == {
        "type": "ackJoinRoom",
        "success": False,
        "error": {"code": "room_not_found", "message": "gone"},
    }
    assert p.editor_message({"data": "sync"}) == {"type": "editorMessage", "data": {"data": "sync"}}
    assert p.sync_request() == {"data": "sync"}
    assert p.full_message(3, "x", None) == {"type": "full", "version": 3, "content": "x"}
    assert p.full_message(3, "x", "go") == {"type": "full", "version": 3, "content": "x", "language": "go"}
    assert p.presence(ROOM2, 2, True) == {"type": "presence", "room_id": ROOM2, "viewers": 2, "writer": "online"}
    assert p.presence(ROOM2, 0, False)["writer"] == "offline"
    assert p.error_message(p.ProtocolError("rate_limited", "slow"), "sendToRoom") == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow",
        "event": "sendToRoom",
    }


@pytest.mark.parametrize(
    "code", ["bad_request", "unauthorized", "room_not_found", "too_large", "rate_limited", "internal"]
)
def test_error_codes(code: Any) -> None:
    error = p.ProtocolError(code, "why")
    assert (error.code, error.message, str(error)) == (code, "why", "why")
    assert p.error_message(error, "joinRoom")["code"] == code
