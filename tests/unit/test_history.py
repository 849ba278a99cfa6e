"""shared/history.py: what a room accepted, as entries; text at a version; pages; sampling; checkpoints."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from shared.document import utf16_length
from shared.history import (
    EMPTY,
    CheckpointPolicy,
    Entry,
    HistoryError,
    Recorder,
    Sampler,
    Snapshot,
    decode_message,
    encode_message,
    entry_of,
    page,
    text_at,
)
from shared.history_store import MemoryHistoryStore
from shared.protocol import ProtocolError, WriterMessage, parse_stream_message
from shared.room import Room, new_room
from shared.settings import Settings

ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
SETTINGS = Settings()


def parse(data: dict[str, Any]) -> WriterMessage:
    message = parse_stream_message(data, SETTINGS)
    assert not hasattr(message, "data")
    return message  # type: ignore[return-value]


def insert(version: int, offset: int, text: str, length: int = 0) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text, "range": {"startLineNumber": 1}}
    return {"type": "delta", "version": version, "changes": [{"changes": [change], "eol": "\n", "versionId": 9}]}


def full(version: int, content: str, language: str | None = None, numbering: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "full", "version": version, "content": content}
    if language:
        data["language"] = language
    if numbering:
        data["numbering"] = numbering
    return data


def cursor(version: int, anchor: int) -> dict[str, Any]:
    return {"type": "cursor", "version": version, "selections": [{"anchor": anchor, "head": anchor, "x": 1}]}


def receive(room: Room, data: dict[str, Any], now: float = 1.0) -> list[tuple[int, str]]:
    room.receive(parse(data), now)
    return [(a.version, type(a.message).__name__) for a in room.accepted]


# --- Room.accepted ------------------------------------------------------------------------


def test_room_lists_each_delta_it_applies_with_its_native_version() -> None:
    room = new_room(ROOM, SETTINGS)
    assert receive(room, insert(1, 0, "a")) == [(1, "Delta")]
    assert receive(room, insert(3, 2, "c")) == []  # held: not accepted yet
    assert receive(room, insert(2, 1, "b")) == [(2, "Delta"), (3, "Delta")]  # the drain counts
    assert receive(room, insert(2, 1, "b")) == []  # a duplicate
    assert room.document.text() == "abc"


def test_tutorial_deltas_get_native_versions() -> None:
    room = new_room(ROOM, SETTINGS)
    assert receive(room, insert(0, 0, "a")) == [(1, "Delta")]
    assert receive(room, insert(1, 1, "b")) == [(2, "Delta")]


def test_a_full_and_the_held_deltas_it_lets_apply() -> None:
    room = new_room(ROOM, SETTINGS)
    receive(room, insert(6, 2, "!"))  # held
    assert receive(room, full(5, "hi", numbering="native")) == [(5, "Full"), (6, "Delta")]
    assert room.document.text() == "hi!"
    assert receive(room, full(2, "old")) == []  # stale


def test_cursor_and_language_come_with_the_texts_version() -> None:
    room = new_room(ROOM, SETTINGS)
    assert receive(room, cursor(0, 0)) == [(0, "Cursor")]
    receive(room, insert(1, 0, "a"))
    assert receive(room, {"type": "language", "language": "python"}) == [(1, "Language")]


def test_what_applied_before_a_refusal_stays_accepted() -> None:
    room = new_room(ROOM, SETTINGS)
    receive(room, insert(1, 0, "a"))
    receive(room, insert(3, 99, "x"))  # held; will not fit
    with pytest.raises(ProtocolError):
        room.receive(parse(insert(2, 1, "b")), 1.0)
    assert [(a.version, type(a.message).__name__) for a in room.accepted] == [(2, "Delta")]
    assert room.document.text() == "ab" and room.tracker.version == 2


def test_a_refused_delta_is_not_accepted() -> None:
    room = new_room(ROOM, SETTINGS)
    with pytest.raises(ProtocolError):
        room.receive(parse(insert(1, 5, "a")), 1.0)
    assert room.accepted == []


# --- entries and their stored form ----------------------------------------------------------


def accepted_entries(room: Room, data: dict[str, Any], at: float = 2.0) -> list[Entry]:
    room.receive(parse(data), at)
    return [entry_of(a, at) for a in room.accepted]


def test_entries_are_canonical_stream_messages() -> None:
    room = new_room(ROOM, SETTINGS)
    (delta,) = accepted_entries(room, insert(0, 0, "😀"))  # tutorial numbering
    assert delta == Entry(1, 2.0, entry_of_delta(1, 0, "😀"))
    (moved,) = accepted_entries(room, cursor(1, 2))
    assert moved.message == {"type": "cursor", "version": 1, "selections": [{"anchor": 2, "head": 2}]}
    (whole,) = accepted_entries(room, full(1, "x", "rust"))
    assert whole.message == {"type": "full", "version": 1, "content": "x", "language": "rust", "numbering": "native"}
    (language,) = accepted_entries(room, {"type": "language", "language": "go"})
    assert language.message == {"type": "language", "language": "go"}
    for entry in (delta, moved, whole, language):
        assert parse_stream_message(dict(entry.message), SETTINGS) is not None  # the protocol's own shape
        assert decode_message(entry.version, encode_message(entry.message)) == entry.message


def test_the_stored_form_is_compact() -> None:
    message = entry_of_delta(1, 10, "a")
    assert encode_message(message) == '["d",[[[10,0,"a"]]]]'


def entry_of_delta(version: int, offset: int, text: str, length: int = 0) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


@pytest.mark.parametrize(
    "message",
    [{"type": "sync"}, {"type": "delta"}, {"type": "full", "content": "\ud800"}, {"type": "cursor", "selections": 3}],
)
def test_malformed_messages_are_refused(message: dict[str, Any]) -> None:
    with pytest.raises(HistoryError):
        encode_message(message)


@pytest.mark.parametrize("raw", ["", "[]", '["x", 1]', '["d", 5]', '["c", [[1]]]', "{"])
def test_damaged_stored_entries_are_refused(raw: str) -> None:
    with pytest.raises(HistoryError):
        decode_message(1, raw)


# --- text at a version ----------------------------------------------------------------------


def typed(text: str, start: int = 1, at: float = 100.0, length: int = 0) -> list[Entry]:
    """One entry per character, each typed at the end of `length` units: versions start, start + 1, ..."""
    entries = []
    for i, char in enumerate(text):
        entries.append(Entry(start + i, at + i, entry_of_delta(start + i, length, char)))
        length += utf16_length(char)
    return entries


def test_text_at_each_version() -> None:
    entries = typed("a😀\r\nb")
    assert text_at(EMPTY, entries, 0) == EMPTY
    assert text_at(EMPTY, entries, 2) == Snapshot(2, 101.0, "a😀", None)
    assert text_at(EMPTY, entries, None) == Snapshot(5, 104.0, "a😀\r\nb", None)
    assert text_at(EMPTY, entries, 99).version == 5


def test_text_at_starts_from_the_checkpoint() -> None:
    base = Snapshot(3, 50.0, "xyz", "python")
    later = typed("!", start=4, length=3)
    assert text_at(base, later, 3) == base
    assert text_at(base, later, 4) == Snapshot(4, 100.0, "xyz!", "python")


def test_fulls_and_languages_along_the_way() -> None:
    entries = [
        *typed("ab"),
        Entry(2, 103.0, {"type": "language", "language": "go"}),
        Entry(7, 104.0, {"type": "full", "version": 7, "content": "new", "numbering": "native"}),
        Entry(8, 105.0, {"type": "full", "version": 8, "content": "newer", "language": "c"}),
    ]
    assert text_at(EMPTY, entries, 2) == Snapshot(2, 101.0, "ab", "go")
    assert text_at(EMPTY, entries, 5) == Snapshot(2, 101.0, "ab", "go")  # skipped by the full: the text before
    assert text_at(EMPTY, entries, 7) == Snapshot(7, 104.0, "new", "go")
    assert text_at(EMPTY, entries, 8) == Snapshot(8, 105.0, "newer", "c")


def test_cursors_do_not_change_the_text() -> None:
    entries = [*typed("a"), Entry(1, 500.0, {"type": "cursor", "version": 1, "selections": []})]
    assert text_at(EMPTY, entries, 1) == Snapshot(1, 100.0, "a", None)


def test_a_delta_that_does_not_apply_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="version 1"):
        text_at(EMPTY, [Entry(1, 1.0, entry_of_delta(1, 5, "x"))], 1)


# --- pages ----------------------------------------------------------------------------------


def cursors(version: int, count: int) -> list[Entry]:
    return [Entry(version, float(i), {"type": "cursor", "version": version, "selections": []}) for i in range(count)]


def versions(found: list[Entry]) -> list[int]:
    return [e.version for e in found]


def test_pages_in_order() -> None:
    entries = typed("abcde")
    first = page(entries, None, 2)
    assert versions(first.entries) == [1, 2] and first.next_after == 2
    second = page(entries, first.next_after, 2)
    assert versions(second.entries) == [3, 4] and second.next_after == 4
    last = page(entries, second.next_after, 2)
    assert versions(last.entries) == [5] and last.next_after is None
    assert page(entries, 5, 2).entries == [] and page(entries, 5, 2).next_after is None


def test_a_page_never_splits_a_version() -> None:
    entries = [*typed("a"), *cursors(1, 2), *typed("b", start=2), *cursors(2, 3), *typed("c", start=3)]
    first = page(entries, None, 4)  # 1, 1, 1, 2 | 2, 2, 2: ends before version 2
    assert versions(first.entries) == [1, 1, 1] and first.next_after == 1
    big = page(entries, 1, 2)  # version 2 holds 4 entries: the whole group
    assert versions(big.entries) == [2, 2, 2, 2] and big.next_after == 2
    assert versions(page(entries, 2, 2).entries) == [3]


def test_a_page_holds_one_entry_at_least() -> None:
    with pytest.raises(HistoryError):
        page([], None, 0)


# --- sampling -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def at_cursor(at: float, version: int = 1) -> Entry:
    return Entry(version, at, {"type": "cursor", "version": version, "selections": [{"anchor": int(at), "head": 0}]})


def test_cursors_at_most_four_a_second_and_the_last_before_a_text_change() -> None:
    clock = Clock()
    sampler = Sampler(clock)
    kept = []
    for step in range(20):  # 20 moves in one second
        clock.now = step / 20
        kept += sampler.admit(at_cursor(clock.now))
    assert len(kept) == 4
    assert all(b.at - a.at >= 0.25 - 1e-9 for a, b in itertools.pairwise(kept))
    delta = typed("x", start=2)[0]
    before_text = sampler.admit(delta)
    assert before_text == [at_cursor(0.95), delta]  # the last move, then the text change


def test_typing_keeps_about_four_cursors_a_second() -> None:
    clock = Clock()
    sampler = Sampler(clock)
    kept = []
    for key in range(1, 41):  # two seconds at 20 keys a second, a cursor after each key
        clock.now = key / 20
        kept += sampler.admit(typed("x", start=key, length=key - 1)[0])
        kept += sampler.admit(at_cursor(clock.now + 0.001, version=key))
    moves = [e for e in kept if e.message["type"] == "cursor"]
    assert len(kept) - len(moves) == 40
    assert 7 <= len(moves) <= 9, [e.at for e in moves]
    assert [e.version for e in kept] == sorted(e.version for e in kept)


def test_a_waiting_cursor_is_kept_when_its_turn_comes() -> None:
    clock = Clock()
    sampler = Sampler(clock)
    assert sampler.admit(at_cursor(0.0)) == [at_cursor(0.0)]
    assert sampler.admit(at_cursor(0.1)) == []
    assert sampler.due() == []
    clock.now = 0.3
    assert sampler.due() == [at_cursor(0.1)]
    assert sampler.due() == []


def test_extras_between_text_changes_are_capped_keeping_the_last_of_each_kind() -> None:
    clock = Clock()
    sampler = Sampler(clock, max_extras=3)
    kept = []
    for step in range(10):
        clock.now = float(step)
        language = Entry(1, clock.now + 0.5, {"type": "language", "language": f"l{step}"})
        kept += sampler.admit(at_cursor(clock.now)) + sampler.admit(language)
    assert len(kept) == 3
    delta = typed("x", start=2)[0]
    flushed = sampler.admit(delta)
    assert [e.message["type"] for e in flushed] == ["cursor", "language", "delta"]
    assert flushed[0] == at_cursor(9.0) and flushed[1].message["language"] == "l9"
    clock.now = 20.0
    assert sampler.admit(at_cursor(20.0, version=2)) == [at_cursor(20.0, version=2)]  # the cap counts per text change


# --- recording and checkpoints --------------------------------------------------------------


def record(recorder: Recorder, room: Room, data: dict[str, Any], at: float) -> tuple[list[Entry], Snapshot | None]:
    try:
        room.receive(parse(data), at)
    finally:
        recording = recorder.take(room, at)
    return recording.entries, recording.checkpoint


def test_checkpoints_on_the_first_change_then_every_n_deltas() -> None:
    room, recorder = (
        new_room(ROOM, SETTINGS),
        Recorder(CheckpointPolicy(every_deltas=3, every_units=10**6, every_work=10**9)),
    )
    checkpoints = []
    for version in range(1, 8):
        _, snapshot = record(recorder, room, insert(version, version - 1, "a"), float(version))
        checkpoints.append(None if snapshot is None else snapshot.version)
    assert checkpoints == [1, None, None, 4, None, None, 7]
    _, snapshot = record(recorder, room, cursor(7, 0), 9.0)
    assert snapshot is None


def test_checkpoints_after_m_units_of_change() -> None:
    room, recorder = (
        new_room(ROOM, SETTINGS),
        Recorder(CheckpointPolicy(every_deltas=100, every_units=10, every_work=10**9)),
    )
    record(recorder, room, insert(1, 0, "a"), 1.0)
    _, small = record(recorder, room, insert(2, 1, "bcd"), 2.0)
    _, big = record(recorder, room, insert(3, 4, "😀" * 4), 3.0)  # 8 units: 11 since the last
    assert small is None
    assert big == Snapshot(3, 3.0, "abcd" + "😀" * 4, None)


def test_checkpoints_sooner_the_longer_the_text() -> None:
    room, recorder = (
        new_room(ROOM, SETTINGS),
        Recorder(CheckpointPolicy(every_deltas=100, every_units=10**6, every_work=40)),
    )
    record(recorder, room, full(0, "x" * 10, numbering="native"), 1.0)  # the first checkpoint
    kept = []
    for version in range(1, 6):
        _, snapshot = record(recorder, room, insert(version, 0, "a"), float(version))
        kept.append(None if snapshot is None else snapshot.version)
    assert kept == [None, None, None, 4, None]  # 3 deltas on 13 units: 39 < 40; 4 on 14: 56


def test_the_checkpoint_is_the_rooms_text_and_language() -> None:
    room, recorder = new_room(ROOM, SETTINGS), Recorder()
    entries, snapshot = record(recorder, room, full(4, "hello", "python", "native"), 7.0)
    assert [e.version for e in entries] == [4]
    assert snapshot == Snapshot(4, 7.0, "hello", "python")


# --- the in-memory store --------------------------------------------------------------------


async def test_memory_store_reads_from_the_nearest_checkpoint() -> None:
    store = MemoryHistoryStore()
    entries = typed("abcdef")
    await store.append(ROOM, entries[:3])
    # A checkpoint whose text is not what replaying gives: reads after it must start there.
    await store.checkpoint(ROOM, Snapshot(3, 102.0, "XYZ", "go"))
    await store.append(ROOM, entries[3:])
    assert (await store.read_text(ROOM, 2)) == Snapshot(2, 101.0, "ab", None)
    assert (await store.read_text(ROOM, 3)) == Snapshot(3, 102.0, "XYZ", "go")
    assert (await store.read_text(ROOM, 4)) == Snapshot(4, 103.0, "XYZd", "go")
    assert (await store.read_text(ROOM)) == Snapshot(6, 105.0, "XYZdef", "go")


async def test_memory_store_refuses_going_back_and_keeps_nothing_of_it() -> None:
    store = MemoryHistoryStore()
    await store.append(ROOM, typed("ab"))
    with pytest.raises(HistoryError):
        await store.append(ROOM, [*typed("c", start=3, length=2), *typed("z", start=1)])
    with pytest.raises(HistoryError):
        await store.checkpoint(ROOM, Snapshot(1, 0.0, "a", None))
    with pytest.raises(HistoryError):
        await store.append(ROOM, [Entry(3, float("nan"), entry_of_delta(3, 2, "c"))])
    assert (await store.read_text(ROOM)) == Snapshot(2, 101.0, "ab", None)


async def test_memory_store_unknown_and_deleted_rooms() -> None:
    store = MemoryHistoryStore()
    assert await store.read_text(ROOM) is None
    assert await store.read_page(ROOM, None, 10) is None
    await store.append(ROOM, typed("a"))
    page_one = await store.read_page(ROOM, None, 10)
    assert page_one is not None and versions(page_one.entries) == [1]
    await store.delete_history(ROOM)
    assert await store.read_text(ROOM) is None
    await store.delete_history(ROOM)  # nothing to forget: no error
