"""Histories in Redis: the in-memory store's semantics exactly, and one history shared by processes.

The first tests run on both `MemoryHistoryStore` (the reference) and `RedisRoomStore`; the rest
use two Redis stores on one redis-server, each with its own connection pool and `Recorder`,
as two `python -m selfhost --redis-url` processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from selfhost import redis_history
from selfhost.redis_store import RedisRoomStore
from shared.capabilities import new_room_id
from shared.document import utf16_length
from shared.history import Entry, HistoryError, Recorder, Snapshot
from shared.history_store import HistoryStore, MemoryHistoryStore
from shared.protocol import parse_stream_message
from shared.room_operations import Create, Receive
from shared.settings import Settings

SETTINGS = Settings()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def delta(version: int, offset: int, text: str, length: int = 0) -> dict[str, Any]:
    change = {"rangeOffset": offset, "rangeLength": length, "text": text}
    return {"type": "delta", "version": version, "changes": [{"changes": [change]}]}


def cursor(version: int, anchor: int) -> dict[str, Any]:
    return {"type": "cursor", "version": version, "selections": [{"anchor": anchor, "head": anchor}]}


def typed(text: str, start: int = 1, at: float = 100.0, length: int = 0) -> list[Entry]:
    """One entry per character, each typed at the end: versions start, start + 1, ..."""
    entries = []
    for i, char in enumerate(text):
        entries.append(Entry(start + i, at + i, delta(start + i, length, char)))
        length += utf16_length(char)
    return entries


def versions(entries: list[Entry]) -> list[int]:
    return [e.version for e in entries]


async def all_pages(store: HistoryStore, room_id: str, limit: int) -> list[list[Entry]]:
    pages, after = [], None
    while True:
        found = await store.read_page(room_id, after, limit)
        assert found is not None
        pages.append(found.entries)
        if found.next_after is None:
            return pages
        after = found.next_after


@pytest.fixture(params=["memory", "redis"])
async def history(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[HistoryStore]:
    if request.param == "memory":
        yield MemoryHistoryStore()
        return
    store = RedisRoomStore.from_url(redis_url, SETTINGS)
    yield store
    await store.close()


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[RedisRoomStore]]:
    clock = Clock()
    pair = [RedisRoomStore.from_url(redis_url, SETTINGS, Recorder(clock=clock)) for _ in range(2)]
    for store in pair:
        store.clock = clock  # type: ignore[attr-defined]  # the tests move time on
    yield pair
    for store in pair:
        await store.close()


# --- the HistoryStore semantics, on both stores ---------------------------------------------


async def test_reads_start_from_the_nearest_checkpoint(history: HistoryStore) -> None:
    room, entries = new_room_id(), typed("abcdef")
    await history.append(room, entries[:3])
    # A checkpoint whose text is not what replaying gives: reads after it must start there.
    await history.checkpoint(room, Snapshot(3, 102.0, "XYZ", "go"))
    await history.append(room, entries[3:])
    assert await history.read_text(room, 0) == Snapshot(0, 0.0, "", None)
    assert await history.read_text(room, 2) == Snapshot(2, 101.0, "ab", None)
    assert await history.read_text(room, 3) == Snapshot(3, 102.0, "XYZ", "go")
    assert await history.read_text(room, 4) == Snapshot(4, 103.0, "XYZd", "go")
    assert await history.read_text(room) == Snapshot(6, 105.0, "XYZdef", "go")
    assert await history.read_text(room, 99) == Snapshot(6, 105.0, "XYZdef", "go")


async def test_the_latest_of_checkpoints_at_one_version_counts_and_entries_after_it(history: HistoryStore) -> None:
    room = new_room_id()
    await history.checkpoint(room, Snapshot(0, 1.0, "", None))  # a checkpoint alone makes a history
    assert await history.read_page(room, None, 5) == redis_history.Page([], None)
    await history.append(room, typed("ab"))
    await history.checkpoint(room, Snapshot(2, 2.0, "first", None))
    await history.checkpoint(room, Snapshot(2, 3.0, "second", "c"))
    await history.append(room, [Entry(2, 4.0, {"type": "language", "language": "rust"}), *typed("!", 3, 5.0, 6)])
    assert await history.read_text(room, 2) == Snapshot(2, 3.0, "second", "rust")
    assert await history.read_text(room) == Snapshot(3, 5.0, "second!", "rust")
    await history.checkpoint(room, Snapshot(9, 6.0, "far", None))  # past the last entry (a full jumped)
    assert await history.read_text(room, 8) == Snapshot(3, 5.0, "second!", "rust")
    assert await history.read_text(room) == Snapshot(9, 6.0, "far", None)


async def test_going_back_is_refused_and_nothing_of_it_kept(history: HistoryStore) -> None:
    room = new_room_id()
    await history.append(room, typed("ab"))
    with pytest.raises(HistoryError):
        await history.append(room, [*typed("c", start=3, length=2), *typed("z", start=1)])
    with pytest.raises(HistoryError):
        await history.checkpoint(room, Snapshot(1, 0.0, "a", None))
    with pytest.raises(HistoryError):
        await history.append(room, [Entry(3, float("nan"), delta(3, 2, "c"))])
    with pytest.raises(HistoryError):
        await history.append(room, [Entry(3, 1.0, {"type": "delta", "version": 3})])
    with pytest.raises(HistoryError):
        await history.checkpoint(room, Snapshot(5, 1.0, "\ud800", None))
    assert await history.read_text(room) == Snapshot(2, 101.0, "ab", None)
    await history.checkpoint(room, Snapshot(4, 1.0, "abcd", None))
    with pytest.raises(HistoryError):  # a checkpoint's version counts as the last one too
        await history.append(room, typed("c", start=3, length=2))
    found = await history.read_page(room, None, 10)
    assert found is not None and versions(found.entries) == [1, 2]


async def test_unknown_and_deleted_histories(history: HistoryStore) -> None:
    room = new_room_id()
    assert await history.read_text(room) is None
    assert await history.read_page(room, None, 10) is None
    await history.append(room, [])  # nothing appended: still no history
    assert await history.read_text(room) is None
    await history.append(room, typed("a😀"))
    await history.checkpoint(room, Snapshot(2, 101.0, "a😀", None))
    await history.delete_history(room)
    assert await history.read_text(room) is None
    assert await history.read_page(room, None, 10) is None
    await history.delete_history(room)  # nothing to forget: no error
    await history.append(room, typed("z", start=1))  # a new history starts from nothing
    assert await history.read_text(room) == Snapshot(1, 100.0, "z", None)


async def test_pages_never_split_a_version(history: HistoryStore) -> None:
    room = new_room_id()
    cursors = [Entry(2, 200.0 + i, cursor(2, i)) for i in range(5)]
    entries = [*typed("ab"), *cursors, *typed("c", start=3, length=2), *typed("d", start=4, length=3)]
    await history.append(room, entries)
    pages = await all_pages(history, room, 3)
    assert [versions(p) for p in pages] == [[1], [2, 2, 2, 2, 2, 2], [3, 4]]  # v2 alone fills a page: all of it
    assert [e for p in pages for e in p] == entries
    assert [versions(p) for p in await all_pages(history, room, 100)] == [versions(entries)]
    assert (await history.read_page(room, -7, 100)) == await history.read_page(room, None, 100)
    assert await history.read_text(room, -1) == Snapshot(0, 0.0, "", None)
    found = await history.read_page(room, 4, 3)
    assert found is not None and found.entries == [] and found.next_after is None
    with pytest.raises(HistoryError):
        await history.read_page(room, None, 0)


# --- Redis: rooms record in `apply`, one history for every process ----------------------------


async def test_apply_records_in_the_same_step_as_the_room(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))
    for version, char in enumerate("hi😀", start=1):
        message = parse_stream_message(delta(version, version - 1, char), SETTINGS)
        await a.apply(room, Receive(message, 10.0 + version))
    # B, another process, reads what A recorded: a checkpoint at A's first text change, then deltas.
    assert await b.read_text(room) == Snapshot(3, 13.0, "hi😀", None)
    assert await b.read_text(room, 1) == Snapshot(1, 11.0, "h", None)
    assert (await b.redis.zcard(redis_history.keys(room)[1])) == 1


async def test_two_processes_write_one_room_and_its_history_agrees(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))

    async def write(version: int) -> None:
        store = a if version % 2 else b
        message = parse_stream_message(delta(version, version - 1, "x"), SETTINGS)
        await store.apply(room, Receive(message, float(version)))

    # Versions sent out of order from both processes: held deltas apply in order, each recorded once.
    await asyncio.gather(*(write(v) for v in [2, 1, 4, 3, 6, 5, 8, 7, 10, 9]))
    text = await a.read(room, lambda r: r.document.text())
    assert text == "x" * 10
    found = await b.read_page(room, None, 100)
    assert found is not None and versions(found.entries) == list(range(1, 11))
    for version in range(11):
        snapshot = await b.read_text(room, version)
        assert snapshot is not None and snapshot.content == "x" * version


async def test_a_cursor_the_room_moved_past_elsewhere_is_dropped(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))
    await a.apply(room, Receive(parse_stream_message(delta(1, 0, "a"), SETTINGS), 1.0))
    await a.apply(room, Receive(parse_stream_message(cursor(1, 1), SETTINGS), 1.0))  # kept: its first
    await a.apply(room, Receive(parse_stream_message(cursor(1, 0), SETTINGS), 1.0))  # waits in A's sampler
    await b.apply(room, Receive(parse_stream_message(delta(2, 1, "b"), SETTINGS), 2.0))  # the writer moved to B
    a.clock.now += 1  # type: ignore[attr-defined]
    await a.record_due()  # A's waiting cursor is at version 1, the history at 2: not appended
    await a.apply(room, Receive(parse_stream_message(delta(3, 2, "c"), SETTINGS), 3.0))
    found = await a.read_page(room, None, 100)
    assert found is not None
    assert [(e.version, e.message["type"]) for e in found.entries] == [
        (1, "delta"),
        (1, "cursor"),
        (2, "delta"),
        (3, "delta"),
    ]
    assert await a.read_text(room) == Snapshot(3, 3.0, "abc", None)


async def test_record_due_appends_the_waiting_cursor_once(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))
    await a.apply(room, Receive(parse_stream_message(cursor(0, 0), SETTINGS), 1.0))
    await a.apply(room, Receive(parse_stream_message(cursor(0, 5), SETTINGS), 1.1))  # too soon: waits
    await a.record_due()
    assert versions((await b.read_page(room, None, 10)).entries) == [0]  # type: ignore[union-attr]
    a.clock.now += 0.3  # type: ignore[attr-defined]
    await a.record_due()
    await a.record_due()
    found = await b.read_page(room, None, 10)
    assert found is not None and [e.message["selections"][0]["anchor"] for e in found.entries] == [0, 5]


async def test_record_due_adds_nothing_to_a_room_gone_meanwhile(stores: list[RedisRoomStore]) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))
    await a.apply(room, Receive(parse_stream_message(cursor(0, 0), SETTINGS), 1.0))
    await a.apply(room, Receive(parse_stream_message(cursor(0, 5), SETTINGS), 1.1))  # waits in A's sampler
    await b.redis.delete(f"codestream:room:{room}")  # stands for another process's Delete
    await b.delete_history(room)
    a.clock.now += 1  # type: ignore[attr-defined]
    await a.record_due()
    assert await b.read_text(room) is None
    assert room not in a.recorder.rooms()


async def test_a_change_whose_lock_expired_writes_neither_room_nor_history(
    stores: list[RedisRoomStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stores
    room = new_room_id()
    await a.apply(room, Create(0.0))
    await a.apply(room, Receive(parse_stream_message(delta(1, 0, "a"), SETTINGS), 1.0))
    real_lock = a._lock

    async def lock_then_lose_it(room_id: str, history: bool = False) -> Any:
        taken = await real_lock(room_id, history)
        await a.redis.set(f"codestream:lock:{room_id}", "someone else's")  # it expired; another took it
        return taken

    monkeypatch.setattr(a, "_lock", lock_then_lose_it)
    with pytest.raises(Exception, match="expired"):
        await a.apply(room, Receive(parse_stream_message(delta(2, 1, "b"), SETTINGS), 2.0))
    await b.redis.delete(f"codestream:lock:{room}")
    assert await b.read(room, lambda r: r.document.text()) == "a"
    assert await b.read_text(room) == Snapshot(1, 1.0, "a", None)
