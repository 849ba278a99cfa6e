"""Room: presence, snapshot, what it makes of a writer's messages, and when it asks for `sync`."""

from __future__ import annotations

from typing import Any

import pytest

from shared.protocol import ProtocolError, WriterMessage, parse_stream_message
from shared.room import Received, Room
from shared.settings import Settings
from shared.versions import Outcome

ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
EMOJI = "😀"


def delta(version: int, *events: list[tuple[int, int, str]]) -> WriterMessage:
    raw = {
        "type": "delta",
        "version": version,
        "changes": [{"changes": [{"rangeOffset": o, "rangeLength": n, "text": t} for o, n, t in e]} for e in events],
    }
    return parse_stream_message(raw, Settings())  # type: ignore[return-value]


def insert(version: int, offset: int, text: str) -> WriterMessage:
    return delta(version, [(offset, 0, text)])


def full(version: int, content: str, language: str | None = None) -> WriterMessage:
    raw: dict[str, Any] = {"type": "full", "version": version, "content": content}
    if language is not None:
        raw["language"] = language
    return parse_stream_message(raw, Settings())  # type: ignore[return-value]


def room(max_units: int = 1000, max_held: int = 1000, gap_timeout: float = 1.0) -> Room:
    return Room(ROOM, max_units, max_held, gap_timeout)


def state(r: Room) -> tuple[str, int | None, list[int]]:
    return r.document.text(), r.tracker.version, sorted(r.tracker.held)


# --- presence ---------------------------------------------------------------------------


def test_presence_follows_membership() -> None:
    r = room()
    assert r.presence() == {"type": "presence", "room_id": ROOM, "viewers": 0, "writer": "offline"}
    assert r.add("v1", "viewer") is True
    assert r.add("v1", "viewer") is False  # already there
    assert r.add("v2", "viewer") is True
    assert r.add("w", "writer") is True
    assert r.presence() == {"type": "presence", "room_id": ROOM, "viewers": 2, "writer": "online"}
    assert r.add("v2", "writer") is True  # the same socket now writes
    assert (r.viewers, r.writers) == ({"v1"}, {"w", "v2"})
    assert r.remove("w") is True
    assert r.remove("w") is False
    assert r.presence()["writer"] == "online"
    assert r.remove("v2") and r.remove("v1")
    assert r.presence() == {"type": "presence", "room_id": ROOM, "viewers": 0, "writer": "offline"}


# --- snapshot ---------------------------------------------------------------------------


def test_full_of_an_empty_room_is_version_zero() -> None:
    r = room()
    assert r.as_full() == {"type": "full", "version": 0, "content": ""}
    assert r.can_answer_sync()


def test_snapshot_carries_text_version_and_language() -> None:
    r = room()
    r.receive(insert(1, 0, "a" + EMOJI), 0.0)
    r.receive(insert(2, 3, "b"), 0.0)
    assert r.as_full() == {"type": "full", "version": 2, "content": "a" + EMOJI + "b", "numbering": "native"}
    r.receive(parse_stream_message({"type": "language", "language": "rust"}, Settings()), 0.0)  # type: ignore[arg-type]
    assert r.as_full() == {
        "type": "full",
        "version": 2,
        "content": "a" + EMOJI + "b",
        "language": "rust",
        "numbering": "native",
    }


def test_snapshot_of_a_tutorial_stream_gives_the_next_delta_number() -> None:
    r = room()
    r.receive(insert(0, 0, "x"), 0.0)
    r.receive(insert(1, 1, "y"), 0.0)
    assert r.as_full() == {
        "type": "full",
        "version": 2,
        "content": "xy",
        "numbering": "tutorial",
    }  # the tutorial's next delta is 2


def test_can_answer_sync_only_when_current() -> None:
    r = room()
    r.receive(insert(3, 0, "x"), 0.0)  # no base, held
    assert not r.can_answer_sync()
    r = room()
    r.receive(insert(1, 0, "x"), 0.0)
    assert r.can_answer_sync()
    r.receive(insert(3, 0, "z"), 0.0)
    assert not r.can_answer_sync()
    r.receive(insert(2, 1, "y"), 0.0)
    assert r.can_answer_sync()
    assert r.as_full() == {"type": "full", "version": 3, "content": "zxy", "numbering": "native"}


# --- receive ----------------------------------------------------------------------------


def test_receive_outcomes() -> None:
    r = room()
    assert r.receive(insert(1, 0, "a"), 0.0) == Received(Outcome.APPLIED, False)
    assert r.receive(insert(1, 0, "a"), 0.1) == Received(Outcome.DUPLICATE, False)
    assert r.receive(insert(3, 2, "c"), 0.2) == Received(Outcome.HELD, False)
    assert r.receive(insert(2, 1, "b"), 0.3) == Received(Outcome.APPLIED, False)
    assert state(r) == ("abc", 3, [])
    assert r.receive(full(2, "ab"), 0.4) == Received(Outcome.STALE, False)
    assert state(r) == ("abc", 3, [])
    assert r.receive(full(7, "new"), 0.5) == Received(Outcome.APPLIED, False)
    assert state(r) == ("new", 7, [])


def test_multi_change_events_with_crlf_and_emoji() -> None:
    r = room()
    r.receive(insert(1, 0, "ab\r\ncd"), 0.0)
    r.receive(delta(2, [(6, 0, EMOJI), (0, 1, "A"), (2, 2, "\n")], [(0, 0, ">")]), 0.0)
    assert r.document.text() == ">Ab\ncd" + EMOJI


def test_cursor_and_language_are_kept() -> None:
    r = room()
    cursor = {"type": "cursor", "version": 0, "selections": [{"anchor": 1, "head": 2}]}
    assert r.receive(parse_stream_message(cursor, Settings()), 0.0) == Received(Outcome.APPLIED)  # type: ignore[arg-type]
    assert r.cursor is cursor
    assert r.receive(full(0, "", "python"), 0.0).outcome is Outcome.APPLIED
    assert r.language == "python"
    assert r.receive(full(1, "x"), 0.0).outcome is Outcome.APPLIED  # no language: the old one stays
    assert r.language == "python"


# --- asking the writer for sync ---------------------------------------------------------


def test_held_without_a_base_asks_at_once_then_at_most_once_per_timeout() -> None:
    r = room(gap_timeout=1.0)
    assert r.receive(insert(5, 0, "x"), 10.0) == Received(Outcome.HELD, True)
    assert r.sync_asked_at == 10.0
    assert r.receive(insert(6, 0, "x"), 10.5) == Received(Outcome.HELD, False)
    assert r.receive(insert(7, 0, "x"), 11.0) == Received(Outcome.HELD, True)
    assert r.sync_asked_at == 11.0


def test_gap_with_a_base_asks_only_once_it_is_older_than_the_timeout() -> None:
    r = room(gap_timeout=1.0)
    r.receive(insert(1, 0, "a"), 0.0)
    assert r.receive(insert(3, 0, "c"), 5.0) == Received(Outcome.HELD, False)
    assert r.receive(insert(4, 0, "d"), 5.9) == Received(Outcome.HELD, False)
    assert r.receive(insert(5, 0, "e"), 6.0) == Received(Outcome.HELD, True)  # gap of exactly 1 s
    assert r.receive(insert(6, 0, "f"), 6.5) == Received(Outcome.HELD, False)  # asked 0.5 s ago
    assert r.receive(insert(7, 0, "g"), 7.0) == Received(Outcome.HELD, True)


def test_gap_timeout_comes_from_the_room() -> None:
    r = room(gap_timeout=0.25)
    r.receive(insert(1, 0, "a"), 0.0)
    assert r.receive(insert(3, 0, "c"), 1.0).ask_writer_for_sync is False
    assert r.receive(insert(4, 0, "d"), 1.25).ask_writer_for_sync is True


def test_too_many_held_deltas_drops_them_and_asks_at_once() -> None:
    r = room(max_held=2)
    r.receive(insert(1, 0, "a"), 0.0)
    assert r.receive(insert(3, 0, "c"), 0.0) == Received(Outcome.HELD, False)
    assert r.receive(insert(4, 0, "d"), 0.0) == Received(Outcome.HELD, False)
    assert r.receive(insert(5, 0, "e"), 0.0) == Received(Outcome.HELD, True)
    assert state(r) == ("a", 1, [])
    assert r.tracker.gap_since is None
    r.receive(insert(6, 0, "f"), 0.1)
    assert r.receive(insert(7, 0, "g"), 0.1) == Received(Outcome.HELD, False)
    assert r.receive(insert(8, 0, "h"), 0.1) == Received(Outcome.HELD, True)  # forced, though just asked


def test_full_clears_the_ask_timer() -> None:
    r = room()
    r.receive(insert(5, 0, "x"), 10.0)
    r.receive(full(5, "hello"), 10.1)
    assert r.sync_asked_at is None
    assert state(r) == ("hello", 5, [])
    assert r.receive(insert(8, 0, "x"), 10.2).ask_writer_for_sync is False  # a base now, young gap


def test_applied_and_duplicate_never_ask() -> None:
    r = room(gap_timeout=0.001)
    r.receive(insert(1, 0, "a"), 0.0)
    r.receive(insert(3, 0, "c"), 0.0)
    assert r.receive(insert(1, 0, "a"), 100.0) == Received(Outcome.DUPLICATE, False)
    assert r.receive(insert(2, 1, "b"), 100.0) == Received(Outcome.APPLIED, False)


# --- refusals ---------------------------------------------------------------------------


def refused(r: Room, message: WriterMessage, code: str) -> ProtocolError:
    before = (r.document.text(), r.tracker.version, r.tracker.numbering, r.language, r.cursor)
    with pytest.raises(ProtocolError) as caught:
        r.receive(message, 1.0)
    assert caught.value.code == code
    assert (r.document.text(), r.tracker.version, r.tracker.numbering, r.language, r.cursor) == before
    return caught.value


def test_delta_that_does_not_fit_is_refused_and_changes_nothing() -> None:
    r = room()
    r.receive(insert(1, 0, "abc"), 0.0)
    r.receive(insert(3, 0, "later"), 0.0)
    error = refused(r, insert(2, 9, "x"), "bad_request")
    assert error.message == "change at 9+0 is past the end (3)"
    assert r.tracker.held == {}  # what waited was built on the writer's other text
    assert r.document.text() == "abc"


def test_lone_surrogate_and_split_pair_are_refused() -> None:
    r = room()
    r.receive(insert(1, 0, EMOJI), 0.0)
    refused(r, insert(2, 0, "\ud83d"), "bad_request")
    refused(r, insert(2, 1, "x"), "bad_request")
    assert state(r) == (EMOJI, 1, [])


def test_refused_held_delta_leaves_the_text_of_the_last_good_one() -> None:
    r = room()
    r.receive(insert(1, 0, "a"), 0.0)
    r.receive(insert(3, 99, "bad"), 0.0)
    with pytest.raises(ProtocolError):
        r.receive(insert(2, 1, "b"), 0.0)
    assert state(r) == ("ab", 2, [])  # 2 applied, then 3 did not fit


def test_document_limit_is_too_large() -> None:
    r = room(max_units=4)
    r.receive(insert(1, 0, "ab"), 0.0)
    error = refused(r, insert(2, 2, EMOJI + "x"), "too_large")
    assert error.message == "document of 5 UTF-16 units exceeds the limit of 4"
    refused(r, full(5, "abcde", "go"), "too_large")
    assert state(r) == ("ab", 1, [])
    r.receive(insert(2, 2, EMOJI), 0.0)
    assert r.document.text() == "ab" + EMOJI


def test_full_with_lone_surrogate_is_refused() -> None:
    r = room()
    r.receive(insert(1, 0, "ok"), 0.0)
    refused(r, full(3, "bad\udc00"), "bad_request")


def test_full_whose_held_delta_does_not_fit_still_stands() -> None:
    r = room()
    r.receive(insert(1, 0, "a"), 0.0)
    r.receive(insert(4, 50, "x"), 0.0)  # will not fit the full below
    assert r.receive(full(3, "abc"), 0.0) == Received(Outcome.APPLIED)
    assert state(r) == ("abc", 3, [])


def test_refused_first_delta_leaves_the_room_without_a_base() -> None:
    r = room()
    refused(r, insert(1, 0, "\udc00"), "bad_request")
    assert (r.tracker.version, r.tracker.numbering, r.tracker.has_base()) == (None, None, False)
    assert r.as_full() == {"type": "full", "version": 0, "content": ""}


# --- writers, idleness ------------------------------------------------------------------


def test_take_over_leaves_one_writer() -> None:
    r = room()
    r.add("w1", "writer")
    r.add("w2", "writer")
    r.add("v", "viewer")
    assert r.take_over("w3") == ["w1", "w2"]
    assert r.take_over("w3") == []
    assert (r.writers, r.viewers) == (set(), {"v"})
    r.add("w3", "writer")
    assert r.take_over("w3") == []
    assert r.writers == {"w3"}


def test_is_idle_needs_no_members_no_recent_activity_and_nothing_ever_written() -> None:
    r = room()
    r.last_active = 100.0
    assert not r.is_idle(159.0, 60.0)
    assert r.is_idle(160.0, 60.0)
    r.add("v", "viewer")
    assert not r.is_idle(1000.0, 60.0)
    r.remove("v")
    r.receive(insert(1, 0, "x"), 100.0)
    assert not r.is_idle(10_000.0, 60.0)  # a stream lives its lifetime, not an idle timeout
